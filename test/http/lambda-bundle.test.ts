import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FALLBACK } from '../../src/lambda/handler.js';
import { loadFixture } from '../support/fixtures.js';
import { REPO_ROOT, startService, type RunningService } from '../support/service.js';

// The file `npm run build` ships, built by the same script (scripts/build-lambda.mjs) and loaded the way the
// Lambda runtime loads it.
describe('the built Lambda bundle', () => {
  let dir: string;
  let service: RunningService;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lambda-'));
    await promisify(execFile)(process.execPath, ['scripts/build-lambda.mjs', join(dir, 'index.mjs')], { cwd: REPO_ROOT });
    service = await startService({ AUTH_TOKENS: 'bundle-test-token-0123456789' });
  });
  after(async () => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is one self-contained ES module whose handler answers through the service', async () => {
    // where the bundle lies there is no AWS SDK, as in a runtime without one
    expect(() => createRequire(join(dir, 'index.mjs')).resolve('@aws-sdk/client-secrets-manager')).to.throw();
    process.env.RESOLVER_URL = service.url;
    process.env.RESOLVER_TOKEN = 'bundle-test-token-0123456789';
    try {
      const mod = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as {
        handler: (e: unknown, c: { getRemainingTimeInMillis(): number }) => Promise<Record<string, string>>;
      };
      const answer = await mod.handler(loadFixture('voice-uk.json'), { getRemainingTimeInMillis: () => 3000 });

      expect(answer).to.include({ customerStatus: 'KNOWN', firstName: 'Amelia', degraded: 'false' });
    } finally {
      delete process.env.RESOLVER_URL;
      delete process.env.RESOLVER_TOKEN;
    }
  });

  it('leaves the AWS SDK to the Lambda runtime: it imports the Secrets Manager client only when RESOLVER_TOKEN_SECRET_ID is read, and stays small', () => {
    const bundle = readFileSync(join(dir, 'index.mjs'), 'utf8');

    // one dynamic import (a static one would stop the bundle loading where there is no SDK), no SDK code
    expect(bundle.match(/@aws-sdk\//g)).to.have.lengthOf(1);
    expect(bundle).to.match(/\bimport\(\s*"@aws-sdk\/client-secrets-manager"\s*\)/);
    expect(Buffer.byteLength(bundle), 'bytes').to.be.below(32 * 1024);
  });

  it('with RESOLVER_TOKEN_SECRET_ID set where there is no AWS SDK, loads and answers FALLBACK with an error line', async () => {
    // a process of its own: the handler reads its environment when the module loads, and logs to stdout
    const script = [
      `const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});`,
      `const answer = await handler(${JSON.stringify(loadFixture('voice-uk.json'))}, { getRemainingTimeInMillis: () => 3000 });`,
      'console.log(JSON.stringify({ answer }));',
    ].join('\n');
    const env = { PATH: process.env.PATH, RESOLVER_URL: service.url, RESOLVER_TOKEN_SECRET_ID: 'connect-profile-resolver/lambda-token' };

    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env });

    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).to.have.lengthOf(2);
    expect(lines[0]).to.include({ level: 'error', secretId: 'connect-profile-resolver/lambda-token' });
    expect(String(lines[0]!.reason)).to.include('@aws-sdk/client-secrets-manager');
    expect(lines[1]!.answer).to.deep.equal(FALLBACK);
  });
});
