// The association bench's pure parts (bench/association.ts runs it): its schedules, and the delay from each answer
// to its contact's `_ctrContactId` key, the key that associates the contact with its profile (the agent sees the
// contact associated, and the contact record Connect ingests when the contact ends lands on that profile).
import { random } from './open-loop.js';
import { shareOf, type Planned } from './surge-model.js';

/** The bench's shape; ASSOCIATION is the benchmark's. */
export interface AssociationShape {
  replicas: number;
  /** phase A, at rest: this many callers never seen, at `restPerSecond` */
  restContacts: number;
  restPerSecond: number;
  /** between the phases (not measured): this many more callers never seen, at `poolPerSecond`; with phase A's, the pool phase B calls again */
  poolCallers: number;
  poolPerSecond: number;
  /** phase B: `burstFactor` x the fleet's record write rate, for `burstSeconds` */
  burstFactor: number;
  burstSeconds: number;
  /** of phase B's contacts, the % from callers never seen (a lookup and a creation each, within the lookup share) ... */
  burstNewPct: number;
  /** ... and the % from `hotCallers` callers of the pool, in turn: several contacts a second each, their object writes paced; the rest are pool callers drawn at random */
  burstHotPct: number;
  hotCallers: number;
  /** the service's CUSTOMER_PROFILES_ACCOUNT_QUOTA and CUSTOMER_PROFILES_FLEET_SHARE_PERCENT (the defaults); RECORD_WRITES_PER_SECOND is
   *  left unset: the fleet starts PutProfileObject's share of records a second */
  accountQuota: number;
  sharePercent: number;
  /** a key not written this long after its contact's answer counts as never written */
  keyWaitMs: number;
  seed: number;
}

export const ASSOCIATION: AssociationShape = {
  replicas: 2,
  restContacts: 60,
  restPerSecond: 5,
  poolCallers: 240,
  poolPerSecond: 40,
  burstFactor: 3,
  burstSeconds: 5,
  burstNewPct: 15,
  burstHotPct: 10,
  hotCallers: 5,
  accountQuota: 100,
  sharePercent: 60,
  keyWaitMs: 30_000,
  seed: 20261207,
};

/** The fleet's record write rate: RECORD_WRITES_PER_SECOND's default, PutProfileObject's share (src/config/index.ts). */
export const recordRateOf = (s: Pick<AssociationShape, 'accountQuota' | 'sharePercent'>): number => shareOf(s);

/** Who a contact of phase B is: a caller never seen, one of the hot callers, or a caller of the pool. */
export type CallerKind = 'new' | 'hot' | 'pool';

/** `count` contacts of callers `first`, `first + 1`, ... evenly at `perSecond`, replicas in turn. */
export function evenly(count: number, perSecond: number, first: number, replicas: number): Planned[] {
  return Array.from({ length: count }, (_, i) => ({ dueMs: (i * 1000) / perSecond, phase: 1, replica: i % replicas, caller: first + i, repeat: false }));
}

/**
 * Phase B: `burstFactor` x the record rate for `burstSeconds`, evenly spaced, replicas in turn. Callers 0 .. pool - 1
 * have called before (their lookups cached): the first `hotCallers` of them take `burstHotPct` of the contacts in
 * turn, pool callers drawn at random the rest; `burstNewPct` are callers never seen, numbered from `pool` on.
 */
export function burstSchedule(s: AssociationShape): { plan: Planned[]; kinds: CallerKind[] } {
  const next = random(s.seed);
  const pool = s.restContacts + s.poolCallers;
  const perSecond = s.burstFactor * recordRateOf(s);
  const count = Math.round(perSecond * s.burstSeconds);
  const plan: Planned[] = [];
  const kinds: CallerKind[] = [];
  let fresh = pool;
  let hot = 0;
  for (let i = 0; i < count; i++) {
    const r = next() * 100;
    const kind: CallerKind = r < s.burstNewPct ? 'new' : r < s.burstNewPct + s.burstHotPct ? 'hot' : 'pool';
    const caller = kind === 'new' ? fresh++ : kind === 'hot' ? hot++ % s.hotCallers : Math.floor(next() * pool);
    plan.push({ dueMs: (i * 1000) / perSecond, phase: 2, replica: i % s.replicas, caller, repeat: kind !== 'new' });
    kinds.push(kind);
  }
  return { plan, kinds };
}

/** Nearest-rank percentiles (bench/load.ts' rule) of the delays, ms; a key never written counts as infinitely late. */
export interface DelayStats {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** What the delays of one group of contacts came to. */
export interface KeyDelays {
  /** contacts answered with contactRecordStatus QUEUED (the others have no record, so no key) */
  contacts: number;
  /** of them, keys the fake saw written */
  written: number;
  /** keys never written, or written more than `waitMs` after the answer */
  late: number;
  /** key time - answer time, over every contact (a key not written: Infinity) */
  delay: DelayStats;
}

export function delayStats(delays: readonly number[]): DelayStats {
  const sorted = Float64Array.from(delays).sort();
  const n = sorted.length;
  const at = (q: number): number => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: n === 0 ? NaN : sorted[n - 1]! };
}

/** The delay from each answer (this machine's epoch ms) to its contact's key (the fake's epoch ms: the same clock). */
export function keyDelays(answers: ReadonlyArray<{ contactId: string; answeredAt: number }>, keys: Readonly<Record<string, number>>, waitMs: number): KeyDelays {
  const delays = answers.map((a) => {
    const at = keys[a.contactId];
    return at === undefined ? Infinity : at - a.answeredAt;
  });
  return {
    contacts: answers.length,
    written: answers.filter((a) => keys[a.contactId] !== undefined).length,
    late: delays.filter((d) => d > waitMs).length,
    delay: delayStats(delays),
  };
}

/**
 * The queue's own floor: each key at the earliest if keys were written one after another at `perSecond`, in the
 * order the answers came, none before its answer. A FIFO queue whose every job writes one key can do no better.
 */
export function fifoDelays(answeredAt: readonly number[], perSecond: number): DelayStats {
  const gap = 1000 / perSecond;
  let free = -Infinity;
  const delays = [...answeredAt].sort((a, b) => a - b).map((t) => {
    const at = Math.max(t, free);
    free = at + gap;
    return at - t;
  });
  return delayStats(delays);
}
