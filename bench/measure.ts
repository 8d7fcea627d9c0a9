// One measured scenario: warm-ups that are not counted, then a fixed number of requests, all of them answered
// (no request cut off at the end, so AWS calls per contact are exact and the slowest answers are not dropped),
// with the CPU of every process from /proc, RSS, Redis commands and AWS calls per contact. A run that other work
// on the machine disturbed is measured again while the run's --quiet-wait budget lasts.
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { runLoad, runStaggered, type Latency, type LoadResult } from './load.js';
import { runOpenLoop } from './open-loop.js';
import { BUSY_PCT, STEAL_PCT } from './options.js';
import { childrenCpuMs, cpuMs, machineMs, rssMb, selfCpuMs } from './procs.js';
import { queueDepth, type Env, type Server } from './servers.js';
import { callsDelta, type FakeCalls } from './traffic.js';

const HOT = ['SearchProfiles', 'CreateProfile'] as const;
const RECORD_OPS = ['AddProfileKey', 'PutProfileObject'] as const;

/** One scenario's results (the JSON's `scenarios`, the table's rows, what the targets read). */
export interface Row {
  id: string;
  label: string;
  kind: Server['kind'];
  connections: number;
  requests: number;
  seconds: number;
  rps: number;
  latency: Latency;
  errors: number;
  non2xx: number;
  timeouts: number;
  answers: Record<string, number>;
  contactRecordStatus: Record<string, number>;
  aws?: {
    calls: FakeCalls;
    searchPerContact: number;
    createPerContact: number;
    /** SearchProfiles + CreateProfile */
    hotPerContact: number;
    /** AddProfileKey + PutProfileObject (for the naive peer PutProfileObject is on its hot path) */
    recordWritesPerContact: number;
  };
  cpu: {
    targetMsPerRequest: number;
    targetPct: number;
    redisPct: number;
    fakePct: number;
    loadGeneratorPct: number;
    /** processes that are not the benchmark's (other work on the machine) */
    othersPct: number;
    /** the hypervisor's steal */
    stealPct: number;
  };
  /** measured runs of this scenario (more than one when other work on the machine disturbed a run) */
  attempts: number;
  rssMb: number;
  queueDepthAfter?: number | undefined;
  /** Redis commands per contact (INFO commandstats deltas; includes the record worker's and the floor's) */
  redis: { commandsPerRequest: number; byCommand: Record<string, number> };
  /** with the event stream read (hit-stream): the edits of other profiles made during the measured run, and the stream's records the service read meanwhile */
  eventStream?: { editsPerSecond: number; edits: number; recordsRead: number } | undefined;
  /** an open-loop run: the rate offered, requests not sent in time, and the sender's own lag (ms) */
  openLoop?: { offeredRps: number; unsent: number; sendLag: { p50: number; p99: number; max: number } };
}

export interface Warmup {
  seconds?: number;
  amount?: number;
  body: () => string;
}

/** How to measure one scenario (built from its line in bench/scenarios.ts). */
export interface Plan {
  id: string;
  label: string;
  target: Server;
  connections: number;
  warmups: Warmup[];
  /** fixed size of the measured run; default: the last warm-up's rate x `seconds` */
  amount?: number;
  seconds: number;
  /** one connection per caller, started this many ms apart (see runStaggered), instead of all at once */
  staggerMs?: number;
  /**
   * open loop (bench/open-loop.ts): Poisson arrivals at this many requests a second (asked when the plan
   * runs: it can depend on rows measured before), latency counted from each request's due time
   */
  openLoop?: () => number;
  /** after the warm-ups, before the measured run (seeding): the bodies of the measured run */
  prepare: (amount: number) => Promise<() => string>;
  /** fake operations to wait for after a warm-up (its cut-off requests finish) */
  settleOps: readonly string[];
  timeoutSeconds?: number;
  /** just before the measured run starts (e.g. the fake starts hanging) */
  before?: () => Promise<void>;
  /** just after it */
  after?: () => Promise<void>;
  /** adds what the scenario measured beside the load to the row (the runner calls it) */
  annotate?: (row: Row) => void;
}

