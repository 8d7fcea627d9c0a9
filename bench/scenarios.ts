// The scenarios, one line each, in the order they run (bench/runner.ts runs them; `--only` takes their ids).
// A server is started before the first selected scenario that runs on it and stopped after the last one: each
// service group gets a fresh service process (empty Redis, reset fake); the floor stays up through the cache-hit
// group when the floor's open-loop rows are selected, since their rates come from the `hit` row.
import { OPEN_PCTS, OUTAGE_CONNECTIONS, DEADLINE_MS, REPEAT_POOL } from './options.js';

/** The processes under test: the floor, the naive peer, and the service, one process per group. */
export const SERVERS = {
  floor: { kind: 'floor' },
  'cache-hit': { kind: 'service', mapping: 'profile-fields' },
  'cache-hit-pool': { kind: 'service', mapping: 'profile-fields' },
  // the same, reading the domain's profile event stream (PROFILE_EVENT_STREAM_ARN on the fake's Kinesis)
  'cache-hit-stream': { kind: 'service', mapping: 'profile-fields', eventStream: true },
  'known-cold': { kind: 'service', mapping: 'profile-fields' },
  // config/attributes.json as shipped: three enrichment sources
  enrich: { kind: 'service', mapping: 'shipped' },
  new: { kind: 'service', mapping: 'profile-fields' },
  naive: { kind: 'naive' },
  outage: { kind: 'service', mapping: 'profile-fields' },
  // two replicas of the service, started and stopped by the scenario itself (bench/association.ts, bench/surge.ts)
  association: { kind: 'fleet' },
  surge: { kind: 'fleet' },
} as const satisfies Record<string, { kind: 'floor' | 'naive' | 'fleet' } | { kind: 'service'; mapping: 'profile-fields' | 'shipped'; eventStream?: true }>;
export type ServerName = keyof typeof SERVERS;

/** Who calls. Each is made once per server process and shared by its scenarios. */
export type Traffic =
  /** one caller nobody seeded (the floor answers from one Redis key) */
  | 'floor-caller'
  /** one seeded caller, every request: cache hits after the first */
  | 'one-known'
  /** the same, with what the shipped mapping's enrichment sources read */
  | 'one-enriched'
  /** REPEAT_POOL seeded callers in turn (seeded on a reset fake) */
  | 'pool'
  /** a different seeded caller every request (cold cache) */
  | 'known-cold'
  /** the same, with enrichment data */
  | 'enriched-cold'
  /** numbers never seen */
  | 'new';

export interface Scenario {
  id: string;
  label: string;
  server: ServerName;
  /** 'low': --low-connections (the latency comparisons), 'high': --connections, or a number */
  connections: 'low' | 'high' | number;
  /** the measured part: --seconds, or half of it for the secondary rows (default 'main') */
  seconds?: 'main' | 'short';
  traffic: Traffic;
  /** cold and new callers: AWS calls one after another a contact (sizes the warm-up's callers) */
  awsCallsInSequence?: number;
  /** default: --warmup seconds; 'brief': at most 2 s; 'none' */
  warmup?: 'brief' | 'none';
  /** before the warm-up, every pool caller calls once (their lookups cached), unless an earlier scenario on the same process did */
  poolRound?: boolean;
  /** an open loop at this % of the service's closed-loop maximum (the `hit` row, which must run first) */
  openLoopPct?: number;
  /** a fixed measured run of this many requests a connection */
  requestsPerConnection?: number;
  /** one connection per caller, started this many ms apart */
  staggerMs?: number;
  /** during the measured run, EDITS_PER_SECOND edits of other profiles at the fake (as an agent's): the event stream carries them */
  edits?: boolean;
  /** 'hang': the fake holds every request during the measured run; 'slow-record-writes': record writes take SLOW_RECORD_WRITE_MS */
  fake?: 'hang' | 'slow-record-writes';
}

const hit = 'Cache hit: one known caller';
const pool = `Cache hit: ${REPEAT_POOL} repeat callers in turn`;
const naivePool = `Naive peer: ${REPEAT_POOL} repeat callers in turn`;

