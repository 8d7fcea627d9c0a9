// npm run bench [-- options]: every scenario of bench/scenarios.ts, a markdown table, the targets' verdicts,
// bench/results/<time>.json; with --soak, the soak (bench/soak.ts). The options: bench/options.ts.
//
// In separate processes: the built service (node dist/src/main.js, NODE_ENV=production, LOG_LEVEL=info with
// its stdout to a file), a private redis-server (test/support/redis.ts), the HTTP fake of the AWS APIs
// (bench/fake-aws-server.ts), the floor (bench/floor.ts) and the naive peer (bench/naive-peer.ts). autocannon and
// the open-loop driver run in this process. bench/runner.ts runs the scenarios, bench/measure.ts measures each,
// bench/targets.ts judges them, bench/report.ts prints and writes the results.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { RedisServer } from '../test/support/redis.js';
import { associationTables } from './association.js';
import { QuietBudget } from './measure.js';
import { DEADLINE_MS, OUTAGE_CONNECTIONS, REPEAT_POOL, parseOptions } from './options.js';
import { ROOT, onInterrupt, runNode, type Child } from './procs.js';
import { fmt, tables, verdictLine, writeResults } from './report.js';
import { runScenarios } from './runner.js';
import { SERVERS, selectScenarios } from './scenarios.js';
import { PROFILE_MAPPING, calibrate, headersFor, newToken, profileMappingFile, serviceEnv, startFake, type Env } from './servers.js';
import { soak } from './soak.js';
import { surgeTables } from './surge.js';
import { verdicts } from './targets.js';
import { Callers, Events, FakeControl } from './traffic.js';

async function main(): Promise<number> {
  const opts = parseOptions();
  const scenarios = opts.soak ? [] : selectScenarios(opts.only);
  // this process uses the SDK once (calibrate); the children print their own warning to their logs
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  if (!existsSync(path.join(ROOT, 'dist/src/main.js'))) throw new Error('dist/src/main.js is missing: run `npm run build` first (npm run bench does)');
  const started = new Date();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'cpr-bench-'));
  let redis: RedisServer | undefined;
  let fakeChild: Child | undefined;
  let redisClient: Redis | undefined;
  const cleanup = async (): Promise<void> => {
    redisClient?.disconnect();
    await fakeChild?.stop(3000);
    await redis?.stop();
    if (!opts.keepLogs) rmSync(workDir, { recursive: true, force: true });
  };
  onInterrupt(cleanup);
  try {
    redis = await RedisServer.start();
    const fakeStart = await startFake(opts.latency);
    fakeChild = fakeStart.child;
    const fake = new FakeControl(fakeStart.url);
    const token = newToken();
    // the contact-record object type, made by the real command, so record writes succeed
    console.log(await runNode('setup-domain', ['dist/src/cli/setup-domain.js'], serviceEnv(fake.url, redis.url, token)));
    redisClient = redis.client();
    writeFileSync(profileMappingFile(workDir), JSON.stringify(PROFILE_MAPPING));
    const env: Env = { opts, redis, redisClient, fakeChild, fake, workDir, callers: new Callers(), events: new Events(), token, headers: headersFor(token), quiet: new QuietBudget(opts.quietWaitSeconds) };
    const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: os.totalmem() / 2 ** 30, node: process.version, platform: `${os.platform()} ${os.release()}` };
    const config = { connections: opts.connections, lowConnections: opts.lowConnections, outageConnections: OUTAGE_CONNECTIONS, warmupSeconds: opts.warmup, measuredSeconds: opts.seconds, fakeLatencyMs: opts.latency, resolveDeadlineMs: DEADLINE_MS, logLevel: 'info (stdout to a file)', nodeEnv: 'production', repeatPool: REPEAT_POOL };
    const stamp = started.toISOString().replace(/[:.]/g, '-');

    if (opts.soak) {
      const result = await soak(env);
      const file = writeResults(ROOT, `${stamp}-soak`, { startedAt: started.toISOString(), machine, config: { ...config, minutes: opts.minutes }, soak: result });
      console.log(`\nresults: ${file}`);
      return result.verdict.pass !== false || !opts.strict ? 0 : 1;
    }

    console.log(`benchmark: ${opts.connections} connections, ${opts.warmup} s warm-up + ~${opts.seconds} s measured per scenario, fake latency ${opts.latency} ms, ${machine.cpus} CPUs, Node ${process.version}`);
    const sdkCall = await calibrate(env);
    console.log(`one SearchProfiles through the AWS SDK to the fake (latency ${opts.latency} ms), alone: p50 ${fmt(sdkCall.p50)} ms, p90 ${fmt(sdkCall.p90)} ms`);
    const { rows, surge, association } = await runScenarios(env, scenarios);
    const checks = verdicts(rows, sdkCall, opts.latency, surge, association);
    // lines of each service's log (one a request at LOG_LEVEL=info)
    const logLines: Record<string, number> = {};
    for (const [name, spec] of Object.entries(SERVERS)) {
      const file = path.join(workDir, `service-${name}.log`);
      if (spec.kind === 'service' && existsSync(file)) logLines[name] = readFileSync(file, 'utf8').split('\n').length - 1;
    }
    const file = writeResults(ROOT, stamp, { startedAt: started.toISOString(), durationSeconds: (Date.now() - started.getTime()) / 1000, machine, config, sdkCallAlone: sdkCall, scenarios: rows, ...(association && { association }), ...(surge && { surge }), targets: checks, serviceLogLines: logLines });
    console.log('');
    if (rows.length > 0) console.log(`${tables(rows)}\n`);
    if (association) console.log(`${associationTables(association)}\n`);
    if (surge) console.log(`${surgeTables(surge)}\n`);
    for (const c of checks) console.log(verdictLine(c));
    console.log(`\nresults: ${file} (${fmt((Date.now() - started.getTime()) / 1000, 0)} s)`);
    return checks.every((c) => c.pass !== false) || !opts.strict ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`\nbenchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
