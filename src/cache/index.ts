import { enrichmentCalls, type AttributeMapping } from '../domain/mapping.js';
import type { Logger } from '../ops/logger.js';
import { recordQueuePrefix } from '../records/redis-queue.js';
import { ContactHit, type HitPlan, type HitWrites } from './contact-hit.js';
import { LocalCreateOnce, RedisCreateOnce, type CreateOnce } from './create-once.js';
import { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from './idempotency.js';
import { StateKeys } from './keys.js';
import { MemoryCallBudget, RedisCallBudget, type CallBudget } from './budget.js';
import { MemoryPendingUpdates, RedisPendingUpdates, type PendingUpdates } from './pending-updates.js';
import { MemoryProfileCache, RedisProfileCache, type ProfileCache } from './profile-cache.js';
import { MemoryRecentContacts, RedisRecentContacts, type RecentContacts } from './recent-contacts.js';
import type { Answer } from '../domain/answer.js';
import type { Identity } from '../domain/identity.js';
import type { CachedLookup } from './profile-cache.js';
import { RedisHealth, type RedisClient } from './redis.js';
import { Sealer, type DataKey } from './seal.js';

export interface SharedStateOptions {
  /** unset: everything in-process */
  redis?: RedisClient | undefined;
  logger: Logger;
  keyPrefix: string;
  /** the Customer Profiles domain, or 'embedded' */
  domain: string;
  identityHashSecret: string;
  /** AES-256-GCM keys for what goes into Redis */
  dataKeys: readonly DataKey[];
  mapping: AttributeMapping;
  idempotencyTtlMs: number;
  repeatWindowMs: number;
  /** how long cache entries are kept: the stale-if-error maximum age (at least the fresh TTL) */
  cacheKeepMs: number;
  createLockTtlMs: number;
  /** enrichment calls per operation per second, fleet-wide */
  enrichmentCallsPerSecond: number;
  onRedisError?: (operation: string) => void;
  /** seconds a contact waited for another replica to create the caller's profile */
  onLockWait?: (seconds: number) => void;
}

/** The fleet's shared state: cache, idempotency, recent contacts and creation locks. */
export interface SharedState {
  keys: StateKeys;
  /** with Redis: seals what goes into it */
  sealer?: Sealer;
  /** without Redis: the in-process stores, for erasure */
  memory?: { cache: MemoryProfileCache; idempotency: MemoryIdempotencyStore; recentContacts: MemoryRecentContacts; pendingUpdates: MemoryPendingUpdates };
  cache: ProfileCache;
  /** per profile, the updates queued and not yet written: a fresh lookup of the profile shows them */
  pendingUpdates: PendingUpdates;
  idempotency: IdempotencyStore;
  recentContacts: RecentContacts;
  createOnce: CreateOnce;
  /** the fleet's allowance of enrichment calls */
  budget: CallBudget;
  health: RedisHealth;
  /**
   * What a contact needs first: the answer kept for its ContactId and lookup (a Connect retry) and the
   * caller's cached lookup. `identity`: the contact's (the one the tag names), for a kept answer stored by reference.
   * `plan`: on a single Redis, a fresh cache hit's writes are made with the reads (ContactReads.written).
   */
  readContact: (tag: string, variant: string, contactId: string, identity: Identity | undefined, plan?: HitPlan) => Promise<ContactReads>;
}

export interface ContactReads {
  earlier: Answer | undefined;
  cached: CachedLookup | undefined;
  /** with Redis: the cached lookup's value as read (sealed), to keep the answer by reference (IdempotencyStore.put) */
  sealedLookup?: string | undefined;
  /** the writes a fresh cache hit needs were made with the reads (a single Redis, given a plan) */
  written?: HitWrites | undefined;
}

export function createSharedState(o: SharedStateOptions): SharedState {
  const keys = new StateKeys(o.keyPrefix, o.domain, o.identityHashSecret, o.mapping);
  const health = new RedisHealth(o.logger, o.onRedisError);
  if (!o.redis) {
    const memory = {
      cache: new MemoryProfileCache(o.cacheKeepMs),
      idempotency: new MemoryIdempotencyStore(o.idempotencyTtlMs),
      recentContacts: new MemoryRecentContacts(o.repeatWindowMs),
      pendingUpdates: new MemoryPendingUpdates(),
    };
    const readContact = async (tag: string, variant: string, contactId: string): Promise<ContactReads> => ({
      earlier: await memory.idempotency.get(tag, contactId, variant),
      cached: await memory.cache.get(tag, variant),
    });
    const budget = new MemoryCallBudget(o.enrichmentCallsPerSecond);
    return { keys, ...memory, memory, createOnce: new LocalCreateOnce(memory.cache), budget, health, readContact };
  }
  const sealer = new Sealer(o.dataKeys);
  const cache = new RedisProfileCache(o.redis, keys, health, o.cacheKeepMs, sealer);
  const idempotency = new RedisIdempotencyStore(o.redis, keys, health, o.idempotencyTtlMs, sealer, cache, o.mapping);
  const redis = o.redis;
  // a single Redis: the reads and a fresh hit's writes in one script (contact-hit.ts)
  const hit = redis.isCluster
    ? undefined
    : new ContactHit({
        redis,
        keys,
        cache,
        idempotency,
        sealer,
        queuePrefix: recordQueuePrefix({ redisKeyPrefix: o.keyPrefix, domain: o.domain }),
        repeatWindowMs: o.repeatWindowMs,
        idempotencyTtlMs: o.idempotencyTtlMs,
        sources: enrichmentCalls(o.mapping).length,
      });
  // else one MGET: both keys carry the caller's hash tag, so they are in one slot even on a cluster
  const readContact = (tag: string, variant: string, contactId: string, identity: Identity | undefined, plan?: HitPlan): Promise<ContactReads> =>
    health.safely<ContactReads>(
      'contact.read',
      async () => {
        if (plan && hit) return hit.read(tag, variant, contactId, identity, plan);
        const [answer, lookup] = await redis.mget(keys.contactAnswer(tag, contactId, variant), keys.profileCache(tag, variant));
        const cached = lookup ? cache.open(tag, lookup, variant) : undefined;
        return {
          earlier: answer ? idempotency.open(tag, contactId, answer, variant, identity) : undefined,
          cached,
          sealedLookup: cached ? lookup! : undefined,
        };
      },
      { earlier: undefined, cached: undefined },
    );
  return {
    keys,
    sealer,
    cache,
    idempotency,
    recentContacts: new RedisRecentContacts(o.redis, keys, health, o.repeatWindowMs),
    pendingUpdates: new RedisPendingUpdates(o.redis, keys, health, sealer),
    createOnce: new RedisCreateOnce(o.redis, keys, cache, health, o.createLockTtlMs, o.onLockWait),
    budget: new RedisCallBudget(o.redis, keys, health, o.enrichmentCallsPerSecond),
    health,
    readContact,
  };
}