// ---- CPU from /proc ------------------------------------------------------------------------------------------

function snapshot(env: Env, pid: number) {
  const machine = machineMs();
  const redisPid = env.redis.pid;
  return {
    t: performance.now(),
    target: cpuMs(pid),
    redis: redisPid ? cpuMs(redisPid) : 0,
    fake: cpuMs(env.fakeChild.pid),
    self: selfCpuMs(),
    mine: selfCpuMs() + childrenCpuMs(redisPid ? [redisPid] : []),
    busy: machine.busy,
    steal: machine.steal,
  };
}
type Snapshot = ReturnType<typeof snapshot>;

/** CPU of processes that are not the benchmark's between two snapshots, in % of one core */
const othersPct = (a: Snapshot, b: Snapshot): number => (Math.max(0, b.busy - a.busy - (b.mine - a.mine)) / (b.t - a.t)) * 100;

const disturbed = (r: Row): boolean => r.cpu.othersPct >= BUSY_PCT || r.cpu.stealPct >= STEAL_PCT;

// ---- quiet-wait ----------------------------------------------------------------------------------------------

/** Time spent waiting for the machine to calm down and re-measuring, over the whole run (capped by --quiet-wait). */
export class QuietBudget {
  private leftMs: number;

  constructor(seconds: number) {
    this.leftMs = seconds * 1000;
  }

  get spent(): boolean {
    return this.leftMs <= 0;
  }

  spend(ms: number): void {
    this.leftMs -= ms;
  }
}

/** Waits (while the run's --quiet-wait budget lasts) until other work on the machine uses less than BUSY_PCT of a core. */
async function waitForQuiet(env: Env, pid: number): Promise<void> {
  let said = false;
  for (;;) {
    const a = snapshot(env, pid);
    await new Promise((r) => setTimeout(r, 1000));
    const others = othersPct(a, snapshot(env, pid));
    if (others < BUSY_PCT || env.quiet.spent) {
      if (said) process.stdout.write(others < BUSY_PCT ? ' quiet now;' : ` still busy (${others.toFixed(0)}%), going on;`);
      return;
    }
    if (!said) process.stdout.write(` (other processes use ${others.toFixed(0)}% of a core: waiting)`);
    said = true;
    env.quiet.spend(1000);
  }
}

// ---- Redis commands ------------------------------------------------------------------------------------------

/** calls per Redis command so far (INFO commandstats) */
export async function redisCommands(client: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (m[1] && m[2]) out[m[1]] = Number(m[2]);
  return out;
}

export function perRequest(before: Record<string, number>, after: Record<string, number>, requests: number): Row['redis'] {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [cmd, n] of Object.entries(after)) {
    // the benchmark's own INFO is not the service's
    const d = n - (before[cmd] ?? 0) - (cmd === 'info' ? 1 : 0);
    if (d <= 0) continue;
    byCommand[cmd] = Math.round((d / requests) * 100) / 100;
    total += d;
  }
  return { commandsPerRequest: total / requests, byCommand };
}

// ---- the measurement -----------------------------------------------------------------------------------------

