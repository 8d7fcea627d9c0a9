// The state backend on Redis (a single node, or a cluster): shared by the fleet, everything personal
// sealed. It owns its client and connections, the record queue (its worker here or in a thread of its
// own) and its start and close.
import { RedisAttempts } from '../cache/attempts.js';
import { NO_CONTACT_LEGS, RedisContactLegs } from '../cache/contact-legs.js';
import { RedisCreateOnce } from '../cache/create-once.js';
import { RedisDuplicateSets } from '../cache/duplicates.js';
import { RedisIdempotencyStore } from '../cache/idempotency.js';
import { ContactHit } from '../cache/contact-hit.js';
import type { ContactReads, SharedState } from '../cache/index.js';
import { StateKeys } from '../cache/keys.js';
import { RedisPendingUpdates } from '../cache/pending-updates.js';
import { RedisQuotaBook } from '../cache/quota.js';
import { lookupMember, RedisProfileCache } from '../cache/profile-cache.js';
import { RedisRecentContacts } from '../cache/recent-contacts.js';
import type { Config } from '../config/index.js';
import type { Eraser, ErasureReport } from '../contact/erase.js';
import type { CallerKeys } from '../domain/keys.js';
import { enrichmentCalls } from '../domain/mapping.js';
import type { Logger } from '../ops/logger.js';
import { quotaObserver } from '../ops/metrics.js';
import { LocalRecordQueue } from '../records/local-queue.js';
import type { QueueHooks } from '../records/queue.js';
import { recordQueuePrefix, RedisRecordQueue } from '../records/redis-queue.js';
import type { RecordWriter } from '../records/writer.js';
import { createRedisClient, RedisHealth, type RedisClient } from '../redis/client.js';
import { Sealer } from '../redis/seal.js';
import { RedisStreamStore } from '../stream/redis-store.js';
import { RecordThread } from './record-thread.js';
import { cacheKeepMs, queueHooks, queueOptions, recordWriter, type StateBackend, type StateOptions } from './state.js';

