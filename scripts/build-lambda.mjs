// Bundles the contact-flow Lambda into one file a Lambda (Node.js 20+ runtime) runs as is.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/lambda/handler.ts'],
  outfile: 'dist/lambda/index.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: false,
  sourcemap: false,
  logLevel: 'warning',
});
