import { RedisScript, type RedisClient, type RedisHealth } from '../redis/client.js';

/**
 * The fleet's share of the account's Customer Profiles quota, one allowance per operation.
 *
 * Customer Profiles allows about 100 requests a second per operation per **account**, and everything in
 * the account draws on it: the agent workspace's own searches, the built-in flow blocks, other tools.
 * The fleet keeps to a share of it (CUSTOMER_PROFILES_FLEET_SHARE_PERCENT of CUSTOMER_PROFILES_ACCOUNT_QUOTA,
 * or CUSTOMER_PROFILES_SHARE per operation), and every call it makes first books a slot:
 *
 * - Slots are spaced evenly (a generic cell rate: one every 1000/rate ms, booked in Redis' clock, so the
 *   fleet's replicas share one book and their clocks do not matter). A call waits for its slot, so the
 *   fleet never sends more than its share in any second, however the calls arrive; there is no burst
 *   to spend and no counter that resets at a second's edge (two halves of a burst across an edge would
 *   make two seconds' worth in one).
 * - Live callers first. A caller's lookup and creation (`live`) may book as far ahead as its deadline
 *   allows (less the time the call itself takes) and wait for the slot; one whose slot would come later
 *   is refused at once, and its answer goes out then (`UNAVAILABLE`, `fallbackReason: QUOTA`), not at the
 *   deadline. Enrichment (`enrich`) books only slots that come within ENRICH_AHEAD_MS, and is skipped
 *   otherwise: it takes what the lookups leave.
 *   Background writes (`background`) book at most BACKGROUND_AHEAD_MS ahead and otherwise come back
 *   later: a live caller arriving behind them waits at most that long for their slots.
 *   On a replica, a slot that comes up goes to the earliest deadline among the live callers waiting
 *   (then enrichment, then background): a caller with a short budget does not wait behind one with a
 *   long one that booked first.
 * - Adaptive. A 429 from AWS means someone else in the account is using the quota: the fleet's rate for
 *   that operation halves (at most once a second, never below MIN_FACTOR of the share) and climbs back
 *   linearly, the whole share again RECOVER_MS after a cut.
 *
 * Without Redis (or while it fails) each replica keeps the book in its own memory, as if it were the
 * whole fleet: the fleet then makes at most one share per replica.
 */
export type Priority = 'live' | 'enrich' | 'background';

/**
 * How far ahead enrichment may book. Its calls go once the lookup has found the profile, without waiting
 * for their slots: a burst of callers' sources at one instant are not all skipped, and a source may start
 * at most this long before its slot (the fleet's enrichment calls in any second stay within 10% of the share).
 */
export const ENRICH_AHEAD_MS = 100;
/** How far ahead a background write may book: a live caller waits at most this long behind background writes. */
export const BACKGROUND_AHEAD_MS = 250;
/** The share left after a 429, as a fraction of what it was; never below MIN_FACTOR of the configured share. */
export const CUT = 0.5;
export const MIN_FACTOR = 0.1;
/** From a cut, the rate climbs back linearly: the whole share again this long after the cut (from MIN_FACTOR: 90% of it). */
export const RECOVER_MS = 10_000;
/** At most one cut a second: the 429s of calls already in flight when the first came are the same news. */
const CUT_EVERY_MS = 1000;
/** Slots are spaced this much wider than the share asks: arrival jitter between the fleet and AWS (like records/pacer.ts' 5%). */
const SPACING_MARGIN = 1.02;

/** What the book answered: the wait for the first slot booked, or a refusal with how far ahead the first free slot is. */
export interface Booking {
  granted: boolean;
  /** granted: ms until the slot; refused: ms until the first free slot */
  waitMs: number;
  /**
   * When, in this process's clock, `waitMs` counts from: when the book decided (the memory book), or
   * when it was asked (Redis decides in its own clock, at about that moment; a reply that comes late,
   * the process stalled, has its slot passed by then)
   */
  from: number;
  /** the fraction of the share the operation runs at now (1: no back-off) */
  factor: number;
}

