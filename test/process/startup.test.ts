import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get, type IncomingHttpHeaders } from 'node:http';
import { runScript, ServiceProcess } from '../support/process.js';
import { REPO_ROOT } from '../support/service.js';

/** Runs src/main.ts as `npm start` would run dist/src/main.js, and collects what it prints. */
const run = (env: Record<string, string>) => runScript('src/main.ts', [], env);

describe('start-up (the process)', () => {
  it('when NODE_ENV=production has no domain and no tokens, refuses to start naming both variables', async () => {
    const r = await run({ NODE_ENV: 'production' });

    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('CUSTOMER_PROFILES_DOMAIN').and.to.contain('AUTH_TOKENS');
    expect(r.stdout).to.not.contain('listening');
  });

  it('when a value is invalid, refuses to start naming the variable and what it accepts', async () => {
    const r = await run({ RESOLVE_DEADLINE_MS: 'soon', PORT: '0' });

    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/RESOLVE_DEADLINE_MS: expected an integer between 100 and 8000 \(got "soon"\)/);
  });

  it('when METRICS_PORT is PORT, refuses to start naming METRICS_PORT (one listener would put /metrics behind the load balancer)', async () => {
    const r = await run({ PORT: '8080', METRICS_PORT: '8080' });

    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/METRICS_PORT: must differ from PORT \(8080\)/);
    expect(r.stdout).to.not.contain('listening');
  });

  it('serves /metrics on METRICS_PORT only: the main port answers 404 for it, the metrics port nothing else; SIGTERM closes both', async () => {
    const service = await ServiceProcess.start({});
    let code: number | null;
    try {
      const onMain = await fetch(`${service.url}/metrics`);
      const onMetrics = await fetch(`${service.metricsUrl}/metrics`);
      const resolveOnMetrics = await fetch(`${service.metricsUrl}/v1/resolve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const healthOnMain = await fetch(`${service.url}/healthz`);

      expect(onMain.status).to.equal(404);
      expect(await onMain.text()).to.not.contain('cpr_');
      expect(onMetrics.status).to.equal(200);
      expect(onMetrics.headers.get('content-type')).to.match(/^text\/plain/);
      expect(await onMetrics.text()).to.match(/^# HELP cpr_http_requests_total /m);
      expect(resolveOnMetrics.status).to.equal(404);
      expect(healthOnMain.status).to.equal(200);
      expect(service.metricsUrl).to.not.equal(service.url);
    } finally {
      code = await service.stop();
    }

    expect(code).to.equal(0);
    const refused = await fetch(`${service.metricsUrl}/metrics`).then(() => false, () => true);
    expect(refused, 'the metrics listener is closed').to.equal(true);
  });

  it('when nothing is configured, starts on the embedded store, says so first, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', METRICS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    while (!stdout.includes('"listening"')) await once(child.stdout, 'data');
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];

    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: number });
    expect(lines[0]!.msg).to.match(/^EMBEDDED MODE/);
    expect(lines[0]!.level).to.equal(40);
    expect(code).to.equal(0);
  });

  it('keeps idle keep-alive connections 65 s, longer than a load balancer does (an ALB: 60 s), so it never closes one under the next request', async () => {
    const service = await ServiceProcess.start({});
    try {
      const agent = new Agent({ keepAlive: true });
      const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
        get(`${service.url}/healthz`, { agent }, (res) => {
          res.resume();
          resolve(res.headers);
        }).on('error', reject);
      });
      agent.destroy();
      expect(headers['keep-alive']).to.equal('timeout=65');
    } finally {
      await service.stop();
    }
  });
});

