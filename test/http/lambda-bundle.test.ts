import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { loadFixture } from '../support/fixtures.js';
import { REPO_ROOT, startService, type RunningService } from '../support/service.js';

// The file `npm run build` ships, built by the same script (scripts/build-lambda.mjs) and loaded the way the
// Lambda runtime loads it.
describe('the built Lambda bundle', () => {
  let dir: string;
  let service: RunningService;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lambda-'));
    service = await startService({ AUTH_TOKENS: 'bundle-test-token-0123456789' });
  });
  after(async () => {
    await service.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is one self-contained ES module whose handler answers through the service', async () => {
    await promisify(execFile)(process.execPath, ['scripts/build-lambda.mjs', join(dir, 'index.mjs')], { cwd: REPO_ROOT });
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
});
