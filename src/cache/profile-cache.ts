import { LRUCache } from 'lru-cache';
import type { ProfileSummary } from '../domain/answer.js';
import type { StateKeys } from './keys.js';
import type { RedisClient, RedisHealth } from './redis.js';
import type { Sealer } from './seal.js';

/** What a lookup found for one identity, as the answer needs it. */
export interface CachedLookup {
  status: 'KNOWN' | 'MULTIPLE' | 'NOT_FOUND';
  matchCount: number;
  summary?: ProfileSummary | undefined;
  /** epoch ms of the lookup; freshness and the stale-if-error age are judged from it */
  cachedAt: number;
}

/** identity tag -> the last lookup. Entries outlive their freshness so they can answer during an outage. */
export interface ProfileCache {
  get(tag: string): Promise<CachedLookup | undefined>;
  set(tag: string, lookup: CachedLookup): Promise<void>;
}

export class MemoryProfileCache implements ProfileCache {
  private readonly entries: LRUCache<string, CachedLookup>;

  constructor(keepMs: number, max = 100_000) {
    this.entries = new LRUCache({ max, ttl: Math.max(1, keepMs) });
  }
  get(tag: string): Promise<CachedLookup | undefined> {
    return Promise.resolve(this.entries.get(tag));
  }
  set(tag: string, lookup: CachedLookup): Promise<void> {
    this.entries.set(tag, lookup);
    return Promise.resolve();
  }
  /** erasure: drops the entry; returns the profile it named */
  forget(tag: string): string[] {
    const id = this.entries.get(tag)?.summary?.profileId;
    this.entries.delete(tag);
    return id ? [id] : [];
  }
}

export class RedisProfileCache implements ProfileCache {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    /** how long Redis keeps an entry: the stale-if-error maximum age */
    readonly keepMs: number,
    private readonly sealer: Sealer,
  ) {}

  get(tag: string): Promise<CachedLookup | undefined> {
    return this.health.safely(
      'cache.get',
      async () => {
        const raw = await this.redis.get(this.keys.profileCache(tag));
        return raw ? this.open(tag, raw) : undefined;
      },
      undefined,
    );
  }

  set(tag: string, lookup: CachedLookup): Promise<void> {
    return this.health.safely(
      'cache.set',
      async () => {
        await this.redis.set(this.keys.profileCache(tag), this.seal(tag, lookup), 'PX', Math.max(1, this.keepMs));
      },
      undefined,
    );
  }

  /** The entry as stored (sealed, bound to its key), for scripts that write it with other keys. */
  seal(tag: string, lookup: CachedLookup): string {
    return this.sealer.seal(lookup, this.keys.profileCache(tag));
  }

  open(tag: string, raw: string): CachedLookup | undefined {
    return this.sealer.open<CachedLookup>(raw, this.keys.profileCache(tag));
  }
}
