import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../ops/logger.js';
import { jobIdOf, type QueuedJob, type RecordProgress } from './job.js';
import { backoffMs, selects, type DeadLetter, type DeadLetterStore, type QueueHooks, type RecordQueue, type Selection } from './queue.js';
import { RecordError } from './errors.js';
import type { RecordWriter } from './writer.js';

interface Entry {
  job: QueuedJob;
  progress: RecordProgress;
  attempts: number;
  readyAt: number;
  /** for a job whose append to Redis timed out: did it reach Redis after all? (throws: Redis cannot say yet) */
  landed?: (() => Promise<boolean>) | undefined;
  /** until when to keep asking before writing it from here anyway (a double write beats a lost one) */
  askUntil?: number;
}

const MAX_PENDING = 10_000;
// How long a job whose append timed out waits for Redis to say whether it landed, asking this often.
// An append that did land is written by the Redis queue; one that did not (or a Redis that stays
// silent this long) is written from here.
const ASK_FOR_MS = 5000;
const ASK_EVERY_MS = 500;
// Records handed to the Redis queue at a stop, a batch (one append) at a time.
const HAND_OVER_BATCH = 500;

/**
 * The in-process contact-record queue, for runs without Redis (and for records that could not reach
 * Redis). Same steps, pacing, retries and dead letters as the Redis queue, but its records live in
 * this process only: they are lost if it dies.
 */
export class LocalRecordQueue implements RecordQueue, DeadLetterStore {
  readonly kind = 'in-process';
  readonly deadLetters: DeadLetterStore = this;
  private readonly pending: Entry[] = [];
  private readonly dead: Array<DeadLetter & { job: QueuedJob }> = [];
  private readonly seen = new LRUCache<string, true>({ max: 100_000, ttl: 3_600_000 });
  private readonly fleetRate: RateLimiterMemory;
  private pausedUntil = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closing = false;
  private idle: (() => void) | undefined;

  constructor(
    private readonly writer: RecordWriter,
    private readonly o: { ratePerSecond: number; maxAttempts: number; concurrency?: number; logger: Logger; hooks?: QueueHooks },
  ) {
    this.fleetRate = new RateLimiterMemory({ points: o.ratePerSecond, duration: 1 });
  }

  /** `landed`: the job's append to Redis timed out; it is written from here only if that append did not land */
  enqueue(job: QueuedJob, landed?: () => Promise<boolean>): Promise<'QUEUED' | 'FAILED'> {
    const id = jobIdOf(job);
    if (this.seen.has(id)) return Promise.resolve('QUEUED');
    if (this.pending.length >= MAX_PENDING || this.closing) return Promise.resolve('FAILED');
    this.seen.set(id, true);
    this.pending.push({ job, progress: {}, attempts: 0, readyAt: 0, ...(landed && { landed, askUntil: Date.now() + ASK_FOR_MS }) });
    this.schedule(0);
    return Promise.resolve('QUEUED');
  }

  start(): void {
    this.started = true;
    this.schedule(0);
  }

  yieldTo(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
  }

  depth(): Promise<number> {
    return Promise.resolve(this.pending.length + this.running);
  }

