import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisClient } from '../cache/redis.js';
import type { Sealer } from '../cache/seal.js';
import type { Logger } from '../ops/logger.js';
import type { RecordJob, RecordProgress } from './job.js';
import type { LocalRecordQueue } from './local-queue.js';
import { backoffMs, selects, type DeadLetter, type DeadLetterStore, type QueueHooks, type RecordQueue, type Selection } from './queue.js';
import { RecordError } from './errors.js';
import type { RecordWriter } from './writer.js';

/**
 * In Redis a record keeps in clear only what is not personal (ids, time, the identity's keyed
 * hash); the rest (the caller's number or address, contact attributes) is sealed with the data key.
 */
interface JobData {
  contactId: string;
  profileId: string;
  receivedAt: string;
  identityTag: string;
  sealed: string;
  progress: RecordProgress;
}

const QUEUE = 'contact-records';
// A record that Redis cannot take this fast is written from this process instead (the fallback).
const ENQUEUE_TIMEOUT_MS = 250;

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

  constructor(private readonly o: RedisRecordQueueOptions) {
    this.queue = openRecordQueue(o.client, o.prefix, o);
    this.deadLetters = new RedisDeadLetters(this.queue);
    this.queue.on('error', (err) => o.logger.warn({ err: err.message }, 'record queue: Redis error'));
  }

  async enqueue(record: RecordJob): Promise<'QUEUED' | 'FAILED'> {
    try {
      const data: JobData = {
        contactId: record.contactId,
        profileId: record.profileId,
        receivedAt: record.receivedAt,
        identityTag: record.identityTag,
        sealed: this.o.sealer.seal(record, record.contactId),
        progress: {},
      };
      await withTimeout(this.queue.add('record', data, { jobId: record.contactId }), ENQUEUE_TIMEOUT_MS);
      return 'QUEUED';
    } catch (err) {
      this.o.logger.warn({ contactId: record.contactId, err: (err as Error).message }, 'record queue unreachable: writing this record from this process');
      return this.o.fallback.enqueue(record);
    }
  }

  start(): void {
    this.o.fallback.start();
    if (this.worker) return;
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
    });
    worker.on('completed', () => this.o.hooks?.onOutcome?.('written'));
    this.worker = worker;
  }

  private async process(job: Job<JobData>, token?: string): Promise<void> {
    const progress = { ...job.data.progress };
    const record = this.o.sealer.open<RecordJob>(job.data.sealed, job.data.contactId);
    if (!record) throw new UnrecoverableError('the record cannot be opened with the configured DATA_KEYS');
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

  /**
   * Erasure: removes the caller's records that are waiting, delayed, written (kept for retries) or
   * dead-lettered. A record in the hands of a worker at this moment cannot be removed: it is counted
   * in `inProgress` (it is written within seconds; erase again to remove its written copy).
   */
  async forget(identityTag: string): Promise<{ removed: number; inProgress: number }> {
    let removed = this.o.fallback.forget(identityTag);
    let inProgress = 0;
    const jobs = await this.queue.getJobs(['waiting', 'delayed', 'prioritized', 'completed', 'failed', 'active']);
    for (const job of jobs) {
      if (job?.data.identityTag !== identityTag) continue;
      if (await job.isActive()) inProgress++;
      else {
        await job.remove();
        removed++;
      }
    }
    return { removed, inProgress };
  }

  yieldTo(ms: number): void {
    // BullMQ's limiter is fleet-wide: every worker stops fetching records for `ms`
    this.queue.rateLimit(ms).catch(() => undefined);
    this.o.fallback.yieldTo(ms);
  }

  async depth(): Promise<number> {
    const c = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(c).reduce((a, b) => a + b, 0) + (await this.o.fallback.depth());
  }

  async close(): Promise<void> {
    // close() lets the job in hand finish; one killed instead is taken over by another replica
    await this.worker?.close();
    await this.o.fallback.close();
    await this.queue.close();
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
    if ('all' in which) return (await this.queue.getFailed(0, -1)).filter((j): j is Job<JobData> => j !== undefined);
    const jobs = await Promise.all(which.contactIds.map((id) => this.queue.getJob(id)));
    const out: Array<Job<JobData>> = [];
    for (const j of jobs) if (j && selects(which, j.data.contactId) && (await j.isFailed())) out.push(j);
    return out;
  }
}

function letterOf(job: Job<JobData>, error: string): DeadLetter {
  return {
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