/** Where the fleet's slots are booked: Redis (shared), or this process. */
export interface QuotaBook {
  /** books `count` slots of `operation` at `perSecond` unless the last would come more than `maxAheadMs` from now */
  book(operation: string, perSecond: number, count: number, maxAheadMs: number): Promise<Booking>;
  /** AWS throttled a call of `operation` (share `perSecond`): the fleet's rate for it backs off, and its next slot is a gap away */
  throttled(operation: string, perSecond: number): Promise<void>;
}

interface Line {
  /** when the next free slot is (epoch ms, fractional) */
  tat: number;
  cut?: number;
  cutAt?: number;
}

function factorAt(line: Line, now: number): number {
  return line.cut === undefined ? 1 : Math.min(1, line.cut + (now - line.cutAt!) / RECOVER_MS);
}

/** The book in this process's memory: one replica alone, or while Redis fails. */
export class MemoryQuotaBook implements QuotaBook {
  private readonly lines = new Map<string, Line>();

  constructor(private readonly now: () => number = Date.now) {}

  book(operation: string, perSecond: number, count: number, maxAheadMs: number): Promise<Booking> {
    const now = this.now();
    const line = this.line(operation);
    const factor = factorAt(line, now);
    const gap = (1000 * SPACING_MARGIN) / (perSecond * factor);
    const slot = Math.max(now, line.tat);
    if (slot + (count - 1) * gap - now > maxAheadMs) return Promise.resolve({ granted: false, waitMs: Math.ceil(slot - now), factor, from: now });
    line.tat = slot + count * gap;
    return Promise.resolve({ granted: true, waitMs: Math.ceil(slot - now), factor, from: now });
  }

  throttled(operation: string, perSecond: number): Promise<void> {
    const now = this.now();
    const line = this.line(operation);
    if (line.cutAt === undefined || now - line.cutAt >= CUT_EVERY_MS) {
      line.cut = Math.max(MIN_FACTOR, factorAt(line, now) * CUT);
      line.cutAt = now;
    }
    // the next call of the operation one gap of the lowered rate from now, at the soonest: a call retried
    // after the 429 is not sent at once into the quota someone else is spending
    line.tat = Math.max(line.tat, now + (1000 * SPACING_MARGIN) / (perSecond * factorAt(line, now)));
    return Promise.resolve();
  }

  private line(operation: string): Line {
    let line = this.lines.get(operation);
    if (!line) this.lines.set(operation, (line = { tat: 0 }));
    return line;
  }
}

