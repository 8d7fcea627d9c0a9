// Runs the lines of bench/scenarios.ts: starts each server when a scenario first needs it and stops it after its
// last one, makes the bodies each scenario's traffic calls for, and measures (bench/measure.ts).
import { measure, type Plan, type Row, type Warmup } from './measure.js';
import { EDITED_PROFILES, EDITS_PER_SECOND, ENRICH_OPS, REPEAT_POOL, SLOW_RECORD_WRITE_MS } from './options.js';
import { SERVERS, type Scenario, type ServerName, type Traffic } from './scenarios.js';
import { SHIPPED_MAPPING_FILE, counters, editProfiles, setFloorAnswer, startFloor, startNaive, startService, type Env, type Server } from './servers.js';
import { runAssociation, type AssociationResult } from './association.js';
import { runSurge, type SurgeResult } from './surge.js';
import { cycling, inOrder, profileOf, seedCallers, seedEnrichedCallers } from './traffic.js';

const SERVICE_OPS = ['SearchProfiles', 'CreateProfile'] as const;
const NAIVE_OPS = ['SearchProfiles', 'CreateProfile', 'PutProfileObject'] as const;

/** A server that is up, and the callers made for its scenarios (shared by them). */
interface Running {
  server: Server;
  /** the fake operations to wait for after a warm-up */
  settleOps: readonly string[];
  /** the bodies of the traffic that is the same caller(s) throughout, made once */
  fixed: Map<Traffic, () => string>;
  /** the pool has had its round of calls (every caller's lookup cached) */
  poolRounded: boolean;
}

async function start(env: Env, name: ServerName): Promise<Running> {
  const spec = SERVERS[name];
  const running = (server: Server, settleOps: readonly string[]): Running => ({ server, settleOps, fixed: new Map(), poolRounded: false });
  switch (spec.kind) {
    case 'floor':
      console.log('floor (bench/floor.ts)');
      return running(await startFloor(env), []);
    case 'naive':
      console.log('naive peer (bench/naive-peer.ts)');
      return running(await startNaive(env), NAIVE_OPS);
    case 'service': {
      console.log(`service (${name})`);
      const shipped = spec.mapping === 'shipped';
      const eventStream = 'eventStream' in spec && spec.eventStream;
      return running(await startService(env, name, shipped ? SHIPPED_MAPPING_FILE : undefined, { eventStream }), shipped ? [...SERVICE_OPS, ...ENRICH_OPS] : SERVICE_OPS);
    }
    case 'fleet':
      throw new Error(`${name}: a fleet scenario starts its own replicas`);
  }
}

/** the most contacts a run can meet at `callsInSequence` AWS calls each: sizes seeded pools for warm-ups */
const bound = (env: Env, connections: number, seconds: number, callsInSequence: number) =>
  Math.ceil((connections * seconds * 1000 * 1.25) / (env.opts.latency * callsInSequence)) + connections;

/** The same caller(s) all along: one body generator per server, made when first needed. */
async function fixedBodies(env: Env, r: Running, traffic: Traffic): Promise<() => string> {
  const made = r.fixed.get(traffic);
  if (made) return made;
  let next: () => string;
  if (traffic === 'floor-caller') {
    const phone = env.callers.next();
    next = () => env.events.body(phone);
  } else if (traffic === 'one-known' || traffic === 'one-enriched') {
    const [phone = ''] = traffic === 'one-known' ? await seedCallers(env, 1) : await seedEnrichedCallers(env, 1);
    next = () => env.events.body(phone);
  } else if (traffic === 'pool') {
    // on a fake that holds nothing else (the naive peer's scenarios before it seeded thousands of callers)
    await env.fake.reset();
    next = cycling(env, await seedCallers(env, REPEAT_POOL));
  } else {
    throw new Error(`${traffic}: not the same callers throughout`);
  }
  r.fixed.set(traffic, next);
  return next;
}

