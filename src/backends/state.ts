// The state backend: what the fleet shares (Redis) or, without Redis, what this process keeps. It owns its
// client, the cache, idempotency, locks, the enrichment allowance, the record queue, the eraser, its
// readiness, start and close. The composition root picks one (redis-state.ts or memory-state.ts); nothing
// below it asks which.
import type { SharedState } from '../cache/index.js';
import type { Config } from '../config/index.js';
import type { Eraser } from '../contact/erase.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { PendingUpdates } from '../cache/pending-updates.js';
import type { AccountQuota } from '../cache/quota.js';
import { Pacer } from '../records/pacer.js';
import type { QueueHooks, RecordQueue } from '../records/queue.js';
import { RecordWriter, type RecordTarget } from '../records/writer.js';
import type { RedisClient } from '../redis/client.js';
import type { StreamStore } from '../stream/store.js';
import type { ProfileBackend } from './profiles.js';

export interface StateBackend {
  /** what the use cases read and write */
  shared: SharedState;
  /** where the use cases queue contact records and profile updates */
  records: RecordQueue;
  eraser: Eraser;
  /** where the reader of the profile event stream keeps its leases, checkpoints and digests (the fleet's, or this process's) */
  streamStore: StreamStore;
  /** what /readyz shows of it */
  readiness(): { redis: Record<string, unknown>; records: Record<string, unknown> };
  /**
   * Waits (bounded) for Redis to connect, so the replica does not take traffic while its creation locks
   * would fail over to in-process ones, then starts the record worker (RECORD_WORKER). If Redis is not
   * there in time the service starts without it and uses it once it connects.
   */
  start(redisTimeoutMs?: number): Promise<void>;
  /** stops the record worker (its job in hand finishes or goes back to the queue), then the connections */
  close(): Promise<void>;
}

export interface StateOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** where the record queue writes to (and whether it may do so from a thread) */
  profiles: ProfileBackend;
  /** the fleet's share of the account quota: a state backend with Redis shares its book across the fleet */
  quota: AccountQuota;
}

export function queueHooks(metrics: Metrics): QueueHooks {
  return {
    onOutcome: (outcome) => metrics.recordJobs.inc({ outcome: outcome.replace('-', '_') }),
    onDeadLetter: () => metrics.deadLetters.inc(),
  };
}

/** How long cache entries are kept: the stale-if-error maximum age, at least the fresh TTL. */
export function cacheKeepMs(config: Config): number {
  return Math.max(config.cache.ttlMs, config.cache.staleMaxAgeMs);
}

/** The record writer over a target, paced fleet-wide through Redis when there is one (records/pacer.ts). */
export function recordWriter(config: Config, target: RecordTarget, redis: RedisClient | undefined, pending: PendingUpdates): RecordWriter {
  return new RecordWriter(target, new Pacer({ redis, keyPrefix: config.keyNamespace, connectPerSecond: config.records.connectStampPerSecond }), pending);
}

export function queueOptions(config: Config, logger: Logger, hooks: QueueHooks) {
  return { ratePerSecond: config.records.writesPerSecond, maxAttempts: config.records.maxAttempts, logger, hooks };
}
