import { LRUCache } from 'lru-cache';
import type { ProfileSummary, Verification } from '../domain/answer.js';
import { lookupHead } from './contact-hit.js';
import { lookupMember, type StateKeys } from './keys.js';
import type { DuplicateSighting } from '../domain/duplicates.js';
import { RedisScript, type RedisClient, type RedisHealth } from '../redis/client.js';
import type { Sealer } from '../redis/seal.js';

/** What a lookup found for one identity, as the answer needs it. */
export interface CachedLookup {
  status: 'KNOWN' | 'MULTIPLE' | 'NOT_FOUND';
  matchCount: number;
  summary?: ProfileSummary | undefined;
  /** the key names that found the chosen profile (absent: none) */
  matchedBy?: string[] | undefined;
  /** absent: NOT_CHECKED */
  verification?: Verification | undefined;
  /** epoch ms of the lookup; freshness and the stale-if-error age are judged from it */
  cachedAt: number;
  /** a MULTIPLE lookup's matches and the key they share, when they make a set (see sightingOf): each answer of it notes the set */
  duplicates?: DuplicateSighting | undefined;
}

/**
 * (caller tag, lookup variant) -> the last lookup. The variant is '' for the phone number or e-mail
 * address alone (see StateKeys.lookupKey). Entries outlive their freshness so they can answer during an outage.
 */
export interface ProfileCache {
  get(tag: string, variant?: string): Promise<CachedLookup | undefined>;
  set(tag: string, lookup: CachedLookup, variant?: string): Promise<void>;
  /** drops one lookup: the next contact searches afresh */
  delete(tag: string, variant?: string): Promise<void>;
  /**
   * Rewrites every cached lookup, of any caller, that answers this profile (its phone, its e-mail, an
   * account number...): after an update, each answers the new values at once. Returns how many.
   */
  refreshProfile(profileId: string, change: (lookup: CachedLookup) => CachedLookup): Promise<number>;
  /**
   * Drops every cached lookup, of any caller, that answers this profile and was made before `before` (epoch ms):
   * the profile changed outside the service (or is gone), and the next contact searches Customer Profiles.
   * Lookups made since are kept. Rejects when the cache cannot be reached (the caller tries again). Returns how many.
   */
  dropProfile(profileId: string, before: number): Promise<number>;
  /**
   * Drops the caller's lookup by the identity alone if it was made before `before`, unless it answers `except` (a
   * profile id). Rejects when the cache cannot be reached. Returns whether it did.
   */
  dropLookup(tag: string, before: number, except?: string): Promise<boolean>;
}

const memoryKey = (tag: string, variant = '') => (variant === '' ? tag : `${tag}|${variant}`);

export class MemoryProfileCache implements ProfileCache {
  private readonly entries: LRUCache<string, CachedLookup>;

  constructor(keepMs: number, max = 100_000) {
    this.entries = new LRUCache({ max, ttl: Math.max(1, keepMs) });
  }
  get(tag: string, variant?: string): Promise<CachedLookup | undefined> {
    return Promise.resolve(this.entries.get(memoryKey(tag, variant)));
  }
  set(tag: string, lookup: CachedLookup, variant?: string): Promise<void> {
    this.entries.set(memoryKey(tag, variant), lookup);
    return Promise.resolve();
  }
  delete(tag: string, variant?: string): Promise<void> {
    this.entries.delete(memoryKey(tag, variant));
    return Promise.resolve();
  }
  refreshProfile(profileId: string, change: (lookup: CachedLookup) => CachedLookup): Promise<number> {
    // in-process: a scan of the entries (an update is rare beside the lookups, which stay untouched)
    // collected first: a set moves the entry to the front, where the iteration would meet it again
    const matching = [...this.entries.entries()].filter(([, lookup]) => lookup.summary?.profileId === profileId);
    for (const [key, lookup] of matching) this.entries.set(key, change(lookup));
    return Promise.resolve(matching.length);
  }
  dropProfile(profileId: string, before: number): Promise<number> {
    const matching = [...this.entries.entries()].filter(([, lookup]) => lookup.summary?.profileId === profileId && lookup.cachedAt < before);
    for (const [key] of matching) this.entries.delete(key);
    return Promise.resolve(matching.length);
  }
  dropLookup(tag: string, before: number, except?: string): Promise<boolean> {
    const lookup = this.entries.get(tag);
    const drop = lookup !== undefined && lookup.cachedAt < before && (except === undefined || lookup.summary?.profileId !== except);
    return Promise.resolve(drop && this.entries.delete(tag));
  }
  /** erasure: drops the caller's entries (every variant); returns the profiles they named */
  forget(tag: string): { removed: number; profileIds: string[] } {
    const keys = [...this.entries.keys()].filter((k) => k === tag || k.startsWith(`${tag}|`));
    const ids = new Set<string>();
    for (const k of keys) {
      const id = this.entries.get(k)?.summary?.profileId;
      if (id) ids.add(id);
      this.entries.delete(k);
    }
    return { removed: keys.length, profileIds: [...ids] };
  }
}