export const SCENARIOS: readonly Scenario[] = [
  { id: 'floor', label: 'Floor: Express 5 + JSON body + one Redis GET', server: 'floor', connections: 'high', traffic: 'floor-caller' },
  // low load first: the contact records the high-load run queues would still be written during it
  { id: 'hit-low', label: hit, server: 'cache-hit', connections: 'low', seconds: 'short', traffic: 'one-known' },
  { id: 'hit', label: hit, server: 'cache-hit', connections: 'high', traffic: 'one-known' },
  ...OPEN_PCTS.map((pct): Scenario => ({ id: `hit-open-${pct}`, label: `Cache hit, open loop at ${pct}% of the service's maximum`, server: 'cache-hit', connections: 'low', traffic: 'one-known', openLoopPct: pct })),
  ...OPEN_PCTS.map((pct): Scenario => ({ id: `floor-open-${pct}`, label: `Floor, open loop at ${pct}% of the service's maximum`, server: 'floor', connections: 'low', traffic: 'floor-caller', openLoopPct: pct })),
  // every caller has called once before the measured runs (a round of the pool): their lookups are cached
  { id: 'hit-pool-low', label: pool, server: 'cache-hit-pool', connections: 'low', seconds: 'short', traffic: 'pool', poolRound: true },
  { id: 'hit-pool', label: pool, server: 'cache-hit-pool', connections: 'high', seconds: 'short', traffic: 'pool', poolRound: true },
  // the cache hit's cost with the event stream read: the reader applies what the fake writes to the stream meanwhile,
  // the edits of other profiles the scenario makes (EDITS_PER_SECOND) and the caller's contact records' objects (one a
  // second: Customer Profiles takes one object write a profile a second, and the record queue keeps to it)
  { id: 'hit-stream', label: `${hit}, profile event stream read`, server: 'cache-hit-stream', connections: 'high', traffic: 'one-known', edits: true },
  { id: 'known', label: 'Known caller, cold cache', server: 'known-cold', connections: 'low', traffic: 'known-cold', awsCallsInSequence: 1 },
  { id: 'known-load', label: 'Known caller, cold cache', server: 'known-cold', connections: 'high', seconds: 'short', traffic: 'known-cold', awsCallsInSequence: 1 },
  // the contact record is off the hot path: with record writes taking 1 s at the fake, no answer waits for one
  { id: 'records', label: 'Known caller, cold cache, record writes 1000 ms', server: 'known-cold', connections: 'high', traffic: 'known-cold', warmup: 'none', requestsPerConnection: 20, fake: 'slow-record-writes' },
  { id: 'known-enrich', label: 'Known caller, cold cache, 3 enrichment sources', server: 'enrich', connections: 'low', traffic: 'enriched-cold', awsCallsInSequence: 2 },
  { id: 'hit-enrich', label: 'Cache hit: one known caller, 3 enrichment sources', server: 'enrich', connections: 'high', traffic: 'one-enriched' },
  { id: 'new', label: 'New caller', server: 'new', connections: 'low', traffic: 'new', awsCallsInSequence: 2 },
  { id: 'new-load', label: 'New caller', server: 'new', connections: 'high', seconds: 'short', traffic: 'new', awsCallsInSequence: 2 },
  { id: 'naive-known', label: 'Naive peer: known caller', server: 'naive', connections: 'low', traffic: 'known-cold', awsCallsInSequence: 2 },
  { id: 'naive-known-load', label: 'Naive peer: known caller', server: 'naive', connections: 'high', seconds: 'short', traffic: 'known-cold', awsCallsInSequence: 2 },
  { id: 'naive-new', label: 'Naive peer: new caller', server: 'naive', connections: 'low', traffic: 'new', awsCallsInSequence: 3 },
  { id: 'naive-new-load', label: 'Naive peer: new caller', server: 'naive', connections: 'high', seconds: 'short', traffic: 'new', awsCallsInSequence: 3 },
  // callers who called before, each again every few seconds. One caller alone would run into Customer Profiles'
  // limit of one object per profile per second on every PutProfileObject: the pool spares the peer that. (The
  // peer keeps nothing between calls, so its warm-up needs no round of the pool.)
  { id: 'naive-repeat-low', label: naivePool, server: 'naive', connections: 'low', seconds: 'short', traffic: 'pool' },
  { id: 'naive-repeat', label: naivePool, server: 'naive', connections: 'high', traffic: 'pool' },
  { id: 'outage', label: `Outage: fake hangs (${OUTAGE_CONNECTIONS} callers, arrivals spread)`, server: 'outage', connections: OUTAGE_CONNECTIONS, traffic: 'new', awsCallsInSequence: 2, warmup: 'brief', requestsPerConnection: 6, staggerMs: DEADLINE_MS / OUTAGE_CONNECTIONS, fake: 'hang' },
  { id: 'outage-burst', label: `Outage: fake hangs (${OUTAGE_CONNECTIONS} callers in step)`, server: 'outage', connections: OUTAGE_CONNECTIONS, traffic: 'new', awsCallsInSequence: 2, warmup: 'brief', requestsPerConnection: 6, fake: 'hang' },
  // how long after the answer the contact is associated with its profile (its _ctrContactId key), at rest and under
  // the record queue's pacing; its own table and targets (bench/association.ts)
  { id: 'association', label: "Association: the _ctrContactId key after the answer, at rest and under the record queue's pacing", server: 'association', connections: 2, traffic: 'new' },
  // last: it turns the fake's account quota on (and off again when done); its own table and targets (bench/surge.ts)
  { id: 'surge', label: 'Surge: 2 replicas, new callers at 3x then 2x the account quota', server: 'surge', connections: 600, traffic: 'new' },
];

/**
 * The scenarios `--only` selects (all without it), in table order. An open-loop row needs `hit` (its rate comes
 * from it): without `hit` it is left out. An id that is not in the table is an error.
 */
export function selectScenarios(only: ReadonlySet<string> | undefined, table: readonly Scenario[] = SCENARIOS): Scenario[] {
  if (!only) return [...table];
  const unknown = [...only].filter((id) => !table.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`--only: no scenario ${unknown.join(', ')} (the scenarios: ${table.map((s) => s.id).join(', ')})`);
  return table.filter((s) => only.has(s.id) && (s.openLoopPct === undefined || only.has('hit')));
}
