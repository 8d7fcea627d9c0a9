import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { hitInbox, openHitEntry, type HitEntry } from '../cache/contact-hit.js';
import { isErrorReply, RELEASE_LEASE, RedisScript, type RedisClient } from '../redis/client.js';
import type { Sealer } from '../redis/seal.js';
import type { Logger } from '../ops/logger.js';
import { jobIdOf, type QueuedJob, type RecordProgress } from './job.js';
import type { LocalRecordQueue } from './local-queue.js';
import { backoffMs, selects, type DeadLetter, type DeadLetterStore, type QueueHooks, type RecordQueue, type Selection } from './queue.js';
import { RecordError } from './errors.js';
import type { RecordWriter } from './writer.js';

/**
 * In Redis a record keeps in clear only what is not personal (ids, time, the identity's keyed
 * hash); the rest (the caller's number or address, contact attributes) is sealed with the data key.
 */
interface JobData {
  /** absent for records queued before updates existed: the ContactId */
  jobId?: string;
  kind?: 'record' | 'update';
  contactId: string;
  profileId: string;
  receivedAt: string;
  identityTag: string;
  sealed: string;
  progress: RecordProgress;
  /**
   * A cache hit's record that its mover could not complete (see openHitEntry): `sealed` holds the record
   * without its profile, and this its lookup, as the hit inbox had them; a worker completes it.
   */
  lookup?: string;
}

const QUEUE = 'contact-records';

/** The record queue's key prefix: one hash tag per domain, so all of the queue's keys share a Redis Cluster slot. */
export function recordQueuePrefix(keyNamespace: string): string {
  return `{${keyNamespace}:records}`;
}
// A record that Redis cannot take this fast is written from this process instead (the fallback).
const ENQUEUE_TIMEOUT_MS = 250;
// The longest a shutdown waits for BullMQ to close (see close()).
const WORKER_CLOSE_MS = 4000;

// The inbox: the resolve path appends each record to one Redis list (one RPUSH, durable from then on)
// and the mover feeds BullMQ from it at the pace the worker takes jobs. A BullMQ add is a script of a
// dozen commands and was about a quarter of a cache hit's CPU; records wait for their write slot at 40 a second
// anyway (RECORD_WRITES_PER_SECOND), so the hot path no longer pays it per contact, and a backlog
// waits as one list entry a record instead of a job hash and its events.
const MOVE_EVERY_MS = 100;
const MOVE_BATCH = 100;
const INBOX_PAGE = 1000;
/** one mover at a time, fleet-wide; a replica that dies holding it holds up moving this long at most */
const MOVER_LEASE_MS = 5000;
// LEASE (KEYS lease; ARGV token, ms): takes the lease, or renews it when it is ours. -> 1 | 0
const LEASE = new RedisScript(`
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`);
// TRIM (KEYS inbox, lease; ARGV token, first entry moved, count): drops the entries just moved, if we still
// hold the lease and they are still at the head (an erasure may have taken some out meanwhile: then they
// are moved again next time, and BullMQ's job ids, the ContactIds, make that a no-op). -> 1 | 0
const TRIM = new RedisScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[2] then return 0 end
redis.call('LTRIM', KEYS[1], ARGV[3], -1)
return 1
`);
// LANDED (KEYS inbox, the job's BullMQ hash; ARGV the appended entry): did an append that timed out reach
// Redis after all? The mover adds the job before it trims the entry, so one of the two holds it. -> 1 | 0
const LANDED = new RedisScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
if redis.call('LPOS', KEYS[1], ARGV[1]) then return 1 end
return 0
`);

export interface RedisRecordQueueOptions {
  /** the resolve path's fail-fast client: enqueueing never waits on a sick Redis */
  client: RedisClient;
  /** a client for the worker's blocking commands (no per-command timeout) */
  workerClient: () => RedisClient;
  /** `{...}`: one hash tag, so all of the queue's keys share a Redis Cluster slot */
  prefix: string;
  writer: RecordWriter;
  sealer: Sealer;
  /** where records go while Redis cannot take them */
  fallback: LocalRecordQueue;
  ratePerSecond: number;
  maxAttempts: number;
  lockMs: number;
  concurrency?: number;
  /** how long written records stay, so a Connect retry of the same ContactId is recognised */
  keepCompletedSeconds: number;
  /** how long dead letters stay at most */
  keepFailedSeconds: number;
  logger: Logger;
  hooks?: QueueHooks | undefined;
  /** false: start() starts the fallback only; the mover and the worker run elsewhere (the record thread) */
  runWorker?: boolean;
}