// Lookups opened lately, by their sealed value: a caller's entry is read by every contact of theirs until
// it changes, and a value is one seal (its nonce is random), so the same value opens to the same lookup.
// A repeat read skips the AES-GCM open and the JSON parse. Bounded in count and age: an entry is reused
// for OPENED_MAX_AGE_MS after it was first opened and dropped at the next read after that (entries are in
// the order they were opened, so each read drops the expired ones from the front). An erased entry is
// no longer read from Redis, so its value is not looked up here again.
const OPENED_MAX = 10_000;
const OPENED_MAX_AGE_MS = 60_000;
// DROP (KEYS lookup, head; ARGV the lookup's value as read): deletes the lookup and its head if the lookup is still that
// value (a replica that cached the caller again meanwhile keeps what it wrote). Both keys carry the caller's tag. -> 1 | 0
const DROP = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`);

export class RedisProfileCache implements ProfileCache {
  private readonly opened = new Map<string, { aad: string; lookup: CachedLookup; until: number }>();
  /** a lookup's clear head goes beside it (contact-hit.ts): on a single Redis, where a cache hit's script reads it */
  private readonly heads: boolean;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    /** how long Redis keeps an entry: the stale-if-error maximum age */
    readonly keepMs: number,
    private readonly sealer: Sealer,
    /** epoch ms; tests move time */
    private readonly now: () => number = Date.now,
  ) {
    this.heads = !redis.isCluster;
  }

  get(tag: string, variant = ''): Promise<CachedLookup | undefined> {
    return this.health.safely(
      'cache.get',
      async () => {
        const raw = await this.redis.get(this.keys.profileCache(tag, variant));
        return raw ? this.open(tag, raw, variant) : undefined;
      },
      undefined,
    );
  }

  set(tag: string, lookup: CachedLookup, variant = ''): Promise<void> {
    return this.health.safely(
      'cache.set',
      async () => {
        const profileId = lookup.summary?.profileId;
        // both sent at once (two slots on a cluster: the caller's and the profile's)
        await Promise.all([this.write(tag, lookup, variant), profileId ? this.index(profileId, tag, variant) : undefined]);
      },
      undefined,
    );
  }

  /**
   * Notes that this caller's lookup answers the profile (see refreshProfile). Only where a lookup is
   * written (a miss, a creation, an update): a cache hit reads the lookup alone, in one round trip.
   * The set lives as long as the entries it names; a member whose entry expired or moved to another
   * profile is dropped at the next refresh.
   */
  async index(profileId: string, tag: string, variant = ''): Promise<void> {
    const key = this.keys.profileLookups(profileId);
    await this.redis.multi().sadd(key, lookupMember(tag, variant)).pexpire(key, Math.max(1, this.keepMs)).exec();
  }

  refreshProfile(profileId: string, change: (lookup: CachedLookup) => CachedLookup): Promise<number> {
    return this.health.safely(
      'cache.refresh',
      async () => {
        const indexKey = this.keys.profileLookups(profileId);
        const members = await this.redis.smembers(indexKey);
        const gone: string[] = [];
        let refreshed = 0;
        await Promise.all(
          members.map(async (member) => {
            const { tag, variant } = fromLookupMember(member);
            const key = this.keys.profileCache(tag, variant);
            const raw = await this.redis.get(key);
            const lookup = raw ? this.open(tag, raw, variant) : undefined;
            if (lookup?.summary?.profileId !== profileId) return void gone.push(member);
            await this.write(tag, change(lookup), variant);
            refreshed++;
          }),
        );
        if (gone.length > 0) await this.redis.srem(indexKey, ...gone);
        return refreshed;
      },
      0,
    );
  }

  /**
   * Members of the profile's index are kept (dropped or not): a replica caching the caller again adds the same
   * member, and removing it meanwhile would hide that lookup from the profile's next change. Those whose lookup
   * is gone are removed at the next update (refreshProfile), or expire with the index.
   */
  dropProfile(profileId: string, before: number): Promise<number> {
    return this.reported('cache.drop', async () => {
      const members = await this.redis.smembers(this.keys.profileLookups(profileId));
      const dropped = await Promise.all(members.map((member) => {
        const { tag, variant } = fromLookupMember(member);
        return this.dropIf(tag, variant, before, (lookup) => lookup.summary?.profileId === profileId);
      }));
      return dropped.filter(Boolean).length;
    });
  }

  dropLookup(tag: string, before: number, except?: string): Promise<boolean> {
    return this.reported('cache.drop', () => this.dropIf(tag, '', before, (lookup) => except === undefined || lookup.summary?.profileId !== except));
  }

  /** Drops the lookup if it was made before `before` and `which` says so, unless it changed since it was read. */
  private async dropIf(tag: string, variant: string, before: number, which: (lookup: CachedLookup) => boolean): Promise<boolean> {
    const key = this.keys.profileCache(tag, variant);
    const raw = await this.redis.get(key);
    const lookup = raw ? this.open(tag, raw, variant) : undefined;
    if (!lookup || lookup.cachedAt >= before || !which(lookup)) return false;
    return (await DROP.run(this.redis, [key, this.keys.lookupHead(tag, variant)], [raw!])) === 1;
  }

  /** A Redis operation whose failure is counted and logged, then rejected to the caller (who must know it did not happen). */
  private async reported<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      this.health.failed(operation, err);
      throw err;
    }
  }

  delete(tag: string, variant = ''): Promise<void> {
    return this.health.safely(
      'cache.delete',
      async () => {
        await this.redis.del(this.keys.profileCache(tag, variant), this.keys.lookupHead(tag, variant));
      },
      undefined,
    );
  }

  /** The entry as stored (sealed, bound to its key), for scripts that write it with other keys. */
  seal(tag: string, lookup: CachedLookup, variant = ''): string {
    return this.sealer.seal(lookup, this.keys.profileCache(tag, variant));
  }

  /** The clear head of the entry sealed as `sealed`, written beside it (StateKeys.lookupHead); '' on a cluster, where none is. */
  head(lookup: CachedLookup, sealed: string): string {
    return this.heads ? lookupHead(lookup, sealed) : '';
  }

  /**
   * Writes the entry and its head. Two commands, not one step: a head describes only the value whose nonce
   * it names, so a hit that reads a value beside another's head (these two between their writes, or an
   * earlier version's value, written without a head) is only read, and the resolver goes on as on any hit.
   */
  private async write(tag: string, lookup: CachedLookup, variant: string): Promise<void> {
    const keepMs = Math.max(1, this.keepMs);
    const value = this.seal(tag, lookup, variant);
    await Promise.all([
      this.redis.set(this.keys.profileCache(tag, variant), value, 'PX', keepMs),
      this.heads ? this.redis.set(this.keys.lookupHead(tag, variant), lookupHead(lookup, value), 'PX', keepMs) : undefined,
    ]);
  }

  /** The entry from its stored value (the caller treats it as read-only: it may be shared with other reads of it). */
  open(tag: string, raw: string, variant = ''): CachedLookup | undefined {
    const aad = this.keys.profileCache(tag, variant);
    const now = this.now();
    for (const [value, entry] of this.opened) {
      if (entry.until > now) break;
      this.opened.delete(value);
    }
    const known = this.opened.get(raw);
    // the same value under another key does not open, here as in the sealer
    if (known && known.aad === aad) return known.lookup;
    const lookup = this.sealer.open<CachedLookup>(raw, aad);
    if (lookup) {
      this.opened.set(raw, { aad, lookup, until: now + OPENED_MAX_AGE_MS });
      // oldest first: drop the oldest beyond the bound
      if (this.opened.size > OPENED_MAX) this.opened.delete(this.opened.keys().next().value!);
    }
    return lookup;
  }
}

export { lookupMember };

export function fromLookupMember(member: string): { tag: string; variant: string } {
  const at = member.indexOf(' ');
  return at < 0 ? { tag: member, variant: '' } : { tag: member.slice(0, at), variant: member.slice(at + 1) };
}

/**
 * After profiles were merged: deletes every cached lookup that answers one of them (their lookup index) and the
 * lookups named in `members` (`<tag> <variant>`, the ones that answered the duplicate set), each with its head,
 * and the indexes of the profiles merged away. The survivor's index stays: a replica may cache a lookup of it
 * between the read of the index and a delete, and the index is how a later change of the survivor finds that
 * lookup (a member whose lookup is gone costs nothing; see dropProfile). The next contact of each caller searches
 * Customer Profiles afresh and finds the profile that survived. Returns how many lookups were deleted. One key a
 * command: they are in many slots.
 */
export async function dropCachedLookups(
  redis: RedisClient,
  keys: StateKeys,
  profileIds: readonly string[],
  members: readonly string[],
  survivor: string,
): Promise<number> {
  const indexed = await Promise.all(profileIds.map((id) => redis.smembers(keys.profileLookups(id))));
  const lookups = [...new Set([...indexed.flat(), ...members])].map(fromLookupMember);
  const deleted = await Promise.all(
    lookups.map(async ({ tag, variant }) => {
      const [lookup] = await Promise.all([redis.del(keys.profileCache(tag, variant)), redis.del(keys.lookupHead(tag, variant))]);
      return lookup;
    }),
  );
  await Promise.all(profileIds.filter((id) => id !== survivor).map((id) => redis.del(keys.profileLookups(id))));
  return deleted.reduce((a, b) => a + b, 0);
}
