// The surge (`--only surge`): two replicas of the service, one Redis, the fake with an account quota of
// SURGE.accountQuota calls a second per operation. Phase 1: SURGE.burst callers never seen within one second,
// spread over both replicas; phase 2: SURGE.sustainPerSecond callers a second for SURGE.sustainSeconds s, most of
// them new, some repeat callers. Each contact has its due time fixed in advance (an open loop) and goes out on a
// connection opened before the surge (a keep-alive Agent per replica). Right after the last answer one replica
// gets SIGTERM; the run then waits until every record promised (contactRecordStatus QUEUED) is in the fake.
// The schedule and the figures: bench/surge-model.ts; the targets: bench/targets.ts (surge*).
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentiles, type Latency } from './load.js';
import { ROOT, cpuMs, machineMs, selfCpuMs } from './procs.js';
import { fmt } from './report.js';
import { launchService, profileMappingFile, queueDepth, serviceEnv, type Env, type Server } from './servers.js';
import {
  SURGE,
  byStatus,
  callTotals,
  canServe,
  duplicates,
  fallbackReasons,
  lostRecords,
  schedule,
  shareOf,
  type Outcome,
  type Planned,
  type SurgeSecond,
  type SurgeShape,
} from './surge-model.js';

/** sockets opened to each replica before the surge */
const SOCKETS_PER_REPLICA = 300;
/** the Customer Profiles operations whose calls the tables show, in this order (others after them) */
const OPS = ['SearchProfiles', 'CreateProfile', 'AddProfileKey', 'PutProfileObject'] as const;
/** the record object type (the service's default RECORD_OBJECT_TYPE; the bench does not set it) */
const RECORD_TYPE = (JSON.parse(readFileSync(path.join(ROOT, 'config/default.json'), 'utf8')) as { RECORD_OBJECT_TYPE: string }).RECORD_OBJECT_TYPE;

export interface SurgeResult {
  shape: SurgeShape;
  /** the fleet's calls a second per operation */
  share: number;
  fakeLatencyMs: number;
  contacts: number;
  /** how late this sender put contacts on the wire, ms */
  sendLag: { p50: number; p99: number; max: number };
  answers: Record<string, { count: number; latency: Latency }>;
  fallbackReasons: Record<string, number>;
  serve: ReturnType<typeof canServe>;
  /** the fake's quota stats, second 0 = the second the surge started in, until every record was written */
  seconds: SurgeSecond[];
  calls: ReturnType<typeof callTotals>;
  records: {
    promised: number;
    written: number;
    lost: number;
    /** a few of the lost ContactIds */
    lostSample: string[];
    /** from the first contact due to the last record stored in the fake, ms (NaN: never all written) */
    drainMs: number;
    /** from the last answer to the last record, ms */
    drainAfterSurgeMs: number;
    /** the wait gave up */
    timedOut: boolean;
  };
  duplicates: { phones: number; extraProfiles: number; profiles: number };
  sigterm: { replica: number; exitCode: number | null; signal: string | null; exitMs: number; queueDepthAtSignal: number | undefined };
  /** why answers were late: CPU during the surge (% of one core), and each replica's own view (its /metrics after the surge) */
  diagnostics: {
    cpuPct: { replicas: number[]; redis: number; fake: number; bench: number; machine: number; cores: number };
    replicas: Array<{ eventLoopLagP99Ms: number; eventLoopLagMaxMs: number; redisErrors: Record<string, number>; awsThrottled: number }>;
  };
}

/** What one replica's /metrics says after the surge: event-loop lag since the last scrape (none before), Redis errors, 429s. */
async function replicaView(s: Server): Promise<SurgeResult['diagnostics']['replicas'][number]> {
  const text = s.metricsUrl ? await (await fetch(`${s.metricsUrl}/metrics`)).text() : '';
  const one = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const redisErrors: Record<string, number> = {};
  for (const m of text.matchAll(/^cpr_redis_errors_total\{[^}]*operation="([^"]+)"[^}]*\} (\S+)$/gm)) redisErrors[m[1]!] = (redisErrors[m[1]!] ?? 0) + Number(m[2]);
  let awsThrottled = 0;
  for (const m of text.matchAll(/^cpr_quota_aws_throttled_total\{[^}]*\} (\S+)$/gm)) awsThrottled += Number(m[1]);
  return { eventLoopLagP99Ms: one('cpr_nodejs_eventloop_lag_p99_seconds') * 1000, eventLoopLagMaxMs: one('cpr_nodejs_eventloop_lag_max_seconds') * 1000, redisErrors, awsThrottled };
}