/**
 * The durable contact-record queue on BullMQ: shared by the fleet, jobs keyed by ContactId (so a
 * Connect retry adds nothing), retries with jittered exponential backoff, stalled-job recovery
 * when a replica dies mid-job, a fleet-wide rate limit, and failed jobs kept as dead letters.
 */
/** The BullMQ queue of contact records (also what the dead-letter command opens). */
export function openRecordQueue(
  client: RedisClient,
  prefix: string,
  jobs?: { maxAttempts: number; keepCompletedSeconds: number; keepFailedSeconds: number },
): Queue<JobData> {
  return new Queue<JobData>(QUEUE, {
    connection: client,
    prefix,
    ...(jobs
      ? {
          defaultJobOptions: {
            attempts: jobs.maxAttempts,
            backoff: { type: 'jittered' },
            removeOnComplete: { age: jobs.keepCompletedSeconds },
            // dead letters hold personal data (sealed): kept until replayed or purged, at most this long
            removeOnFail: { age: jobs.keepFailedSeconds },
          },
        }
      : {}),
  });
}

export class RedisRecordQueue implements RecordQueue {
  readonly kind = 'redis';
  readonly deadLetters: DeadLetterStore;
  private readonly queue: Queue<JobData>;
  private worker: Worker<JobData> | undefined;
  private readonly inbox: string;
  /** a cache hit's records, appended by its script on a single Redis (contact-hit.ts): moved like the inbox's */
  private readonly hits: string;
  private readonly lease: string;
  private readonly token = randomBytes(12).toString('base64url');
  private mover: NodeJS.Timeout | undefined;
  private moving: Promise<void> | undefined;
  /** which inbox a move takes from first: they take turns, so neither waits for the other's backlog */
  private hitsFirst = false;
  private moveErrorLoggedAt = 0;

  constructor(private readonly o: RedisRecordQueueOptions) {
    this.queue = openRecordQueue(o.client, o.prefix, o);
    this.inbox = `${o.prefix}:${QUEUE}:inbox`;
    this.hits = hitInbox(o.prefix);
    this.lease = `${o.prefix}:${QUEUE}:mover`;
    this.deadLetters = new RedisDeadLetters(this.queue);
    this.queue.on('error', (err) => o.logger.warn({ err: err.message }, 'record queue: Redis error'));
  }

  async enqueue(record: QueuedJob): Promise<'QUEUED' | 'FAILED'> {
    let entry: string | undefined;
    const jobId = jobIdOf(record);
    try {
      entry = JSON.stringify(this.dataOf(record));
      await withTimeout(this.o.client.rpush(this.inbox, entry), ENQUEUE_TIMEOUT_MS);
      return 'QUEUED';
    } catch (err) {
      this.o.logger.warn({ contactId: record.contactId, err: (err as Error).message }, 'record queue unreachable: writing this record from this process');
      // Redis answered the append with an error (out of memory, read-only in a failover...): the entry is
      // not in the inbox and will not be, so this process writes it at once, without asking whether it
      // landed (asking a full Redis would only hold the record back ASK_FOR_MS; one that is read-only
      // cannot have taken it).
      if (isErrorReply(err)) return this.o.fallback.enqueue(record);
      // A timed-out append may still have run in Redis (its reply late, or this event loop stalled past the
      // timeout): the in-process copy asks Redis before it writes, so the record is not written twice.
      const appended = entry;
      const landed = appended
        ? async () => (await LANDED.run(this.o.client, [this.inbox, this.queue.toKey(jobId)], [appended])) === 1
        : undefined;
      return this.o.fallback.enqueue(record, landed);
    }
  }

  /** One append to the inbox of a batch of records, for the hand-over at a stop: all taken, or none (an error reply, or no reply in time). */
  private async append(records: QueuedJob[]): Promise<boolean> {
    try {
      await withTimeout(this.o.client.rpush(this.inbox, ...records.map((r) => JSON.stringify(this.dataOf(r)))), ENQUEUE_TIMEOUT_MS);
      return true;
    } catch {
      return false;
    }
  }