export function redisState({ config, logger, metrics, profiles, quota }: StateOptions): StateBackend {
  const redis = createRedisClient(config);
  if (!redis) throw new Error('the Redis state needs REDIS_URL or REDIS_CLUSTER_NODES');
  const health = new RedisHealth(logger, (operation) => metrics.redisErrors.inc({ operation }));
  // ioredis reports connection trouble as 'error' events; without a listener they would crash the process
  redis.on('error', (err: Error) => health.failed('connection', err));
  const sealer = new Sealer(config.dataKeys);
  const keys = new StateKeys(config.keyNamespace, config.identityHashSecret, config.attributeMapping);
  const cache = new RedisProfileCache(redis, keys, health, cacheKeepMs(config), sealer);
  // the fleet's book of calls: every replica (and its record thread) books its slots here
  quota.shareThrough(new RedisQuotaBook(redis, (operation) => keys.quota(operation), health));
  const idempotency = new RedisIdempotencyStore(redis, keys, health, config.idempotencyTtlMs, sealer, cache, config.attributeMapping);
  const pendingUpdates = new RedisPendingUpdates(redis, keys, health, sealer);
  const duplicates = new RedisDuplicateSets(redis, keys.duplicates(), config.duplicates, health);
  // a single Redis: a contact's reads and a fresh cache hit's writes in one script (cache/contact-hit.ts);
  // on a cluster the keys are in three slots: the MGET, then the writes side by side
  const hit = redis.isCluster
    ? undefined
    : new ContactHit({
        redis,
        keys,
        cache,
        idempotency,
        sealer,
        queuePrefix: recordQueuePrefix(config.keyNamespace),
        repeatWindowMs: config.repeatWindowMs,
        legWindowMs: config.contactLegWindowMs,
        idempotencyTtlMs: config.idempotencyTtlMs,
        sources: enrichmentCalls(config.attributeMapping).length,
        duplicates: duplicates.scriptArgs,
        onWriteFailed: (operation) => health.failed(operation, new Error('refused inside the cache-hit script')),
      });
  const shared: SharedState = {
    keys,
    cache,
    idempotency,
    pendingUpdates,
    recentContacts: new RedisRecentContacts(redis, keys, health, config.repeatWindowMs),
    attempts: new RedisAttempts(redis, keys, health, config.idvAttempts),
    legs: config.contactLegWindowMs > 0 ? new RedisContactLegs(redis, keys, health, config.contactLegWindowMs) : NO_CONTACT_LEGS,
    createOnce: new RedisCreateOnce(redis, keys, cache, health, config.createLockTtlMs, (seconds) => metrics.lockWaits.observe(seconds)),
    budget: quota,
    duplicates,
    readContact: (tag, variant, contactId, callerKeys, plan) =>
      health.safely<ContactReads>(
        'contact.read',
        async () => {
          if (plan && hit) return hit.read(tag, variant, contactId, callerKeys, plan);
          // one MGET: both keys carry the caller's hash tag, so they are in one slot even on a cluster
          const [answer, lookup] = await redis.mget(keys.contactAnswer(tag, contactId, variant), keys.profileCache(tag, variant));
          const cached = lookup ? cache.open(tag, lookup, variant) : undefined;
          return {
            earlier: answer ? idempotency.open(tag, contactId, answer, variant, callerKeys) : undefined,
            cached,
            sealedLookup: cached ? lookup! : undefined,
          };
        },
        { earlier: undefined, cached: undefined },
      ),
  };
  const hooks = queueHooks(metrics);
  // With a profile backend that can be reached from another thread (Customer Profiles), the record worker
  // runs in a thread of its own (record-thread.ts): background writes never hold up a live answer.
  const thread = config.records.worker && profiles.recordThread ? new RecordThread(config.source, logger, hooks, profiles.recordThread.observe, quotaObserver(metrics)) : undefined;
  const writer = recordWriter(config, profiles.recordTarget, redis, pendingUpdates);
  const records = redisRecordQueue(config, { redis, sealer, writer, logger, hooks, runWorker: !thread });
  let workerRunning = false;
  return {
    shared,
    records,
    eraser: new RedisEraser(keys, redis, sealer, records, duplicates),
    streamStore: new RedisStreamStore(redis, config.keyNamespace, keys, cacheKeepMs(config)),
    readiness: () => ({
      redis: { mode: config.redis.mode, status: redis.status, lastError: health.lastError },
      records: {
        queue: records.kind,
        worker: config.records.worker ? ((thread ? thread.running : workerRunning) ? 'running' : 'stopped') : 'off',
        ...(thread ? { thread: true } : {}),
      },
    }),
    start: async (timeoutMs = 5000) => {
      if (redis.status !== 'ready') {
        const ready = new Promise<boolean>((resolve) => redis.once('ready', () => resolve(true)));
        const late = new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, false).unref());
        if (!(await Promise.race([ready, late]))) logger.warn({ timeoutMs }, 'Redis is not reachable yet: starting without it');
      }
      if (config.records.worker) {
        records.start();
        await thread?.start();
        workerRunning = true;
      }
    },
    close: async () => {
      await thread?.close();
      await records.close();
      workerRunning = false;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The durable record queue, with this process's in-process queue as its fallback: the service's and the record thread's. */
export function redisRecordQueue(
  config: Config,
  o: { redis: RedisClient; sealer: Sealer; writer: RecordWriter; logger: Logger; hooks: QueueHooks; runWorker: boolean },
): RedisRecordQueue {
  const options = queueOptions(config, o.logger, o.hooks);
  return new RedisRecordQueue({
    ...options,
    client: o.redis,
    workerClient: () => createRedisClient(config, 'worker')!,
    prefix: recordQueuePrefix(config.keyNamespace),
    writer: o.writer,
    sealer: o.sealer,
    fallback: new LocalRecordQueue(o.writer, options),
    lockMs: config.records.lockMs,
    keepCompletedSeconds: Math.max(3600, config.idempotencyTtlMs / 1000),
    keepFailedSeconds: config.records.deadLetterDays * 86_400,
    runWorker: o.runWorker,
  });
}

/** The record writer for a thread of its own (record-thread-main.ts): the same pacing and pending updates as the service's. */
export function threadRecordWriter(config: Config, redis: RedisClient, logger: Logger, target: Parameters<typeof recordWriter>[1]): { writer: RecordWriter; sealer: Sealer } {
  const sealer = new Sealer(config.dataKeys);
  // the service's pending updates, in the same Redis keys (the thread removes an update once written)
  const keys = new StateKeys(config.keyNamespace, config.identityHashSecret, config.attributeMapping);
  const pending = new RedisPendingUpdates(redis, keys, new RedisHealth(logger), sealer);
  return { writer: recordWriter(config, target, redis, pending), sealer };
}

/**
 * Forgets one caller (a phone number, an e-mail address, or an account number) in everything Redis
 * keeps: the cached lookup, the answers kept per ContactId, the creation lock and marker, the
 * recent-contact history and the pending updates of the profiles those named, the duplicate sets its key
 * found, and contact records and updates not yet written or dead-lettered. Nothing of other callers is touched. Customer Profiles itself
 * is not changed (see the README).
 *
 * Any Redis failure fails the erasure, an error reply as much as a lost one: either way it cannot say
 * that everything of the caller is gone, and running it again (it is idempotent) is the answer. A full
 * Redis still takes the DELs; it refuses the record mover's lease (a SET), so the records part fails.
 */
class RedisEraser implements Eraser {
  constructor(
    private readonly keys: StateKeys,
    private readonly redis: RedisClient,
    private readonly sealer: Sealer,
    private readonly records: RedisRecordQueue,
    private readonly duplicates: RedisDuplicateSets,
  ) {}

  async erase(callerKeys: CallerKeys): Promise<ErasureReport> {
    const { tag } = this.keys.lookupKey(callerKeys);
    // every key of the caller shares the hash tag, so on a cluster they all live on one node
    const pattern = this.keys.callerKeys(tag);
    const nodes = 'nodes' in this.redis ? this.redis.nodes('master') : [this.redis];
    const found: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
    }
    // the profiles named by the cached lookup and the kept answers: their contact history goes too
    const profileIds = new Set<string>();
    for (const key of found) {
      if (!/:(profile|contact):[^:]+(:[^:]+)?$/.test(key)) continue;
      const raw = await this.redis.get(key);
      // a kept answer stored by reference (JSON) names its profile in clear; any other value is sealed
      const value = !raw ? undefined : raw.startsWith('{') ? parsed(raw) : this.sealer.open<{ summary?: { profileId?: string }; profileId?: string }>(raw, key);
      const id = value?.summary?.profileId ?? value?.profileId;
      if (id) profileIds.add(id);
    }
    let callerEntries = 0;
    for (const key of found) callerEntries += await this.redis.del(key);
    // the duplicate sets the caller's key found, or the caller's lookups answered (their keyed hash is the caller's tag)
    callerEntries += await this.duplicates.forget(tag);
    let contactHistories = 0;
    for (const id of profileIds) {
      contactHistories += await this.redis.del(this.keys.recentContacts(id));
      // the digest of the profile as the event stream last showed it (keyed: nothing readable, but of the profile's values)
      await this.redis.del(this.keys.profileSeen(id));
      // the profile's pending updates hold its new values (sealed): they go with its history (the
      // caller's queued updates go below; one still queued of another caller shows once it is written)
      await this.redis.del(this.keys.pendingUpdates(id));
      // the profile's index of its cached lookups no longer names this caller's (other callers' stay)
      const index = this.keys.profileLookups(id);
      const members = (await this.redis.smembers(index)).filter((m) => m.startsWith(lookupMember(tag, '')));
      if (members.length > 0) await this.redis.srem(index, ...members);
    }
    const records = await this.records.forget(tag);
    return { callerEntries, contactHistories, records: records.removed, recordsInProgress: records.inProgress };
  }
}

/** A kept answer stored by reference: its profile id, given in clear. */
function parsed(raw: string): { summary?: undefined; profileId?: string } | undefined {
  try {
    const value = JSON.parse(raw) as { profileId?: unknown } | null;
    return typeof value?.profileId === 'string' ? { profileId: value.profileId } : undefined;
  } catch {
    return undefined;
  }
}
