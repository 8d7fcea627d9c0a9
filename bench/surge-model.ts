// The surge's pure computations (bench/surge.ts runs it): its schedule of contacts, and what its results come to.
import { percentiles, type Latency } from './load.js';
import { random } from './open-loop.js';

/** The surge's shape; SURGE is the benchmark's. */
export interface SurgeShape {
  replicas: number;
  /** phase 1: this many callers never seen, sent within `burstMs` */
  burst: number;
  burstMs: number;
  /** phase 2: callers a second for `sustainSeconds` */
  sustainPerSecond: number;
  sustainSeconds: number;
  /** of phase 2's contacts, the % that are repeat callers (callers of a contact at least `repeatAfterMs` earlier) */
  repeatPct: number;
  repeatAfterMs: number;
  /** the service's RESOLVE_DEADLINE_MS */
  deadlineMs: number;
  /** the fake's account quota, calls a second per operation, and the fleet's share of it (CUSTOMER_PROFILES_FLEET_SHARE_PERCENT) */
  accountQuota: number;
  sharePercent: number;
  seed: number;
}

export const SURGE: SurgeShape = {
  replicas: 2,
  burst: 300,
  burstMs: 1000,
  sustainPerSecond: 200,
  sustainSeconds: 10,
  repeatPct: 20,
  repeatAfterMs: 2000,
  deadlineMs: 1500,
  accountQuota: 100,
  sharePercent: 60,
  seed: 20261206,
};

/** The fleet's calls a second per operation, as the service computes it from the percent (config/index.ts). */
export const shareOf = (s: Pick<SurgeShape, 'accountQuota' | 'sharePercent'>): number => Math.max(1, Math.floor((s.accountQuota * s.sharePercent) / 100));

/** One contact of the schedule: when it is due (ms from the start), to which replica, from which caller (an index). */
export interface Planned {
  dueMs: number;
  phase: 1 | 2;
  replica: number;
  caller: number;
  /** the caller called before in this run */
  repeat: boolean;
}

/** Phase 1: `burst` new callers evenly over `burstMs`; phase 2: evenly at `sustainPerSecond`, `repeatPct` of them repeat callers. Replicas in turn. */
export function schedule(s: SurgeShape): Planned[] {
  const next = random(s.seed);
  const out: Planned[] = [];
  let callers = 0;
  for (let i = 0; i < s.burst; i++) out.push({ dueMs: (i * s.burstMs) / s.burst, phase: 1, replica: out.length % s.replicas, caller: callers++, repeat: false });
  const gap = 1000 / s.sustainPerSecond;
  for (let i = 0; i < s.sustainPerSecond * s.sustainSeconds; i++) {
    const dueMs = s.burstMs + i * gap;
    const earlier = out.filter((p) => p.dueMs <= dueMs - s.repeatAfterMs);
    const repeat = earlier.length > 0 && next() * 100 < s.repeatPct;
    const caller = repeat ? earlier[Math.floor(next() * earlier.length)]!.caller : callers++;
    out.push({ dueMs, phase: 2, replica: out.length % s.replicas, caller, repeat });
  }
  return out;
}

/** What came back for one contact. */
export interface Outcome {
  planned: Planned;
  contactId: string;
  /** HTTP status (0: no answer: a network error or timeout) */
  http: number;
  /** from the due time, ms */
  latencyMs: number;
  /** when the answer (or the failure) came, epoch ms */
  answeredAt: number;
  customerStatus: string;
  fallbackReason: string;
  contactRecordStatus: string;
}

const SERVED = new Set(['NEW', 'KNOWN']);

/**
 * The callers the share can serve inside their deadline: each contact that needs AWS (its caller not answered
 * NEW/KNOWN before it was due: no cached lookup) takes a SearchProfiles (and a new one a CreateProfile), so at most
 * `share` of them a second over the run (first due .. last due) and one deadline more; a repeat of a caller
 * answered NEW/KNOWN before its contact was due is a cache hit, which needs no share.
 */