export async function measure(env: Env, p: Plan): Promise<Row> {
  const headers = env.headers;
  process.stdout.write(`  ${p.label}: warming up`);
  let rate = 0;
  for (const w of p.warmups) {
    const r = await runLoad({ url: p.target.url, connections: p.connections, ...w, headers, nextBody: w.body, timeoutSeconds: 10 });
    if (r.ok === 0) throw new Error(`${p.label}: the warm-up got no 2xx answer (${r.non2xx} non-2xx, ${r.errors} errors)\n${p.target.child.output()}`);
    rate = r.lateRps;
    await env.fake.settle(p.settleOps, p.timeoutSeconds ? p.timeoutSeconds * 1000 : 5000);
  }
  const offered = p.openLoop?.();
  const amount = offered !== undefined ? Math.max(1, Math.round(offered * p.seconds)) : (p.amount ?? Math.max(p.connections, Math.round((rate * p.seconds) / p.connections) * p.connections));
  let best: Row | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    await waitForQuiet(env, p.target.child.pid);
    const nextBody = await p.prepare(amount);
    await p.before?.();
    process.stdout.write(`${attempt > 1 ? ' again' : ''}, measuring ${amount} requests`);
    const calls0 = await env.fake.calls();
    const redis0 = await redisCommands(env.redisClient);
    const s0 = snapshot(env, p.target.child.pid);
    const load = { url: p.target.url, connections: p.connections, amount, headers, nextBody, timeoutSeconds: p.timeoutSeconds ?? 10 };
    const open =
      offered !== undefined
        ? await runOpenLoop({ url: p.target.url, headers, nextBody, ratePerSecond: offered, count: amount, maxSeconds: 2 * p.seconds + 5, spacing: 'poisson', seed: 20261130, timeoutMs: (p.timeoutSeconds ?? 10) * 1000 })
        : undefined;
    const r: LoadResult = open ?? (p.staggerMs !== undefined ? await runStaggered({ ...load, spacingMs: p.staggerMs }) : await runLoad(load));
    const s1 = snapshot(env, p.target.child.pid);
    const redis1 = await redisCommands(env.redisClient);
    await p.after?.();
    const calls = callsDelta(calls0, await env.fake.calls());
    const rss = rssMb(p.target.child.pid);
    const depth = await queueDepth(p.target);
    const wall = s1.t - s0.t;
    const op = (name: string): number => calls.byOperation[name] ?? 0;
    const requests = r.ok + r.non2xx;
    const row: Row = {
      id: p.id,
      label: p.label,
      kind: p.target.kind,
      connections: p.connections,
      requests,
      seconds: r.elapsedMs / 1000,
      rps: r.rps,
      latency: r.latency,
      errors: r.non2xx + r.errors,
      non2xx: r.non2xx,
      timeouts: r.timeouts,
      answers: r.customerStatus,
      contactRecordStatus: r.contactRecordStatus,
      ...(p.target.kind !== 'floor'
        ? {
            aws: {
              calls,
              searchPerContact: op('SearchProfiles') / amount,
              createPerContact: op('CreateProfile') / amount,
              hotPerContact: HOT.reduce((sum, o) => sum + op(o), 0) / amount,
              recordWritesPerContact: RECORD_OPS.reduce((sum, o) => sum + op(o), 0) / amount,
            },
          }
        : {}),
      cpu: {
        targetMsPerRequest: (s1.target - s0.target) / Math.max(1, requests),
        targetPct: ((s1.target - s0.target) / wall) * 100,
        redisPct: ((s1.redis - s0.redis) / wall) * 100,
        fakePct: ((s1.fake - s0.fake) / wall) * 100,
        loadGeneratorPct: ((s1.self - s0.self) / wall) * 100,
        othersPct: othersPct(s0, s1),
        stealPct: ((s1.steal - s0.steal) / wall) * 100,
      },
      attempts: attempt,
      rssMb: rss,
      queueDepthAfter: depth,
      redis: perRequest(redis0, redis1, Math.max(1, requests)),
      ...(open && { openLoop: { offeredRps: open.offeredRps, unsent: open.unsent, sendLag: open.sendLag } }),
    };
    if (!best || row.cpu.othersPct + row.cpu.stealPct < best.cpu.othersPct + best.cpu.stealPct) best = row;
    if (!disturbed(row) || env.quiet.spent) break;
    env.quiet.spend(wall);
    process.stdout.write(` (disturbed: other processes ${row.cpu.othersPct.toFixed(0)}%, steal ${row.cpu.stealPct.toFixed(0)}% of a core)`);
  }
  const row = best as Row;
  process.stdout.write(`: ${row.rps.toFixed(0)} req/s, p50 ${row.latency.p50.toFixed(2)} ms, p99 ${row.latency.p99.toFixed(2)} ms, ${row.errors} errors\n`);
  return row;
}
