import { ConnectClient } from '@aws-sdk/client-connect';
import type { PendingUpdates } from '../cache/pending-updates.js';
import { createRedisClient, type RedisClient } from '../cache/redis.js';
import type { Sealer } from '../cache/seal.js';
import type { Config } from '../config/index.js';
import { instrumentAwsClient, type AwsObserver } from '../ops/aws-instrumentation.js';
import type { Logger } from '../ops/logger.js';
import { createCustomerProfilesClient } from '../profiles/customer-profiles.js';
import { LocalRecordQueue } from './local-queue.js';
import { Pacer } from './pacer.js';
import type { QueueHooks } from './queue.js';
import { recordQueuePrefix, RedisRecordQueue } from './redis-queue.js';
import { AwsRecordTarget, RecordWriter, type RecordTarget } from './writer.js';

// The contact-record pipeline, built the same way by the service and by its record-worker thread.

/** Writes records to Customer Profiles (and stamps Connect), paced through Redis when there is one. */
export function createAwsRecordWriter(
  config: Config & { domain: string },
  redis: RedisClient | undefined,
  observe: AwsObserver,
  pending: PendingUpdates,
): { writer: RecordWriter; close(): void } {
  // Background writes get their own client: no flow is waiting, so longer timeouts, and the queue
  // (not the SDK) decides about retries.
  const profiles = createCustomerProfilesClient({
    region: config.aws.region!,
    endpoint: config.aws.customerProfilesEndpoint,
    requestTimeoutMs: 10_000,
    maxAttempts: 1,
  });
  const connect = config.records.connectStamp
    ? new ConnectClient({ region: config.aws.region!, maxAttempts: 1, ...(config.aws.connectEndpoint ? { endpoint: config.aws.connectEndpoint } : {}) })
    : undefined;
  instrumentAwsClient(profiles, 'customer-profiles', observe);
  if (connect) instrumentAwsClient(connect, 'connect', observe);
  const target = new AwsRecordTarget({ profiles, domain: config.domain, objectTypeName: config.records.objectType, connect });
  return {
    writer: recordWriter(config, target, redis, pending),
    close: () => {
      profiles.destroy();
      connect?.destroy();
    },
  };
}

/** `pending`: the profiles' pending updates, the same store the service notes them in (shared state) */
export function recordWriter(config: Config, target: RecordTarget, redis: RedisClient | undefined, pending: PendingUpdates): RecordWriter {
  const keyPrefix = `${config.redisKeyPrefix}:${config.domain ?? 'embedded'}`;
  return new RecordWriter(target, new Pacer({ redis, keyPrefix, connectPerSecond: config.records.connectStampPerSecond }), pending);
}

export interface RecordQueues {
  /** the in-process queue: the whole queue without Redis, the fallback with it */
  local: LocalRecordQueue;
  redis: RedisRecordQueue | undefined;
}

export function createRecordQueues(
  config: Config,
  o: { redis: RedisClient | undefined; sealer: Sealer | undefined; writer: RecordWriter; logger: Logger; hooks: QueueHooks; runWorker: boolean },
): RecordQueues {
  const options = { ratePerSecond: config.records.writesPerSecond, maxAttempts: config.records.maxAttempts, logger: o.logger, hooks: o.hooks };
  const local = new LocalRecordQueue(o.writer, options);
  const redis =
    o.redis && o.sealer
      ? new RedisRecordQueue({
          ...options,
          client: o.redis,
          workerClient: () => createRedisClient(config, 'worker')!,
          prefix: recordQueuePrefix(config),
          writer: o.writer,
          sealer: o.sealer,
          fallback: local,
          lockMs: config.records.lockMs,
          keepCompletedSeconds: Math.max(3600, config.idempotencyTtlMs / 1000),
          keepFailedSeconds: config.records.deadLetterDays * 86_400,
          runWorker: o.runWorker,
        })
      : undefined;
  return { local, redis };
}
