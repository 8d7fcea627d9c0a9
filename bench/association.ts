// The association bench (`--only association`): how long after the service's answer the contact is associated with
// its profile, i.e. when the record queue's first step, AddProfileKey `_ctrContactId` = ContactId
// (src/records/writer.ts), has reached Customer Profiles. The agent sees the contact associated from then on; a flow
// that transfers to a queue with an agent free offers the contact about a second after the Lambda answers.
//
// Two replicas of the built service on one Redis and the fake (50 ms a call), with the defaults' share of the account
// quota (60 calls a second per operation) and RECORD_WRITES_PER_SECOND unset (records start at PutProfileObject's
// share, 60 a second, fleet-wide). After a warm-up (its records written):
// - phase A, at rest: ASSOCIATION.restContacts callers never seen, at restPerSecond, replicas in turn;
// - between the phases, not measured: poolCallers more callers never seen, at poolPerSecond; everything drains;
// - phase B, under pacing: burstFactor x the record rate for burstSeconds: mostly callers of phase A and the pool
//   (answered from the cache: no AWS call, so above the lookup share), some callers never seen, and a few hot callers
//   with several contacts a second each (their object writes paced to one per profile per 1.05 s).
// For each contact answered QUEUED, delay = when the fake handled its AddProfileKey `_ctrContactId` (GET
// /__fake/contact-keys) - when its answer arrived here; both are this machine's clock. A key not written
// keyWaitMs after its answer counts as never written. The schedule and the figures: bench/association-model.ts; the
// targets: bench/targets.ts (association*).
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentiles } from './load.js';
import { cpuMs, machineMs, selfCpuMs } from './procs.js';
import { fmt } from './report.js';
import { counters, launchService, profileMappingFile, queueDepth, serviceEnv, type Env, type Server } from './servers.js';
import { send, warmUp } from './surge.js';
import type { Outcome, Planned } from './surge-model.js';
import { ASSOCIATION, burstSchedule, evenly, fifoDelays, keyDelays, recordRateOf, type AssociationShape, type CallerKind, type DelayStats, type KeyDelays } from './association-model.js';

/** what the tables show of the fake's calls per second */
const KEY_OPS = ['AddProfileKey', 'PutProfileObject'] as const;
/** the longest the bench waits for the record queue to empty between phases */
const DRAIN_MS = 60_000;

export interface AssociationPhase {
  name: 'at rest' | 'under pacing';
  contacts: number;
  offeredPerSecond: number;
  /** answers by customerStatus (ERROR: no 2xx answer), and their latency from the due time */
  answers: Record<string, number>;
  answerLatency: { p50: number; p99: number; max: number };
  /** how late this bench put contacts on the wire, ms (a busy machine: its answers are read late too, which shortens the delays) */
  sendLag: { p99: number; max: number };
  /** the contacts answered QUEUED */
  keys: KeyDelays;
  /** the floor of a FIFO queue writing keys at the record rate, from the same answers (fifoDelays) */
  fifoAtRecordRate: DelayStats;
  /** phase B: the same by caller */
  byKind?: Partial<Record<CallerKind, KeyDelays>>;
  /** keys written a second, from the phase's first key to its last */
  keysPerSecond: number;
  /** from the phase's last answer to its last key written, ms */
  lastKeyAfterLastAnswerMs: number;
  /** the record queue's depth (cpr_record_queue_depth) right after the last answer */
  queueDepthAtLastAnswer: number | undefined;
  /** the fake's calls of KEY_OPS: the most in one calendar second, from the phase's start to its last key */
  maxPerSecond: Record<string, number>;
  /** over the phase and until its last key, both replicas' /metrics: record job outcomes (written, paced, throttled, ...) */
  recordJobs: Record<string, number>;
  /** ... and the record writes' bookings in the fleet's quota share (`<operation> <result>`: granted, waited, refused) */
  backgroundBookings: Record<string, number>;
  /** CPU from the first contact to the last key (% of one core) */
  cpuPct: { replicas: number[]; machine: number; others: number };
}

