import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FALLBACK } from '../../src/lambda/handler.js';
import { close, deadPort } from '../support/app.js';
import { captureServer } from '../support/capture-server.js';
import { eventFrom, loadFixture } from '../support/fixtures.js';
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
    expect(lines[1]!.answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'NOT_CONFIGURED' });
    expect(lines[0]).to.include({ fallbackReason: 'NOT_CONFIGURED' });
  });

  it('on every fallback, answers its fallbackReason and logs one JSON line saying why: the service\'s 400, a refused connection, a 502 HTML page, its own wait running out', async () => {
    const page = await captureServer({ page: { status: 502, contentType: 'text/html', body: '<html><h1>502 Bad Gateway</h1></html>' } });
    const hang = await captureServer({ hang: true });
    const cases = [
      { name: '400', url: service.url, remainingMs: 3000, event: eventFrom('voice-uk.json', { parameters: { matchMode: 'most' } }) },
      { name: 'refused', url: await deadPort(), remainingMs: 3000, event: loadFixture('voice-uk.json') },
      { name: '502', url: page.url, remainingMs: 3000, event: loadFixture('voice-uk.json') },
      { name: 'wait', url: hang.url, remainingMs: 600, event: loadFixture('voice-uk.json') },
    ];
    // one process; each case imports the bundle afresh (another URL), so that it reads its RESOLVER_URL
    const script = [
      'for (const [i, c] of JSON.parse(process.env.CASES).entries()) {',
      '  process.env.RESOLVER_URL = c.url;',
      `  const { handler } = await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)} + '?case=' + i);`,
      '  const answer = await handler(c.event, { getRemainingTimeInMillis: () => c.remainingMs });',
      '  console.log(JSON.stringify({ case: c.name, answer }));',
      '}',
    ].join('\n');
    const env = { PATH: process.env.PATH, RESOLVER_TOKEN: 'bundle-test-token-0123456789', CASES: JSON.stringify(cases) };

    try {
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env });

      // each case: its log lines, then its answer
      const byCase: Record<string, { answer: Record<string, string>; logs: Array<Record<string, unknown>> }> = {};
      let logs: Array<Record<string, unknown>> = [];
      for (const line of stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)) {
        if (typeof line.case !== 'string') logs.push(line);
        else {
          byCase[line.case] = { answer: line.answer as Record<string, string>, logs };
          logs = [];
        }
      }
      expect(Object.keys(byCase)).to.have.members(['400', 'refused', '502', 'wait']);
      const expected = {
        '400': { fallbackReason: 'INVALID_EVENT', status: 400, code: 'INVALID_EVENT', reason: 'Details.Parameters.matchMode: must be one of any, all' },
        refused: { fallbackReason: 'SERVICE_UNREACHABLE', errorCode: 'ECONNREFUSED' },
        '502': { fallbackReason: 'SERVICE_ERROR', status: 502 },
        wait: { fallbackReason: 'TIMEOUT' },
      };
      for (const [name, line] of Object.entries(expected)) {
        const { answer, logs: caseLogs } = byCase[name]!;
        expect(answer, name).to.deep.equal({ ...FALLBACK, fallbackReason: line.fallbackReason });
        expect(caseLogs, `${name}: one line`).to.have.lengthOf(1);
        expect(caseLogs[0], name).to.include({ level: 'error', msg: 'resolver fallback', contactId: 'a1f0c3d2-6e4b-4f7a-8c9d-0e1f2a3b4c5d', ...line });
      }
      expect(stdout).not.to.include('SyntaxError');
    } finally {
      await close(page.server);
      await close(hang.server);
    }
  });
});