/** CPU of the surge's processes so far, ms */
function cpuNow(env: Env, replicas: readonly Server[]): { t: number; replicas: number[]; redis: number; fake: number; bench: number; machine: number } {
  const redisPid = env.redis.pid;
  return { t: performance.now(), replicas: replicas.map((r) => cpuMs(r.child.pid)), redis: redisPid ? cpuMs(redisPid) : NaN, fake: cpuMs(env.fakeChild.pid), bench: selfCpuMs(), machine: machineMs().busy };
}

/** Before the surge: a few contacts on each replica at a gentle rate (the code paths compiled, the SDK clients and their sockets up), their records written. */
export async function warmUp(env: Env, targets: ReadonlyArray<{ url: string; agent: Agent }>): Promise<void> {
  const plan: Planned[] = Array.from({ length: 20 * targets.length }, (_, i) => ({ dueMs: i * 50, phase: 1, replica: i % targets.length, caller: i, repeat: false }));
  const { outcomes } = await send(env, plan, env.callers.take(plan.length), targets);
  const promised = outcomes.filter((o) => o.contactRecordStatus === 'QUEUED').map((o) => o.contactId);
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const written = new Set((await env.fake.objectField(RECORD_TYPE, 'ContactId')).values);
    if (promised.every((id) => written.has(id))) return;
    await sleep(200);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens `n` sockets to `url` through `agent` (n requests at once, kept alive). */
async function preopen(agent: Agent, url: string, n: number): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve, reject) => {
        const req = request(new URL('/healthz', url), { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      })),
  );
}

const STATUS = /"customerStatus":"([A-Z_]*)"/;
const REASON = /"fallbackReason":"([A-Z_]*)"/;
const RECORD = /"contactRecordStatus":"([A-Z]*)"/;