export interface AssociationResult {
  shape: AssociationShape;
  /** the fleet's records a second (RECORD_WRITES_PER_SECOND's default) */
  recordRate: number;
  fakeLatencyMs: number;
  phases: AssociationPhase[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The record jobs' outcomes and background bookings between two readings. */
function jobDeltas(before: Map<string, number>, after: Map<string, number>): Pick<AssociationPhase, 'recordJobs' | 'backgroundBookings'> {
  const recordJobs: Record<string, number> = {};
  const backgroundBookings: Record<string, number> = {};
  for (const [key, v] of after) {
    const d = v - (before.get(key) ?? 0);
    if (d === 0) continue;
    const label = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(key)?.[1];
    if (key.startsWith('cpr_record_jobs_total')) recordJobs[label('outcome') ?? '?'] = d;
    else if (key.startsWith('cpr_quota_calls_total') && label('priority') === 'background') backgroundBookings[`${label('operation')} ${label('result')}`] = d;
  }
  return { recordJobs, backgroundBookings };
}

/** Waits until every replica's record queue is empty (nothing waiting, delayed or in hand), at most DRAIN_MS. */
async function drained(replicas: readonly Server[]): Promise<boolean> {
  const until = Date.now() + DRAIN_MS;
  while (Date.now() < until) {
    const depths = await Promise.all(replicas.map(queueDepth));
    if (depths.every((d) => d === 0)) return true;
    await sleep(250);
  }
  return false;
}

/** Polls the fake until every contact's key is written or `until` (epoch ms) has passed; the keys written since `since`. */
async function keysOf(env: Env, contactIds: readonly string[], since: number, until: number): Promise<Record<string, number>> {
  for (;;) {
    const { at } = await env.fake.contactKeys(since);
    if (contactIds.every((id) => at[id] !== undefined) || Date.now() > until) return at;
    await sleep(250);
  }
}

/** CPU so far, ms: each replica, the machine, and this bench's own processes (redis-server, the fake, this one). */
function cpuNow(env: Env, replicas: readonly Server[]): { t: number; replicas: number[]; ours: number; machine: number } {
  const ours = (env.redis.pid ? cpuMs(env.redis.pid) : 0) + cpuMs(env.fakeChild.pid) + selfCpuMs();
  return { t: performance.now(), replicas: replicas.map((r) => cpuMs(r.child.pid)), ours, machine: machineMs().busy };
}

/** One measured phase: the contacts sent on their schedule, then every key awaited. */
async function phase(
  env: Env,
  name: AssociationPhase['name'],
  replicas: readonly Server[],
  targets: ReadonlyArray<{ url: string; agent: Agent }>,
  plan: readonly Planned[],
  phones: readonly string[],
  kinds?: readonly CallerKind[],
): Promise<AssociationPhase> {
  const shape = ASSOCIATION;
  const names = ['cpr_record_jobs_total', 'cpr_quota_calls_total'];
  const m0 = await counters(replicas, names);
  const cpu0 = cpuNow(env, replicas);
  const since = Date.now();
  const { outcomes, lags } = await send(env, plan, phones, targets);
  const lastAnswer = Math.max(...outcomes.map((o) => o.answeredAt));
  const queueDepthAtLastAnswer = await queueDepth(replicas[0]!);
  const queued = outcomes.filter((o) => o.contactRecordStatus === 'QUEUED');
  const keys = await keysOf(env, queued.map((o) => o.contactId), since, lastAnswer + shape.keyWaitMs);
  const cpu1 = cpuNow(env, replicas);
  const m1 = await counters(replicas, names);

  const answers: Record<string, number> = {};
  for (const o of outcomes) {
    const status = o.http >= 200 && o.http < 300 ? o.customerStatus || '-' : 'ERROR';
    answers[status] = (answers[status] ?? 0) + 1;
  }
  const latency = percentiles(Float64Array.from(outcomes.map((o) => o.latencyMs)));
  const lag = percentiles(lags);
  const mine = queued.map((o) => keys[o.contactId]).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const firstKey = mine[0] ?? NaN;
  const lastKey = mine.at(-1) ?? NaN;
  const stats = await env.fake.quotaStats();
  const maxPerSecond: Record<string, number> = {};
  for (const s of stats) {
    if (s.second < Math.floor(since / 1000) || s.second > Math.floor((Number.isFinite(lastKey) ? lastKey : Date.now()) / 1000)) continue;
    for (const op of KEY_OPS) maxPerSecond[op] = Math.max(maxPerSecond[op] ?? 0, s.operations[op]?.sent ?? 0);
  }
  let byKind: AssociationPhase['byKind'];
  if (kinds) {
    byKind = {};
    const kindOf = new Map(plan.map((p, i) => [p, kinds[i]]));
    for (const kind of ['new', 'pool', 'hot'] as const) {
      byKind[kind] = keyDelays(queued.filter((o: Outcome) => kindOf.get(o.planned) === kind), keys, shape.keyWaitMs);
    }
  }
  const elapsed = cpu1.t - cpu0.t;
  const pct = (a: number, b: number): number => ((b - a) / elapsed) * 100;
  const replicaPct = cpu1.replicas.map((c, i) => pct(cpu0.replicas[i]!, c));
  const machine = pct(cpu0.machine, cpu1.machine);
  return {
    name,
    contacts: outcomes.length,
    offeredPerSecond: plan.length > 1 ? ((plan.length - 1) * 1000) / (plan.at(-1)!.dueMs - plan[0]!.dueMs) : NaN,
    answers,
    answerLatency: { p50: latency.p50, p99: latency.p99, max: latency.max },
    sendLag: { p99: lag.p99, max: lag.max },
    keys: keyDelays(queued, keys, shape.keyWaitMs),
    fifoAtRecordRate: fifoDelays(queued.map((o) => o.answeredAt), recordRateOf(shape)),
    ...(byKind && { byKind }),
    keysPerSecond: mine.length > 1 ? ((mine.length - 1) * 1000) / (lastKey - firstKey) : NaN,
    lastKeyAfterLastAnswerMs: lastKey - lastAnswer,
    queueDepthAtLastAnswer,
    maxPerSecond,
    ...jobDeltas(m0, m1),
    cpuPct: { replicas: replicaPct, machine, others: Math.max(0, machine - replicaPct.reduce((a, b) => a + b, 0) - pct(cpu0.ours, cpu1.ours)) },
  };
}

export async function runAssociation(env: Env): Promise<AssociationResult> {
  const shape = ASSOCIATION;
  const recordRate = recordRateOf(shape);
  const burst = burstSchedule(shape);
  const poolPlan = evenly(shape.poolCallers, shape.poolPerSecond, shape.restContacts, shape.replicas);
  const restPlan = evenly(shape.restContacts, shape.restPerSecond, 0, shape.replicas);
  const phones = env.callers.take(Math.max(...burst.plan.map((p) => p.caller)) + 1);
  console.log(
    `association: ${shape.replicas} replicas, records at ${recordRate}/s fleet-wide; at rest ${shape.restContacts} new callers at ${shape.restPerSecond}/s; ` +
      `under pacing ${burst.plan.length} contacts at ${shape.burstFactor}x that for ${shape.burstSeconds} s (${shape.burstNewPct}% new, ${shape.burstHotPct}% from ${shape.hotCallers} hot callers, the rest cached callers)`,
  );

  await env.redis.flush();
  await env.fake.reset();
  await env.fake.latency(env.opts.latency);
  const processEnv = {
    ...serviceEnv(env.fake.url, env.redis.url, env.token, profileMappingFile(env.workDir)),
    CUSTOMER_PROFILES_ACCOUNT_QUOTA: String(shape.accountQuota),
    CUSTOMER_PROFILES_FLEET_SHARE_PERCENT: String(shape.sharePercent),
  };
  const replicas: Server[] = [];
  const agents: Agent[] = [];
  try {
    for (let i = 0; i < shape.replicas; i++) replicas.push(await launchService(env, `association-${String.fromCharCode(97 + i)}`, processEnv));
    const targets = replicas.map((r) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 256 });
      agents.push(agent);
      return { url: r.url, agent };
    });
    process.stdout.write('  warming up');
    await warmUp(env, targets);
    if (!(await drained(replicas))) throw new Error('association: the warm-up\'s records did not drain');
    await sleep(1000);

