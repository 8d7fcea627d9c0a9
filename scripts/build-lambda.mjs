// Bundles the contact-flow Lambda into one file the Lambda runtime runs as is: `nodejs24.x`, the
// runtime the README documents (nodejs20.x is deprecated). The suite runs this same script, with
// another output file as its argument, and loads the bundle on Node 20 and Node 24.
// The AWS SDK stays out of the bundle: the nodejs24.x runtime provides SDK v3, and the handler imports
// it (dynamically) only when RESOLVER_TOKEN_SECRET_ID is set, so the bundle loads where there is none.
import { build } from 'esbuild';
import process from 'node:process';

await build({
  entryPoints: ['src/lambda/handler.ts'],
  outfile: process.argv[2] ?? 'dist/lambda/index.mjs',
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  external: ['@aws-sdk/*'],
  minify: false,
  sourcemap: false,
  logLevel: 'warning',
});