/** Sends every planned contact at its due time (ms after `start`), to its replica's agent; resolves with every outcome. */
export async function send(env: Env, plan: readonly Planned[], phones: readonly string[], targets: ReadonlyArray<{ url: string; agent: Agent }>): Promise<{ outcomes: Outcome[]; lags: Float64Array; startedAt: number }> {
  const outcomes: Outcome[] = new Array<Outcome>(plan.length);
  const lags = new Float64Array(plan.length);
  const start = performance.now() + 50;
  const startedAt = Date.now() + 50;
  const pending: Array<Promise<void>> = [];
  const one = (i: number): Promise<void> => {
    const p = plan[i]!;
    const contactId = randomUUID();
    const body = env.events.body(phones[p.caller]!, contactId);
    const dueAt = start + p.dueMs;
    lags[i] = performance.now() - dueAt;
    const target = targets[p.replica]!;
    return new Promise<void>((resolve) => {
      const done = (http: number, text: string): void => {
        outcomes[i] = {
          planned: p,
          contactId,
          http,
          latencyMs: performance.now() - dueAt,
          answeredAt: Date.now(),
          customerStatus: STATUS.exec(text)?.[1] ?? '',
          fallbackReason: REASON.exec(text)?.[1] ?? '',
          contactRecordStatus: RECORD.exec(text)?.[1] ?? '',
        };
        resolve();
      };
      const req = request(new URL('/v1/resolve', target.url), { method: 'POST', agent: target.agent, headers: { ...env.headers, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => done(0, ''));
      req.end(body);
    });
  };
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = (): void => {
      const now = performance.now();
      while (next < plan.length && start + plan[next]!.dueMs <= now) pending.push(one(next++));
      if (next === plan.length) return resolve();
      setTimeout(tick, Math.max(0, start + plan[next]!.dueMs - performance.now() - 1));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  await Promise.all(pending);
  return { outcomes, lags, startedAt };
}

export async function runSurge(env: Env): Promise<SurgeResult> {
  const shape = SURGE;
  const share = shareOf(shape);
  const plan = schedule(shape);
  const callers = Math.max(...plan.map((p) => p.caller)) + 1;
  const phones = env.callers.take(callers);
  console.log(`surge: ${shape.replicas} replicas, account quota ${shape.accountQuota}/s per operation (the fleet's share ${share}/s), deadline ${shape.deadlineMs} ms; ${shape.burst} new callers within ${shape.burstMs} ms, then ${shape.sustainPerSecond}/s for ${shape.sustainSeconds} s (${shape.repeatPct}% repeat callers)`);

  await env.redis.flush();
  await env.fake.reset();
  await env.fake.latency(env.opts.latency);
  // one environment for every replica: the same secrets, token, Redis and fake
  const processEnv = {
    ...serviceEnv(env.fake.url, env.redis.url, env.token, profileMappingFile(env.workDir)),
    RESOLVE_DEADLINE_MS: String(shape.deadlineMs),
    CUSTOMER_PROFILES_ACCOUNT_QUOTA: String(shape.accountQuota),
    CUSTOMER_PROFILES_FLEET_SHARE_PERCENT: String(shape.sharePercent),
  };
  const replicas: Server[] = [];
  const agents: Agent[] = [];
  try {
    for (let i = 0; i < shape.replicas; i++) replicas.push(await launchService(env, `surge-${String.fromCharCode(97 + i)}`, processEnv));
    const targets = replicas.map((r) => {
      const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS_PER_REPLICA, maxFreeSockets: SOCKETS_PER_REPLICA });
      agents.push(agent);
      return { url: r.url, agent };
    });
    process.stdout.write('  warming up');
    await warmUp(env, targets);
    await env.fake.quota({ accountQuotaPerSecond: shape.accountQuota });
    for (const t of targets) await preopen(t.agent, t.url, SOCKETS_PER_REPLICA);
    // the warm-up's slots in the fleet's book are long past, and no second of the surge holds its calls
    await sleep(1500);
    process.stdout.write(`, ${plan.length} contacts on ${SOCKETS_PER_REPLICA} open connections per replica`);

    const cpu0 = cpuNow(env, replicas);
    const { outcomes, lags, startedAt } = await send(env, plan, phones, targets);
    const surgeEnd = Date.now();
    const cpu1 = cpuNow(env, replicas);
    const pct = (a: number, b: number): number => ((b - a) / (cpu1.t - cpu0.t)) * 100;
    const views = await Promise.all(replicas.map(replicaView));
    // right after the surge, while its records are still queued: one replica stops
    const stopping = replicas[replicas.length - 1]!;
    const queueDepthAtSignal = await queueDepth(stopping);
    const t0 = performance.now();
    const exited = once(stopping.child.proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    stopping.child.proc.kill('SIGTERM');
    process.stdout.write(`, answered; SIGTERM to replica ${replicas.length}`);

    // every record promised, in the fake: at the share's rate, with room for the pacing and a stop
    const promisedIds = new Set(outcomes.filter((o) => o.contactRecordStatus === 'QUEUED').map((o) => o.contactId));
    const maxWaitMs = (promisedIds.size / share) * 1000 * 2 + 60_000;
    let written = new Set<string>();
    let latestAt: number | undefined;
    let timedOut = false;
    const waitStart = Date.now();
    for (;;) {
      const objects = await env.fake.objectField(RECORD_TYPE, 'ContactId');
      written = new Set(objects.values);
      latestAt = objects.latestAt;
      if ([...promisedIds].every((id) => written.has(id))) break;
      if (Date.now() - waitStart > maxWaitMs) {
        timedOut = true;
        break;
      }
      await sleep(250);
    }
    const [exitCode, signal] = await Promise.race([exited, sleep(30_000).then((): [number | null, NodeJS.Signals | null] => [null, null])]);
    const exitMs = performance.now() - t0;
    process.stdout.write(`, replica ${replicas.length} exited ${exitCode ?? signal ?? 'not yet'}; records ${timedOut ? 'NOT all ' : ''}written\n`);

    const stats = await env.fake.quotaStats();
    const firstSecond = Math.floor(startedAt / 1000);
    const lastSecond = Math.floor((latestAt ?? Date.now()) / 1000);
    const seconds = stats.filter((s) => s.second >= firstSecond && s.second <= lastSecond).map((s) => ({ second: s.second - firstSecond, operations: s.operations }));
    const profilePhones = await env.fake.profileField('PhoneNumber');
    const lostNow = lostRecords(outcomes, written);
    const lag = percentiles(lags);
    const drained = !timedOut && latestAt !== undefined;
    return {
      shape,
      share,
      fakeLatencyMs: env.opts.latency,
      contacts: outcomes.length,
      sendLag: { p50: lag.p50, p99: lag.p99, max: lag.max },
      answers: byStatus(outcomes),
      fallbackReasons: fallbackReasons(outcomes),
      serve: canServe(outcomes, share, shape.deadlineMs),
      seconds,
      calls: callTotals(seconds),
      records: {
        promised: lostNow.promised,
        written: lostNow.promised - lostNow.lost.length,
        lost: lostNow.lost.length,
        lostSample: lostNow.lost.slice(0, 5),
        drainMs: drained ? latestAt! - startedAt : NaN,
        drainAfterSurgeMs: drained ? latestAt! - surgeEnd : NaN,
        timedOut,
      },
      duplicates: { ...duplicates(profilePhones.values), profiles: profilePhones.count },
      sigterm: { replica: replicas.length, exitCode, signal, exitMs, queueDepthAtSignal },
      diagnostics: {
        cpuPct: { replicas: cpu1.replicas.map((c, i) => pct(cpu0.replicas[i]!, c)), redis: pct(cpu0.redis, cpu1.redis), fake: pct(cpu0.fake, cpu1.fake), bench: pct(cpu0.bench, cpu1.bench), machine: pct(cpu0.machine, cpu1.machine), cores: os.cpus().length },
        replicas: views,
      },
    };
  } finally {
    for (const a of agents) a.destroy();
    for (const r of replicas) await r.child.stop();
    await env.fake.quota({ accountQuotaPerSecond: 0 });
  }
}

// ---- what it prints ---------------------------------------------------------------------------------------------

/** The surge's tables: calls per second and operation, answers by status, records, profiles, the stop. */
export function surgeTables(r: SurgeResult): string {
  const ops = [...OPS, ...Object.keys(r.calls).filter((op) => !(OPS as readonly string[]).includes(op)).sort()].filter((op) => r.calls[op]);
  const lines = [
    `Surge: ${r.shape.replicas} replicas, account quota ${r.shape.accountQuota}/s per operation at the fake (sliding 1000 ms window), the fleet's share ${r.share}/s per operation (${r.shape.sharePercent}%), deadline ${r.shape.deadlineMs} ms, fake latency ${r.fakeLatencyMs} ms; ${r.contacts} contacts (sender lag p99 ${fmt(r.sendLag.p99)} ms, max ${fmt(r.sendLag.max)} ms)`,
    '',
    'Calls at the fake per second (second 0: the surge starts; phase 1 in second 0, phase 2 in seconds 1-10), per operation: sent / refused (429) [most in any 1000 ms window ending in that second]',
    '',
    `| s | ${ops.join(' | ')} |`,
    `|--:|${ops.map(() => '--:').join('|')}|`,
  ];
  for (const s of r.seconds) {
    lines.push(`| ${s.second} | ${ops.map((op) => { const c = s.operations[op]; return c ? `${c.sent} / ${c.refused} [${c.windowMax}]` : '-'; }).join(' | ')} |`);
  }
  lines.push(`| all | ${ops.map((op) => { const c = r.calls[op]!; return `${c.sent} / ${c.refused} (max ${c.maxPerSecond}/s, [${c.maxWindow}])`; }).join(' | ')} |`);
  lines.push('', 'Answers (latency from each contact\'s due time):', '', '| customerStatus | contacts | p50 ms | p99 ms | max ms |', '|---|--:|--:|--:|--:|');
  for (const [status, a] of Object.entries(r.answers)) lines.push(`| ${status} | ${a.count} | ${fmt(a.latency.p50)} | ${fmt(a.latency.p99)} | ${fmt(a.latency.max)} |`);
  const reasons = Object.entries(r.fallbackReasons).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const s = r.serve;
  lines.push(
    '',
    `fallbackReason: ${reasons}`,
    `served (NEW/KNOWN): ${s.served}; the share can serve ${s.canServe} = min(${s.needAws} contacts needing AWS, ${r.share}/s x ${fmt(s.windowSeconds)} s) + ${s.cacheable} repeat callers answered from the cache`,
    `records: ${r.records.promised} promised (QUEUED), ${r.records.written} in the fake, ${r.records.lost} lost${r.records.lost > 0 ? ` (e.g. ${r.records.lostSample.join(', ')})` : ''}; all written ${fmt(r.records.drainMs / 1000, 1)} s after the surge started, ${fmt(r.records.drainAfterSurgeMs / 1000, 1)} s after its last answer${r.records.timedOut ? ' (GAVE UP WAITING)' : ''}`,
    `profiles: ${r.duplicates.profiles} in the fake, ${r.duplicates.phones} phone numbers on more than one (${r.duplicates.extraProfiles} duplicate profiles)`,
    `SIGTERM to replica ${r.sigterm.replica} right after the last answer (its record queue depth then: ${r.sigterm.queueDepthAtSignal ?? '-'}): exit ${r.sigterm.exitCode ?? r.sigterm.signal ?? 'none within 30 s'} after ${fmt(r.sigterm.exitMs / 1000, 1)} s`,
  );
  const d = r.diagnostics;
  lines.push(
    `CPU from the first contact to the last answer (% of one core, ${d.cpuPct.cores} cores): replicas ${d.cpuPct.replicas.map((c) => `${fmt(c, 0)}%`).join(' + ')}, redis-server ${fmt(d.cpuPct.redis, 0)}%, AWS fake ${fmt(d.cpuPct.fake, 0)}%, load generator ${fmt(d.cpuPct.bench, 0)}%, other work on the machine ${fmt(Math.max(0, d.cpuPct.machine - d.cpuPct.replicas.reduce((a, b) => a + b, 0) - d.cpuPct.redis - d.cpuPct.fake - d.cpuPct.bench), 0)}%, whole machine ${fmt(d.cpuPct.machine, 0)}%`,
    ...d.replicas.map((v, i) => `replica ${i + 1} after the surge: event-loop lag p99 ${fmt(v.eventLoopLagP99Ms, 0)} ms, max ${fmt(v.eventLoopLagMaxMs, 0)} ms; Redis errors ${Object.entries(v.redisErrors).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}; AWS 429s ${v.awsThrottled}`),
  );
  return lines.join('\n');
}