    process.stdout.write(', at rest');
    const rest = await phase(env, 'at rest', replicas, targets, restPlan, phones);

    process.stdout.write(`, the pool (${shape.poolCallers} callers)`);
    await send(env, poolPlan, phones, targets);
    if (!(await drained(replicas))) throw new Error('association: the pool\'s records did not drain');
    await sleep(1000);

    process.stdout.write(', under pacing');
    const paced = await phase(env, 'under pacing', replicas, targets, burst.plan, phones, burst.kinds);
    process.stdout.write('\n');
    return { shape, recordRate, fakeLatencyMs: env.opts.latency, phases: [rest, paced] };
  } finally {
    for (const a of agents) a.destroy();
    for (const r of replicas) await r.child.stop();
  }
}

// ---- what it prints ---------------------------------------------------------------------------------------------

const ms = (v: number): string => (v === Infinity ? 'never' : fmt(v, 0));
const KIND_LABEL: Record<CallerKind, string> = { new: 'callers never seen', pool: 'cached callers', hot: 'hot callers' };

export function associationTables(r: AssociationResult): string {
  const s = r.shape;
  const wait = fmt(s.keyWaitMs / 1000, 0);
  const lines = [
    `Association: delay from the answer to the contact's _ctrContactId key at the fake (AddProfileKey handled), ${s.replicas} replicas, records at ${r.recordRate}/s fleet-wide (RECORD_WRITES_PER_SECOND unset: PutProfileObject's share, ${s.sharePercent}% of ${s.accountQuota}), fake latency ${r.fakeLatencyMs} ms`,
    '',
    `| phase | contacts | rate /s | QUEUED | keys written | delay p50 ms | p95 ms | p99 ms | max ms | not written within ${wait} s |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const row = (label: string, contacts: number | string, rate: string, k: KeyDelays): string =>
    `| ${label} | ${contacts} | ${rate} | ${k.contacts} | ${k.written} | ${ms(k.delay.p50)} | ${ms(k.delay.p95)} | ${ms(k.delay.p99)} | ${ms(k.delay.max)} | ${k.late} |`;
  for (const p of r.phases) {
    lines.push(row(p.name, p.contacts, fmt(p.offeredPerSecond, 0), p.keys));
    for (const [kind, k] of Object.entries(p.byKind ?? {}) as Array<[CallerKind, KeyDelays]>) lines.push(row(`  ${KIND_LABEL[kind]}`, '', '', k));
  }
  lines.push('');
  for (const p of r.phases) {
    const answers = Object.entries(p.answers).map(([k, v]) => `${k} ${v}`).join(', ');
    const jobs = Object.entries(p.recordJobs).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    const bookings = Object.entries(p.backgroundBookings).sort().map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    lines.push(
      `${p.name}: answers ${answers}, p50 ${fmt(p.answerLatency.p50)} ms, p99 ${fmt(p.answerLatency.p99)} ms from their due time (sender lag p99 ${fmt(p.sendLag.p99)} ms); record queue depth at the last answer ${p.queueDepthAtLastAnswer ?? '-'}`,
      `  keys written at ${fmt(p.keysPerSecond, 1)}/s (first to last), the last ${fmt(p.lastKeyAfterLastAnswerMs / 1000, 1)} s after the last answer; a FIFO writing keys at ${r.recordRate}/s from the same answers: p50 ${ms(p.fifoAtRecordRate.p50)}, p95 ${ms(p.fifoAtRecordRate.p95)}, max ${ms(p.fifoAtRecordRate.max)} ms`,
      `  most in one second at the fake: ${KEY_OPS.map((op) => `${op} ${p.maxPerSecond[op] ?? 0}`).join(', ')}; record jobs: ${jobs}; the record writes' bookings in the share: ${bookings}`,
      `  CPU (% of one core): replicas ${p.cpuPct.replicas.map((c) => `${fmt(c, 0)}%`).join(' + ')}, other work on the machine ${fmt(p.cpuPct.others, 0)}%`,
    );
  }
  return lines.join('\n');
}