// BOOK (KEYS the operation's line; ARGV perSecond, count, maxAheadMs, spacing margin, recoverMs): books
// `count` slots unless the last would come more than maxAheadMs from now
// -> {granted 1|0, ms until the (first free) slot, factor in thousandths}. The line is a hash: tat (the
// next free slot, ms, fractional), cut and cutAt (the last back-off). Redis' clock.
const BOOK = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', KEYS[1], 'tat', 'cut', 'cutAt')
local tat = tonumber(h[1]) or 0
local factor = 1
if h[2] then factor = math.min(1, tonumber(h[2]) + (now - tonumber(h[3])) / tonumber(ARGV[5])) end
local gap = 1000 * tonumber(ARGV[4]) / (tonumber(ARGV[1]) * factor)
local slot = math.max(now, tat)
local ahead = math.ceil(slot - now)
if slot + (tonumber(ARGV[2]) - 1) * gap - now > tonumber(ARGV[3]) then return {0, ahead, math.floor(factor * 1000)} end
local nextFree = slot + tonumber(ARGV[2]) * gap
redis.call('HSET', KEYS[1], 'tat', tostring(nextFree))
redis.call('PEXPIRE', KEYS[1], math.ceil(nextFree - now) + tonumber(ARGV[5]))
return {1, ahead, math.floor(factor * 1000)}
`);

// THROTTLED (KEYS the operation's line; ARGV cut, minFactor, recoverMs, cutEveryMs, perSecond, spacing
// margin): the rate backs off (once per cutEveryMs at most), and the next slot is one gap of it from now
// at the soonest.
const THROTTLED = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local h = redis.call('HMGET', KEYS[1], 'tat', 'cut', 'cutAt')
local factor = 1
if h[2] then factor = math.min(1, tonumber(h[2]) + (now - tonumber(h[3])) / tonumber(ARGV[3])) end
if not (h[3] and now - tonumber(h[3]) < tonumber(ARGV[4])) then
  factor = math.max(tonumber(ARGV[2]), factor * tonumber(ARGV[1]))
  redis.call('HSET', KEYS[1], 'cut', tostring(factor), 'cutAt', tostring(now))
end
local tat = math.max(tonumber(h[1]) or 0, now + 1000 * tonumber(ARGV[6]) / (tonumber(ARGV[5]) * factor))
redis.call('HSET', KEYS[1], 'tat', tostring(tat))
redis.call('PEXPIRE', KEYS[1], math.ceil(tat - now) + tonumber(ARGV[3]) + 60000)
return 1
`);

/** The fleet's book in Redis, one key per operation (all in one slot: `{quota}`); this process's while Redis fails. */
export class RedisQuotaBook implements QuotaBook {
  private readonly alone = new MemoryQuotaBook();

  constructor(
    private readonly redis: RedisClient,
    private readonly keyOf: (operation: string) => string,
    private readonly health?: Pick<RedisHealth, 'failed'>,
  ) {}

  async book(operation: string, perSecond: number, count: number, maxAheadMs: number): Promise<Booking> {
    const from = Date.now();
    try {
      const [granted, waitMs, factor] = (await BOOK.run(this.redis, [this.keyOf(operation)], [perSecond, count, maxAheadMs, SPACING_MARGIN, RECOVER_MS])) as number[];
      return { granted: granted === 1, waitMs: waitMs!, factor: factor! / 1000, from };
    } catch (err) {
      // Redis failing: this replica keeps to the share as if it were the whole fleet. An error reply and a
      // lost one end alike: a full Redis may refuse for hours, and going ahead unbounded that long would
      // spend what the agent workspace relies on; a lost reply booked a slot nobody uses (the fleet errs low).
      this.health?.failed('quota.book', err);
      return this.alone.book(operation, perSecond, count, maxAheadMs);
    }
  }

  async throttled(operation: string, perSecond: number): Promise<void> {
    await this.alone.throttled(operation, perSecond);
    try {
      await THROTTLED.run(this.redis, [this.keyOf(operation)], [CUT, MIN_FACTOR, RECOVER_MS, CUT_EVERY_MS, perSecond, SPACING_MARGIN]);
    } catch (err) {
      this.health?.failed('quota.throttled', err);
    }
  }
}

export type QuotaResult = 'granted' | 'waited' | 'refused' | 'missed';

/** What the allowance tells the metrics. */
export interface QuotaObserver {
  /**
   * granted: the slot was free; waited: granted after a wait; refused: no slot in time; missed: the process
   * stalled past the slot, the call books again; `calls` booked (or refused) at once
   */
  booked(operation: string, priority: Priority, result: QuotaResult, waitedMs: number, calls: number): void;
  /** the fleet's rate for the operation now (its share, less any back-off) */
  rate(operation: string, perSecond: number): void;
  /** AWS answered 429 */
  throttled(operation: string): void;
}

/** The fleet's calls per second for each operation. */
export interface QuotaShares {
  /** the share of an operation not named in `perOperation` */
  default: number;
  perOperation: ReadonlyMap<string, number>;
}

/** A grant, or a refusal with how long until the first free slot. */
export type Grant = { granted: true; waitedMs: number } | { granted: false; retryInMs: number };