  private dataOf(record: QueuedJob): JobData {
    const jobId = jobIdOf(record);
    return {
      ...(record.kind === 'update' && { jobId, kind: 'update' as const }),
      contactId: record.contactId,
      profileId: record.profileId,
      receivedAt: record.receivedAt,
      identityTag: record.identityTag,
      // bound to the job id: a sealed update cannot pass for a record, nor one contact's for another's
      sealed: this.o.sealer.seal(record, jobId),
      progress: {},
    };
  }

  /**
   * A cache hit's record as a job like any other, completed from its lookup (a worker of an earlier
   * version reads it). One that does not open here (DATA_KEYS without the key it was sealed with) is
   * moved as it is, for a worker that can, under a job id of its own (`hit:<ContactId>`): when the
   * contact's replica could not open the lookup either, it queued the contact's record again, complete,
   * under the ContactId, and that one must not be taken for a copy of this one. One whose lookup does not
   * attach the contact to a profile (its script was misled by a head that was not the lookup's: Redis
   * written to by someone else) is not written.
   */
  private fromHit(entry: HitEntry): JobData | undefined {
    const record = openHitEntry(this.o.sealer, entry);
    if (record === 'detached') {
      this.o.logger.warn({ contactId: entry.contactId }, 'record inbox: a cache hit whose lookup does not attach the contact to a profile: not written');
      return undefined;
    }
    if (record) return this.dataOf(record);
    const { hit: _hit, ...moved } = entry;
    return { ...moved, jobId: `hit:${entry.contactId}`, profileId: '', progress: {} };
  }

