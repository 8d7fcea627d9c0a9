// The record thread (see thread.ts): the configuration the service read, the same record pipeline,
// its worker started; outcomes and AWS calls go to the service's metrics as messages.
import { parentPort, workerData } from 'node:worker_threads';
import { StateKeys } from '../cache/keys.js';
import { RedisPendingUpdates } from '../cache/pending-updates.js';
import { createRedisClient, RedisHealth } from '../cache/redis.js';
import { Sealer } from '../cache/seal.js';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger } from '../ops/logger.js';
import { createAwsRecordWriter, createRecordQueues } from './pipeline.js';
import type { ThreadMessage } from './thread.js';

const port = parentPort!;
const post = (m: ThreadMessage): void => port.postMessage(m);
const { source } = workerData as { source: Config['source'] };
const config = loadConfig(source.env, source.baseDir);
const logger = createLogger(config.logLevel).child({ thread: 'records' });
const redis = createRedisClient(config);
if (!config.domain || !redis) throw new Error('the record thread needs CUSTOMER_PROFILES_DOMAIN and Redis');
redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'record thread: Redis error'));

const sealer = new Sealer(config.dataKeys);
// the service's pending updates, in the same Redis keys (the thread removes an update once written)
const keys = new StateKeys(config.redisKeyPrefix, config.domain, config.identityHashSecret, config.attributeMapping);
const pending = new RedisPendingUpdates(redis, keys, new RedisHealth(logger), sealer);
const aws = createAwsRecordWriter({ ...config, domain: config.domain }, redis, (call) => post({ kind: 'aws', call }), pending);
const { redis: queue } = createRecordQueues(config, {
  redis,
  sealer,
  writer: aws.writer,
  logger,
  hooks: {
    onOutcome: (outcome) => post({ kind: 'outcome', outcome }),
    onDeadLetter: (letter) => post({ kind: 'dead-letter', letter }),
  },
  runWorker: true,
});
queue!.start();
post({ kind: 'started' });

port.on('message', (m: unknown) => {
  if (m !== 'close') return;
  void (async () => {
    await queue!.close();
    aws.close();
    await redis.quit().catch(() => redis.disconnect());
    post({ kind: 'closed' });
  })();
});