export function canServe(outcomes: readonly Outcome[], share: number, deadlineMs: number): { canServe: number; needAws: number; cacheable: number; served: number; windowSeconds: number } {
  if (outcomes.length === 0) return { canServe: 0, needAws: 0, cacheable: 0, served: 0, windowSeconds: 0 };
  const servedAt = new Map<number, number>();
  for (const o of outcomes) {
    if (!SERVED.has(o.customerStatus)) continue;
    const at = o.planned.dueMs + o.latencyMs;
    servedAt.set(o.planned.caller, Math.min(at, servedAt.get(o.planned.caller) ?? Infinity));
  }
  const cacheable = outcomes.filter((o) => (servedAt.get(o.planned.caller) ?? Infinity) < o.planned.dueMs).length;
  const due = outcomes.map((o) => o.planned.dueMs);
  const windowSeconds = (Math.max(...due) - Math.min(...due) + deadlineMs) / 1000;
  const needAws = outcomes.length - cacheable;
  return {
    canServe: Math.min(needAws, Math.floor(share * windowSeconds)) + cacheable,
    needAws,
    cacheable,
    served: outcomes.filter((o) => SERVED.has(o.customerStatus)).length,
    windowSeconds,
  };
}

/** Answers by customerStatus (ERROR: no 2xx answer), each with its count and latency from the due time. */
export function byStatus(outcomes: readonly Outcome[]): Record<string, { count: number; latency: Latency }> {
  const groups = new Map<string, number[]>();
  for (const o of outcomes) {
    const key = o.http >= 200 && o.http < 300 ? o.customerStatus || '-' : 'ERROR';
    const list = groups.get(key) ?? [];
    list.push(o.latencyMs);
    groups.set(key, list);
  }
  return Object.fromEntries([...groups].sort((a, b) => b[1].length - a[1].length).map(([k, v]) => [k, { count: v.length, latency: percentiles(Float64Array.from(v)) }]));
}

/** fallbackReason of the 2xx answers that carry one */
export function fallbackReasons(outcomes: readonly Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) if (o.fallbackReason) out[o.fallbackReason] = (out[o.fallbackReason] ?? 0) + 1;
  return out;
}

/** Phones held by more than one profile, and the profiles beyond the first of each. */
export function duplicates(phones: readonly string[]): { phones: number; extraProfiles: number } {
  const count = new Map<string, number>();
  for (const p of phones) count.set(p, (count.get(p) ?? 0) + 1);
  const dup = [...count.values()].filter((n) => n > 1);
  return { phones: dup.length, extraProfiles: dup.reduce((s, n) => s + n - 1, 0) };
}

/** The contacts whose answer promised a record (contactRecordStatus QUEUED) and whose record is not among `written`. */
export function lostRecords(outcomes: readonly Outcome[], written: ReadonlySet<string>): { promised: number; lost: string[] } {
  const promised = outcomes.filter((o) => o.contactRecordStatus === 'QUEUED');
  return { promised: promised.length, lost: promised.filter((o) => !written.has(o.contactId)).map((o) => o.contactId) };
}

/** One second of the fake's quota stats, from the surge's start (second 0 = the second it started in). */
export interface SurgeSecond {
  second: number;
  operations: Record<string, { sent: number; refused: number; windowMax: number }>;
}

/** The fleet's calls over the run, per operation: sent, refused, the most sent in one calendar second and in any 1000 ms window. */
export function callTotals(seconds: readonly SurgeSecond[]): Record<string, { sent: number; refused: number; maxPerSecond: number; maxWindow: number }> {
  const out: Record<string, { sent: number; refused: number; maxPerSecond: number; maxWindow: number }> = {};
  for (const s of seconds) {
    for (const [op, c] of Object.entries(s.operations)) {
      const t = (out[op] ??= { sent: 0, refused: 0, maxPerSecond: 0, maxWindow: 0 });
      t.sent += c.sent;
      t.refused += c.refused;
      t.maxPerSecond = Math.max(t.maxPerSecond, c.sent);
      t.maxWindow = Math.max(t.maxWindow, c.windowMax);
    }
  }
  return out;
}