  start(): void {
    this.o.fallback.start();
    if (this.worker || this.o.runWorker === false) return;
    this.mover = setInterval(() => {
      this.moving ??= this.move()
        .then(
          () => undefined,
          (err: unknown) => this.moveFailed(err),
        )
        .finally(() => (this.moving = undefined));
    }, MOVE_EVERY_MS);
    const worker = new Worker<JobData>(QUEUE, (job, token) => this.process(job, token), {
      connection: this.o.workerClient(),
      prefix: this.o.prefix,
      concurrency: this.o.concurrency ?? 8,
      // fleet-wide: the whole fleet writes at most this many records a second
      limiter: { max: this.o.ratePerSecond, duration: 1000 },
      // the worker holds each job under a lock it renews; a replica killed mid-job stops renewing,
      // and another replica's stalled-job check takes the job over once the lock has expired
      lockDuration: this.o.lockMs,
      stalledInterval: Math.max(1000, Math.floor(this.o.lockMs / 2)),
      maxStalledCount: 3,
      settings: { backoffStrategy: (attempts: number, _type?: string, err?: Error) => backoffMs(attempts, (err as RecordError | undefined)?.retryAfterMs) },
    });
    worker.on('error', (err) => this.o.logger.warn({ err: err.message }, 'record worker: Redis error'));
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (!final) return this.o.hooks?.onOutcome?.('retried');
      const letter = letterOf(job, err.message);
      this.o.logger.error({ contactId: letter.contactId, attempts: letter.attempts, error: letter.error }, 'contact record dead-lettered');
      this.o.hooks?.onDeadLetter?.(letter);
      this.o.hooks?.onOutcome?.('dead-lettered');
      const abandoned = job.data.kind === 'update' ? this.o.sealer.open<QueuedJob>(job.data.sealed, job.data.jobId ?? job.data.contactId) : undefined;
      if (abandoned) void this.o.writer.abandoned(abandoned);
    });
    worker.on('completed', () => this.o.hooks?.onOutcome?.('written'));
    this.worker = worker;
  }

  /**
   * Moves records from the inboxes into BullMQ while fewer than two seconds of writes wait there, so the
   * worker never runs dry and the backlog stays in the inboxes. Returns how many were moved.
   */
  async move(): Promise<number> {
    // empty inboxes (most of the time, on most replicas) cost one round trip
    const lengths = await Promise.all([this.o.client.llen(this.inbox), this.o.client.llen(this.hits)]);
    if (lengths[0] + lengths[1] === 0) return 0;
    if ((await LEASE.run(this.o.client, [this.lease], [this.token, MOVER_LEASE_MS])) !== 1) return 0;
    try {
      const waiting = await this.queue.getWaitingCount();
      let room = Math.min(MOVE_BATCH, Math.max(2 * this.o.ratePerSecond, 20) - waiting);
      let moved = 0;
      this.hitsFirst = !this.hitsFirst;
      for (const list of this.hitsFirst ? [this.hits, this.inbox] : [this.inbox, this.hits]) {
        if (room <= 0) break;
        const entries = await this.o.client.lrange(list, 0, room - 1);
        if (entries.length === 0) continue;
        const jobs = entries.flatMap((e) => (list === this.hits ? (this.fromHit(JSON.parse(e) as HitEntry) ?? []) : [JSON.parse(e) as JobData]));
        if (jobs.length > 0) await this.queue.addBulk(jobs.map((data) => ({ name: data.kind ?? 'record', data, opts: { jobId: data.jobId ?? data.contactId } })));
        await TRIM.run(this.o.client, [list, this.lease], [this.token, entries[0]!, entries.length]);
        moved += entries.length;
        room -= entries.length;
      }
      return moved;
    } finally {
      await RELEASE_LEASE.run(this.o.client, [this.lease], [this.token]).catch(() => undefined);
    }
  }

  private moveFailed(err: unknown): void {
    // Redis is failing: the records stay in the inbox (or were never taken from it) and move once it is back
    if (Date.now() - this.moveErrorLoggedAt < 10_000) return;
    this.moveErrorLoggedAt = Date.now();
    this.o.logger.warn({ err: (err as Error).message }, 'record inbox: cannot move records to the queue yet');
  }

  /**
   * Runs `fn` holding the mover's lease (waiting for a move in progress anywhere in the fleet to end);
   * `fn` renews it with the function it is given.
   */
  private async withLease<T>(fn: (renew: () => Promise<unknown>) => Promise<T>): Promise<T> {
    const token = randomBytes(12).toString('base64url');
    const take = () => LEASE.run(this.o.client, [this.lease], [token, MOVER_LEASE_MS]);
    for (let waited = 0; (await take()) !== 1; waited += 50) {
      // a holder that died lets the lease expire within MOVER_LEASE_MS
      if (waited > MOVER_LEASE_MS + 1000) throw new Error('the record inbox is held by a mover that does not let go');
      await sleep(50);
    }
    try {
      return await fn(take);
    } finally {
      await RELEASE_LEASE.run(this.o.client, [this.lease], [token]).catch(() => undefined);
    }
  }

  private async process(job: Job<JobData>, token?: string): Promise<void> {
    const progress = { ...job.data.progress };
    const record = this.recordOf(job.data);
    if (!record) throw new UnrecoverableError('the job cannot be opened with the configured DATA_KEYS');
    try {
      const outcome = await this.o.writer.run(record, progress);
      if (outcome.done) return;
      // paced: come back when the profile (or Connect) may take the next write; no attempt used
      await job.updateData({ ...job.data, progress });
      this.o.hooks?.onOutcome?.('paced');
      await job.moveToDelayed(Date.now() + outcome.delayMs, token);
      throw new DelayedError();
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      await job.updateData({ ...job.data, progress });
      if (err instanceof RecordError && err.kind === 'throttled') {
        // backpressure, not failure: the whole fleet pauses (honouring Retry-After), the job waits, no attempt used
        this.o.hooks?.onOutcome?.('throttled');
        await this.queue.rateLimit(err.retryAfterMs ?? 1000);
        throw Worker.RateLimitError();
      }
      if (err instanceof RecordError && err.kind === 'permanent') throw new UnrecoverableError(err.message);
      throw err;
    }
  }

  private recordOf(data: JobData): QueuedJob | undefined {
    if (data.lookup === undefined) return this.o.sealer.open<QueuedJob>(data.sealed, data.jobId ?? data.contactId);
    const record = openHitEntry(this.o.sealer, { ...data, hit: 1, lookup: data.lookup });
    return record === 'detached' ? undefined : record;
  }

  /**
   * Erasure: removes the caller's records that are waiting, delayed, written (kept for retries) or
   * dead-lettered. A record in the hands of a worker at this moment cannot be removed: it is counted
   * in `inProgress` (it is written within seconds; erase again to remove its written copy).
   */
  async forget(identityTag: string): Promise<{ removed: number; inProgress: number }> {
    let removed = this.o.fallback.forget(identityTag);
    let inProgress = 0;
    // Holding the mover's lease: no record moves from the inboxes to BullMQ while they are searched. An
    // inbox is read a page at a time (a backlog can be hundreds of thousands of records).
    await this.withLease(async (renew) => {
      for (const list of [this.inbox, this.hits]) {
        for (let start = 0; ; ) {
          const page = await this.o.client.lrange(list, start, start + INBOX_PAGE - 1);
          let gone = 0;
          for (const entry of page) {
            if ((JSON.parse(entry) as JobData).identityTag === identityTag) gone += await this.o.client.lrem(list, 1, entry);
          }
          removed += gone;
          if (page.length < INBOX_PAGE) break;
          start += INBOX_PAGE - gone; // what was removed from this page moved the rest forward
          await renew();
        }
      }
      const jobs = await this.queue.getJobs(['waiting', 'delayed', 'prioritized', 'completed', 'failed', 'active']);
      for (const job of jobs) {
        if (job?.data.identityTag !== identityTag) continue;
        if (await job.isActive()) inProgress++;
        else {
          await job.remove();
          removed++;
        }
      }
    });
    return { removed, inProgress };
  }

  yieldTo(ms: number): void {
    // BullMQ's limiter is fleet-wide: every worker stops fetching records for `ms`
    this.queue.rateLimit(ms).catch(() => undefined);
    this.o.fallback.yieldTo(ms);
  }

  async depth(): Promise<number> {
    const c = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    const inbox = (await this.o.client.llen(this.inbox)) + (await this.o.client.llen(this.hits));
    return Object.values(c).reduce((a, b) => a + b, 0) + inbox + (await this.o.fallback.depth());
  }

  async close(): Promise<void> {
    clearInterval(this.mover);
    await this.moving;
    // close() lets the job in hand finish; one killed instead is taken over by another replica. BullMQ's
    // close() never settles while its blocking connection waits for an unreachable Redis (bullmq#4656):
    // past WORKER_CLOSE_MS the worker is left as it is, and its job in hand, like a dead replica's, goes
    // back to the queue once its lock expires.
    if (this.worker) {
      await withTimeout(this.worker.close(), WORKER_CLOSE_MS).catch((err: Error) =>
        this.o.logger.warn({ err: err.message }, 'record worker did not close: its job in hand goes back to the queue when its lock expires'),
      );
    }
    // The records this process holds because Redis could not take them then (the fallback) go to Redis now
    // if it takes them: another replica writes them; only a crash loses what is held in-process.
    await this.o.fallback.close({ handTo: (jobs) => this.append(jobs) });
    await withTimeout(this.queue.close(), WORKER_CLOSE_MS).catch(() => undefined);
  }
}