  /**
   * Stops taking work; the writes in hand finish. `handTo`: where the records still waiting can go instead
   * of being lost with the process (the Redis queue, for the records it could not take earlier), a batch at
   * a time; it answers whether it took the batch. A record whose earlier append may have landed after all
   * is asked about first, and not handed over again when it did. The first batch refused ends the hand-over
   * (Redis is not taking appends: the stop does not wait on it batch after batch). What is left is logged:
   * how many, and which ContactIds.
   */
  async close(o: { handTo?: (jobs: QueuedJob[]) => Promise<boolean> } = {}): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    if (o.handTo && this.pending.length > 0) {
      // asked side by side: a stop waits one round trip for them, not one each
      const held = this.pending.splice(0);
      const landed = await Promise.all(held.map((e) => (e.landed ? e.landed().catch(() => false) : Promise.resolve(false))));
      const waiting = held.filter((_, i) => !landed[i]);
      let handed = 0;
      while (handed < waiting.length) {
        const batch = waiting.slice(handed, handed + HAND_OVER_BATCH);
        if (!(await o.handTo(batch.map((e) => e.job)).catch(() => false))) break;
        handed += batch.length;
      }
      this.pending.push(...waiting.slice(handed));
      if (handed > 0) this.o.logger.info({ records: handed }, 'in-process contact records handed to the Redis queue at shutdown');
    }
    if (this.pending.length > 0) {
      // ContactIds only: nothing personal; enough to find each contact in Connect and write its record again
      const contactIds = this.pending.map((e) => e.job.contactId);
      this.o.logger.warn({ records: contactIds.length, contactIds: contactIds.slice(0, 1000) }, 'in-process contact records not written before exit');
    }
  }

  private schedule(ms: number): void {
    if (!this.started || this.closing) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pump(), ms);
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    const now = Date.now();
    if (now < this.pausedUntil) return this.schedule(this.pausedUntil - now);
    const concurrency = this.o.concurrency ?? 4;
    while (this.running < concurrency && !this.closing) {
      const i = this.pending.findIndex((e) => e.readyAt <= Date.now());
      if (i < 0) break;
      try {
        await this.fleetRate.consume('records');
      } catch (res) {
        return this.schedule(res instanceof RateLimiterRes ? res.msBeforeNext : 100);
      }
      const [entry] = this.pending.splice(i, 1);
      this.running++;
      void this.process(entry!).finally(() => {
        this.running--;
        if (this.running === 0) this.idle?.();
        this.schedule(0);
      });
    }
    const next = Math.min(...this.pending.map((e) => e.readyAt));
    if (Number.isFinite(next)) this.schedule(Math.max(0, next - Date.now()));
  }

  private async process(entry: Entry): Promise<void> {
    const hooks = this.o.hooks;
    if (entry.landed) {
      // An error reply to the question (LOADING: a restarted Redis still reading the data the append may be
      // in) says nothing about the append, unlike an error reply to the append itself (then there is no
      // question: see RedisRecordQueue.enqueue). So both it and a lost reply mean "cannot say yet": ask
      // again until askUntil, then write from here (a full Redis still answers it: the check only reads).
      const landed = await entry.landed().catch(() => undefined);
      if (landed === true) {
        this.o.logger.info({ contactId: entry.job.contactId }, 'record reached Redis after all: written from the Redis queue, not from this process');
        return;
      }
      if (landed === undefined && Date.now() < (entry.askUntil ?? 0)) {
        this.pending.push({ ...entry, readyAt: Date.now() + ASK_EVERY_MS });
        return;
      }
      entry.landed = undefined;
    }
    try {
      const outcome = await this.writer.run(entry.job, entry.progress);
      if (outcome.done) return hooks?.onOutcome?.('written');
      hooks?.onOutcome?.('paced');
      this.pending.push({ ...entry, readyAt: Date.now() + outcome.delayMs });
    } catch (err) {
      const e = err instanceof RecordError ? err : new RecordError('retryable', String(err));
      if (e.kind === 'throttled') {
        hooks?.onOutcome?.('throttled');
        this.yieldTo(e.retryAfterMs ?? 1000);
        this.pending.push(entry);
        return;
      }
      entry.attempts++;
      if (e.kind === 'permanent' || entry.attempts >= this.o.maxAttempts) {
        const letter = { ...this.letterOf(entry.job, entry.attempts, e.message), job: entry.job };
        this.dead.push(letter);
        this.o.logger.error({ contactId: entry.job.contactId, attempts: entry.attempts, error: e.message }, 'contact record dead-lettered');
        hooks?.onDeadLetter?.(letter);
        hooks?.onOutcome?.('dead-lettered');
        await this.writer.abandoned(entry.job);
        return;
      }
      hooks?.onOutcome?.('retried');
      this.pending.push({ ...entry, readyAt: Date.now() + backoffMs(entry.attempts, e.retryAfterMs) });
    }
  }

  private letterOf(job: QueuedJob, attempts: number, error: string): DeadLetter {
    return {
      id: jobIdOf(job),
      kind: job.kind ?? 'record',
      contactId: job.contactId,
      profileId: job.profileId,
      receivedAt: job.receivedAt,
      failedAt: new Date().toISOString(),
      attempts,
      error,
    };
  }

  /** erasure: drops the caller's records not yet written and its dead letters */
  forget(identityTag: string): number {
    let removed = 0;
    for (const list of [this.pending, this.dead] as Array<Array<{ job: QueuedJob }>>) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]!.job.identityTag === identityTag) {
          list.splice(i, 1);
          removed++;
        }
      }
    }
    return removed;
  }

  // dead letters (in this process only)
  list(limit = 100): Promise<DeadLetter[]> {
    return Promise.resolve(this.dead.slice(0, limit).map(({ job: _job, ...letter }) => letter));
  }
  replay(which: Selection): Promise<number> {
    const chosen = this.dead.filter((d) => selects(which, d.contactId));
    for (const d of chosen) {
      this.dead.splice(this.dead.indexOf(d), 1);
      this.pending.push({ job: d.job, progress: {}, attempts: 0, readyAt: 0 });
    }
    this.schedule(0);
    return Promise.resolve(chosen.length);
  }
  purge(which: Selection): Promise<number> {
    const before = this.dead.length;
    for (let i = this.dead.length - 1; i >= 0; i--) if (selects(which, this.dead[i]!.contactId)) this.dead.splice(i, 1);
    return Promise.resolve(before - this.dead.length);
  }
  count(): Promise<number> {
    return Promise.resolve(this.dead.length);
  }
}