export class QuotaRefused extends Error {
  constructor(
    readonly operation: string,
    readonly retryInMs: number,
  ) {
    super(`${operation}: the fleet's share of the account quota has no call free in time (next in ${retryInMs} ms)`);
    this.name = 'QuotaRefused';
  }
}

/** The fleet's allowance of enrichment calls, taken all at once for a lookup's sources (contact/enrich.ts). */
export interface CallBudget {
  /** Takes `count` calls of each operation now; returns the operations granted (all or none of each). */
  take(wanted: ReadonlyMap<string, number>): Promise<Set<string>>;
}

interface Waiter {
  rank: number;
  /** latest start (live), or arrival (others): the order among waiters of one rank */
  order: number;
  /** with the time of the slot that served it */
  resolve: (servedAt: number) => void;
}

const RANK: Record<Priority, number> = { live: 0, enrich: 1, background: 2 };
/** What a call is reckoned to take before any has been measured. */
const FIRST_CALL_MS = 100;
/** How late past its slot a call may still go (see acquire): 3 calls' worth at a share of 60 a second. */
const LATE_MS = 50;
/** Bookings one call makes at most when each slot is missed; it goes at the last, late or not. */
const MAX_BOOKINGS = 2;
/** What a live call's reserve adds to its measured time: the event loop's lag on a busy replica. */
const RESERVE_LAG_MS = 50;

/**
 * The allowance every Customer Profiles call goes through (see the top of this file). One per process;
 * its book is this process's until a state backend with Redis shares it (`shareThrough`).
 */
export class AccountQuota implements CallBudget {
  private book: QuotaBook;
  /** by operation: the callers waiting for a slot on this replica, earliest deadline first */
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly callMs = new Map<string, number>();

  constructor(
    private readonly shares: QuotaShares,
    private readonly observer?: QuotaObserver,
    private readonly now: () => number = Date.now,
  ) {
    this.book = new MemoryQuotaBook(now);
  }

  /** From now on the slots are booked in `book` (the fleet's, in Redis). */
  shareThrough(book: QuotaBook): void {
    this.book = book;
  }

  share(operation: string): number {
    return this.shares.perOperation.get(operation) ?? this.shares.default;
  }

  /**
   * Waits for a slot for one call of `operation`. `latestStartAt` (epoch ms): a live call refused if its
   * slot would come later (default: it may wait until `signal` aborts). Rejects with the signal's reason
   * when it aborts while waiting.
   *
   * A slot is a time to send, not a ticket for later: a call whose slot's timer fired more than LATE_MS
   * late (the process stalled) books again rather than go in a bunch with the next slots' calls (in the
   * surge bench, a replica's 234 ms stall put 66 SearchProfiles into one second of a share of 60). At
   * most MAX_BOOKINGS bookings: the last goes, late or not.
   */
  async acquire(operation: string, priority: Priority, o: { latestStartAt?: number | undefined; signal?: AbortSignal | undefined } = {}): Promise<Grant> {
    const started = this.now();
    const latestStartAt = priority === 'live' ? (o.latestStartAt ?? started + 8000) : undefined;
    for (let booking = 1; ; booking++) {
      const asked = this.now();
      const ahead = latestStartAt !== undefined ? latestStartAt - asked : priority === 'background' ? BACKGROUND_AHEAD_MS : ENRICH_AHEAD_MS;
      // past its latest start (its reserve is a guess, or the process stalled), a call still takes a slot
      // that is free now: it may not wait, and the deadline itself bounds the call
      const answer = await this.book.book(operation, this.share(operation), 1, Math.max(0, ahead));
      this.observer?.rate(operation, this.share(operation) * answer.factor);
      if (!answer.granted) {
        this.observer?.booked(operation, priority, 'refused', 0, 1);
        return { granted: false, retryInMs: answer.waitMs };
      }
      // the slot in this process's clock. A reply that comes at or after it goes at once: a steady delay
      // (Redis' round trip) shifts every call alike and bunches none; a slot's timer that fires late is
      // the process stalling while calls were lined up behind it
      const slotAt = answer.from + answer.waitMs;
      const servedAt = slotAt > this.now() ? await this.waitForSlot(operation, priority, slotAt, latestStartAt ?? started, o.signal) : this.now();
      const waitedMs = this.now() - started;
      // a call that missed MAX_BOOKINGS slots goes late: a process that lags that much on every timer
      // would otherwise spend a slot per call on nothing, and refuse callers who have time left
      if (this.now() - servedAt <= LATE_MS || booking >= MAX_BOOKINGS) {
        this.observer?.booked(operation, priority, answer.waitMs > 0 || booking > 1 ? 'waited' : 'granted', waitedMs, 1);
        return { granted: true, waitedMs };
      }
      this.observer?.booked(operation, priority, 'missed', 0, 1);
    }
  }

