// The record thread (see record-thread.ts): the configuration the service read, the same record queue
// and writer (records/), its worker started; outcomes and AWS calls go to the service's metrics as messages.
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig, type Config } from '../config/index.js';
import { createLogger } from '../ops/logger.js';
import { AccountQuota, RedisQuotaBook } from '../cache/quota.js';
import { quotaKey } from '../cache/keys.js';
import { createRedisClient } from '../redis/client.js';
import { customerProfilesRecordTarget } from './profiles.js';
import { postingQuotaObserver, type ThreadMessage } from './record-thread.js';
import { redisRecordQueue, threadRecordWriter } from './redis-state.js';

const port = parentPort!;
const post = (m: ThreadMessage): void => port.postMessage(m);
const { source } = workerData as { source: Config['source'] };
const config = loadConfig(source.env, source.baseDir);
const logger = createLogger(config.logLevel).child({ thread: 'records' });
const domain = config.domain;
const redis = createRedisClient(config);
if (!domain || !redis) throw new Error('the record thread needs CUSTOMER_PROFILES_DOMAIN and Redis');
redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'record thread: Redis error'));

// the fleet's share of the account quota, in the same book as the service's (Redis)
const quota = new AccountQuota(config.quota.shares, postingQuotaObserver((event) => post({ kind: 'quota', event })));
quota.shareThrough(new RedisQuotaBook(redis, (operation) => quotaKey(config.keyNamespace, operation)));
const aws = customerProfilesRecordTarget({ ...config, domain }, (call) => post({ kind: 'aws', call }), quota);
const { writer, sealer } = threadRecordWriter(config, redis, logger, aws.target);
const queue = redisRecordQueue(config, {
  redis,
  sealer,
  writer,
  logger,
  hooks: {
    onOutcome: (outcome) => post({ kind: 'outcome', outcome }),
    onDeadLetter: (letter) => post({ kind: 'dead-letter', letter }),
  },
  runWorker: true,
});
queue.start();
post({ kind: 'started' });

port.on('message', (m: unknown) => {
  if (m !== 'close') return;
  void (async () => {
    await queue.close();
    aws.close();
    await redis.quit().catch(() => redis.disconnect());
    post({ kind: 'closed' });
  })();
});