/** Dead letters are BullMQ's failed set: kept until replayed or purged, or RECORD_DEAD_LETTER_DAYS. */
export class RedisDeadLetters implements DeadLetterStore {
  constructor(private readonly queue: Queue<JobData>) {}

  async list(limit = 100): Promise<DeadLetter[]> {
    const jobs = await this.queue.getFailed(0, limit - 1);
    return jobs.filter((j): j is Job<JobData> => j !== undefined).map((j) => letterOf(j, j.failedReason));
  }

  async replay(which: Selection): Promise<number> {
    let n = 0;
    for (const job of await this.failed(which)) {
      await job.updateData({ ...job.data, progress: {} });
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      n++;
    }
    return n;
  }

  async purge(which: Selection): Promise<number> {
    let n = 0;
    for (const job of await this.failed(which)) {
      await job.remove();
      n++;
    }
    return n;
  }

  count(): Promise<number> {
    return this.queue.getFailedCount();
  }

  private async failed(which: Selection): Promise<Array<Job<JobData>>> {
    // dead letters are few: the failed set is read whole, and a ContactId selects its record and its updates
    const failed = (await this.queue.getFailed(0, -1)).filter((j): j is Job<JobData> => j !== undefined);
    return failed.filter((j) => selects(which, j.data.contactId));
  }
}

function letterOf(job: Job<JobData>, error: string): DeadLetter {
  return {
    id: job.data.jobId ?? job.data.contactId,
    kind: job.data.kind ?? 'record',
    contactId: job.data.contactId,
    profileId: job.data.profileId,
    receivedAt: job.data.receivedAt,
    failedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
    attempts: job.attemptsMade,
    error,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from Redis in ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