  /** Enrichment: `count` calls of each operation, only from slots that come within ENRICH_AHEAD_MS (it takes what the lookups leave). */
  async take(wanted: ReadonlyMap<string, number>): Promise<Set<string>> {
    const granted = new Set<string>();
    await Promise.all(
      [...wanted].map(async ([operation, count]) => {
        const booking = await this.book.book(operation, this.share(operation), count, ENRICH_AHEAD_MS);
        this.observer?.rate(operation, this.share(operation) * booking.factor);
        this.observer?.booked(operation, 'enrich', booking.granted ? 'granted' : 'refused', 0, count);
        if (booking.granted) granted.add(operation);
      }),
    );
    return granted;
  }

  /** AWS throttled a call of `operation` (429): the fleet backs off (fire and forget). */
  throttled(operation: string): void {
    this.observer?.throttled(operation);
    void this.book.throttled(operation, this.share(operation));
  }

  /**
   * How long before its deadline a live call of `operation` must start: twice what its calls have been
   * taking, and RESERVE_LAG_MS for the event loop (a slot's timer and the reply's read run late on a busy
   * replica: in the surge bench, loops lagged 60 ms at p99, and creations that started at twice their
   * average ended after the deadline, their callers answered TIMEOUT though a profile was made).
   */
  callReserveMs(operation: string): number {
    return Math.min(1000, 2 * (this.callMs.get(operation) ?? FIRST_CALL_MS) + RESERVE_LAG_MS);
  }

  /** A call of `operation` took `ms` (for callReserveMs: a moving average). */
  observeCall(operation: string, ms: number): void {
    const before = this.callMs.get(operation);
    this.callMs.set(operation, before === undefined ? ms : before * 0.9 + ms * 0.1);
  }

  /**
   * Waits until a slot of the operation comes up on this replica and is this caller's: each booked slot,
   * when its time comes, goes to the first waiter (live before enrichment before background; among live
   * ones the earliest latest-start). Every waiter booked one slot, so each has one to come; a waiter
   * served by an earlier slot than its own leaves its own to the next. Resolves with the time of the slot
   * that served it.
   */
  private waitForSlot(operation: string, priority: Priority, slotAt: number, order: number, signal: AbortSignal | undefined): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const queue = this.waiting.get(operation) ?? [];
      this.waiting.set(operation, queue);
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted while waiting for a slot'));
      };
      const waiter: Waiter = {
        rank: RANK[priority],
        order,
        resolve: (servedAt) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(servedAt);
        },
      };
      let at = queue.findIndex((w) => w.rank > waiter.rank || (w.rank === waiter.rank && w.order > order));
      if (at < 0) at = queue.length;
      queue.splice(at, 0, waiter);
      // the slot is booked either way: when it comes it goes to the next waiter, if any
      setTimeout(() => queue.shift()?.resolve(slotAt), slotAt - this.now());
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