/** The plan of one scenario on its server: warm-ups, the bodies of the measured run, what the fake does. */
async function planOf(env: Env, s: Scenario, r: Running, rows: readonly Row[]): Promise<Plan | undefined> {
  const o = env.opts;
  const connections = s.connections === 'low' ? o.lowConnections : s.connections === 'high' ? o.connections : s.connections;
  // the secondary rows (other load levels, the pool) get half the time, so that a run stays near 5 minutes
  const seconds = s.seconds === 'short' ? Math.max(2, Math.round(o.seconds / 2)) : o.seconds;
  const warmupSeconds = s.warmup === 'brief' ? Math.min(o.warmup, 2) : o.warmup;
  let warmups: Warmup[] = [];
  let prepare: Plan['prepare'];
  switch (s.traffic) {
    case 'floor-caller':
    case 'one-known':
    case 'one-enriched':
    case 'pool': {
      const body = await fixedBodies(env, r, s.traffic);
      if (s.poolRound && !r.poolRounded) warmups.push({ amount: REPEAT_POOL, body });
      r.poolRounded ||= s.poolRound === true;
      if (s.warmup !== 'none') warmups.push({ seconds: warmupSeconds, body });
      prepare = () => Promise.resolve(body);
      break;
    }
    case 'known-cold':
    case 'enriched-cold': {
      const seed = s.traffic === 'known-cold' ? seedCallers : seedEnrichedCallers;
      if (s.warmup !== 'none') warmups = [{ seconds: warmupSeconds, body: inOrder(env, await seed(env, bound(env, connections, warmupSeconds, s.awsCallsInSequence ?? 1))) }];
      prepare = async (n) => inOrder(env, await seed(env, n));
      break;
    }
    case 'new':
      if (s.warmup !== 'none') warmups = [{ seconds: warmupSeconds, body: inOrder(env, env.callers.take(bound(env, connections, warmupSeconds, s.awsCallsInSequence ?? 1))) }];
      prepare = (n) => Promise.resolve(inOrder(env, env.callers.take(n)));
      break;
  }
  // agents editing other profiles through the measured run: UPDATED records the service's stream reader applies
  let edits: Pick<Plan, 'before' | 'after'> & { result?: Row['eventStream'] } = {};
  if (s.edits) {
    const others = await env.fake.seed(env.callers.take(EDITED_PROFILES).map((phone, i) => profileOf(phone, i)));
    let stop: (() => Promise<number>) | undefined;
    let read0 = 0;
    edits = {
      before: async () => {
        read0 = await eventsRead(r.server);
        stop = await editProfiles(env, others, EDITS_PER_SECOND);
      },
      after: async () => {
        const made = (await stop?.()) ?? 0;
        // the last edits' records, read at the next poll (1 s)
        await new Promise((resolve) => setTimeout(resolve, 1500));
        edits.result = { editsPerSecond: EDITS_PER_SECOND, edits: made, recordsRead: (await eventsRead(r.server)) - read0 };
      },
    };
  }
  let openLoop: (() => number) | undefined;
  if (s.openLoopPct !== undefined) {
    // the service's own closed-loop maximum (the cache hit at --connections) sets the open-loop rates
    const capacity = rows.find((row) => row.id === 'hit')?.rps ?? NaN;
    if (!Number.isFinite(capacity)) return undefined;
    const pct = s.openLoopPct;
    openLoop = () => (capacity * pct) / 100;
  }
  return {
    id: s.id,
    label: s.label,
    target: r.server,
    connections,
    seconds,
    warmups,
    prepare,
    settleOps: r.settleOps,
    ...(s.requestsPerConnection !== undefined && { amount: connections * s.requestsPerConnection }),
    ...(s.staggerMs !== undefined && { staggerMs: s.staggerMs }),
    ...(openLoop && { openLoop }),
    ...(s.fake === 'hang' && { before: () => env.fake.hang(true), after: () => env.fake.hang(false), timeoutSeconds: 10 }),
    ...(s.edits && { before: edits.before, after: edits.after, annotate: (row: Row) => void (row.eventStream = edits.result) }),
  };
}

/** Records of the profile event stream the service has read so far (cpr_profile_events_total, every type and outcome). */
async function eventsRead(server: Server): Promise<number> {
  return [...(await counters([server], ['cpr_profile_events_total'])).values()].reduce((a, b) => a + b, 0);
}

/** What a run measured: the rows of the single-server scenarios, and the fleets' own results. */
export interface Measured {
  rows: Row[];
  surge?: SurgeResult;
  association?: AssociationResult;
}

/**
 * Measures `scenarios` in order, each on its server; a server is stopped after the last scenario that needs it.
 * The surge and the association bench run their own fleets (bench/surge.ts, bench/association.ts) and give their own results.
 */
export async function runScenarios(env: Env, scenarios: readonly Scenario[]): Promise<Measured> {
  const rows: Row[] = [];
  let surge: SurgeResult | undefined;
  let association: AssociationResult | undefined;
  const lastUse = new Map<ServerName, number>();
  scenarios.forEach((s, i) => lastUse.set(s.server, i));
  const up = new Map<ServerName, Running>();
  try {
    for (const [i, s] of scenarios.entries()) {
      if (s.server === 'surge') {
        surge = await runSurge(env);
        continue;
      }
      if (s.server === 'association') {
        association = await runAssociation(env);
        continue;
      }
      let r = up.get(s.server);
      if (!r) {
        r = await start(env, s.server);
        up.set(s.server, r);
      }
      // the floor's answer, written again for each of its scenarios: a service started since (the cache-hit
      // group's, between the floor's closed-loop and open-loop rows) emptied Redis
      if (r.server.kind === 'floor') await setFloorAnswer(env);
      if (s.fake === 'slow-record-writes') await env.fake.latency({ AddProfileKey: SLOW_RECORD_WRITE_MS, PutProfileObject: SLOW_RECORD_WRITE_MS, '*': env.opts.latency });
      try {
        const plan = await planOf(env, s, r, rows);
        if (plan) {
          const row = await measure(env, plan);
          plan.annotate?.(row);
          rows.push(row);
        }
      } finally {
        if (s.fake === 'slow-record-writes') await env.fake.latency(env.opts.latency);
      }
      if (lastUse.get(s.server) === i) {
        up.delete(s.server);
        await r.server.child.stop();
      }
    }
  } finally {
    for (const r of up.values()) await r.server.child.stop();
  }
  return { rows, ...(surge && { surge }), ...(association && { association }) };
}
