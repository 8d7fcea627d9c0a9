// Duplicate sets seen live: every MULTIPLE answer (a fresh lookup or a cache hit; not a Connect retry given
// its kept answer) notes the profiles that matched and the key they share, with a count and when it was
// first and last seen. Fleet-wide in Redis, in-process without it. Bounded in number and in age: an operator
// lists them, looks at one and merges it (npm run duplicates); nothing in the answer's path waits for them.
import { LRUCache } from 'lru-cache';
import { duplicateSetId, type DuplicateSighting } from '../domain/duplicates.js';
import { lookupMember, type LookupKey } from './keys.js';
import { RedisScript, type RedisClient, type RedisHealth } from '../redis/client.js';

/** One set of profiles a key found together, as recorded. */
export interface DuplicateSet extends DuplicateSighting {
  /** duplicateSetId: 16 hex digits */
  id: string;
  /** MULTIPLE answers that named it since it was first recorded */
  count: number;
  /** epoch ms */
  firstSeen: number;
  lastSeen: number;
  /** the cached lookups that answered it (`<tag> <variant>`, as a profile's lookup index names them), at most MAX_LOOKUPS */
  lookups: string[];
}

/** How many sets are kept (0: none are recorded), and for how long after each was last seen. */
export interface DuplicateBounds {
  maxSets: number;
  ttlMs: number;
}

export interface DuplicateSets {
  /** Notes one MULTIPLE answer of a lookup. Never throws (a failure is counted and the sighting lost). */
  seen(sighting: DuplicateSighting, at: LookupKey, now: number): Promise<void>;
  /** The most frequent first (ties: the most recently seen first). */
  list(limit: number): Promise<DuplicateSet[]>;
  count(): Promise<number>;
  get(id: string): Promise<DuplicateSet | undefined>;
  /** After a merge: removes every set that names one of these profiles, and returns them. */
  removeNaming(profileIds: readonly string[]): Promise<DuplicateSet[]>;
  /** Erasure: removes the sets the caller's key found, or a lookup of the caller answered; returns how many. */
  forget(tag: string): Promise<number>;
}

/** The most lookups a set remembers (a merge drops them from the cache): one caller asks with a few variants at most. */
export const MAX_LOOKUPS = 20;
// expired sets one sighting clears at most, and sets past the bound it drops at most (the rest go with the next ones)
const PRUNE_BATCH = 100;

const isFresh = (s: DuplicateSet, now: number, ttlMs: number) => s.lastSeen > now - ttlMs;
const byFrequency = (a: DuplicateSet, b: DuplicateSet) => b.count - a.count || b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : 1);
const mentions = (s: DuplicateSet, tag: string) => s.keyHash === tag || s.lookups.some((m) => m.startsWith(lookupMember(tag, '')));

/** In-process: a map bounded by the least recently seen, each set expiring ttlMs after it was last seen. */
export class MemoryDuplicateSets implements DuplicateSets {
  private readonly sets: LRUCache<string, DuplicateSet> | undefined;

  constructor(
    private readonly bounds: DuplicateBounds,
    private readonly now: () => number = Date.now,
  ) {
    this.sets = bounds.maxSets > 0 ? new LRUCache({ max: bounds.maxSets }) : undefined;
  }

  seen(sighting: DuplicateSighting, at: LookupKey, now: number): Promise<void> {
    if (!this.sets) return Promise.resolve();
    const id = duplicateSetId(sighting);
    const old = this.sets.get(id);
    const set: DuplicateSet = old && isFresh(old, now, this.bounds.ttlMs) ? old : { ...sighting, ids: [...sighting.ids], id, count: 0, firstSeen: now, lastSeen: now, lookups: [] };
    set.count++;
    set.lastSeen = now;
    const member = lookupMember(at.tag, at.variant);
    if (!set.lookups.includes(member) && set.lookups.length < MAX_LOOKUPS) set.lookups.push(member);
    this.sets.set(id, set);
    return Promise.resolve();
  }

  private fresh(): DuplicateSet[] {
    const now = this.now();
    return [...(this.sets?.values() ?? [])].filter((s) => isFresh(s, now, this.bounds.ttlMs));
  }

  list(limit: number): Promise<DuplicateSet[]> {
    return Promise.resolve(this.fresh().sort(byFrequency).slice(0, limit).map(copy));
  }

  count(): Promise<number> {
    return Promise.resolve(this.fresh().length);
  }

  get(id: string): Promise<DuplicateSet | undefined> {
    const set = this.fresh().find((s) => s.id === id);
    return Promise.resolve(set && copy(set));
  }

  removeNaming(profileIds: readonly string[]): Promise<DuplicateSet[]> {
    return Promise.resolve(this.remove((s) => s.ids.some((id) => profileIds.includes(id))));
  }

  forget(tag: string): Promise<number> {
    return Promise.resolve(this.remove((s) => mentions(s, tag)).length);
  }

  private remove(which: (s: DuplicateSet) => boolean): DuplicateSet[] {
    const gone = [...(this.sets?.values() ?? [])].filter(which);
    for (const s of gone) this.sets!.delete(s.id);
    return gone.map(copy);
  }
}

const copy = (s: DuplicateSet): DuplicateSet => ({ ...s, ids: [...s.ids], lookups: [...s.lookups] });

// One sighting, as a Lua function: the cache hit's script (cache/contact-hit.ts) calls it too, so a MULTIPLE
// cache hit records its set in the hit's one round trip. Keys from `base` (StateKeys.duplicates):
// `:sets` (a sorted set of set ids by count, for the list), `:seen` (the same ids by the time each was
// last seen, for the bounds) and `:set:<id>` (a hash: ids, key, keyHash, first, last, count, lookups).
// Every key gets the TTL again at each sighting; a set not seen within it is dropped from both sorted
// sets by the next sighting (its hash has expired by itself), and past `max` sets the least recently seen
// go. At most PRUNE_BATCH of each a sighting, so one never does unbounded work.
//   seen(base, id, key, keyHash, ids (comma-joined), lookup member or '', now, ttl ms, max) -> the count
export const SEEN_LUA = `
local function seen(base, id, key, keyHash, ids, member, now, ttl, max)
  local sets, byTime, hash = base .. ':sets', base .. ':seen', base .. ':set:' .. id
  -- a set last seen a TTL ago is gone, whether or not Redis' own expiry (by its clock) has come
  local last = redis.call('HGET', hash, 'last')
  if last and tonumber(last) <= tonumber(now) - tonumber(ttl) then redis.call('DEL', hash) end
  local count = redis.call('HINCRBY', hash, 'count', 1)
  if count == 1 then redis.call('HSET', hash, 'ids', ids, 'key', key, 'keyHash', keyHash, 'first', now, 'lookups', '') end
  redis.call('HSET', hash, 'last', now)
  if member ~= '' then
    local list = redis.call('HGET', hash, 'lookups') or ''
    if list == '' then
      redis.call('HSET', hash, 'lookups', member)
    elseif not string.find(',' .. list .. ',', ',' .. member .. ',', 1, true) and select(2, string.gsub(list, ',', ',')) + 1 < ${MAX_LOOKUPS} then
      redis.call('HSET', hash, 'lookups', list .. ',' .. member)
    end
  end
  redis.call('PEXPIRE', hash, ttl)
  redis.call('ZADD', sets, count, id)
  redis.call('ZADD', byTime, now, id)
  local function drop(list)
    for _, old in ipairs(list) do
      redis.call('ZREM', sets, old)
      redis.call('ZREM', byTime, old)
      redis.call('DEL', base .. ':set:' .. old)
    end
  end
  drop(redis.call('ZRANGEBYSCORE', byTime, '-inf', '(' .. (tonumber(now) - tonumber(ttl) + 1), 'LIMIT', 0, ${PRUNE_BATCH}))
  local over = redis.call('ZCARD', byTime) - tonumber(max)
  if over > 0 then drop(redis.call('ZRANGE', byTime, 0, math.min(over, ${PRUNE_BATCH}) - 1)) end
  redis.call('PEXPIRE', sets, ttl)
  redis.call('PEXPIRE', byTime, ttl)
  return count
end
`;

// KEYS: sets, seen, the set's hash (declared for a cluster's routing: all in the {dups} slot); ARGV as seen()'s after base
const SEEN = new RedisScript(`${SEEN_LUA}
return seen(string.sub(KEYS[1], 1, -6), ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
`);

/** What the cache hit's script needs to call SEEN_LUA's seen() itself ('' base: recording is off). */
export interface DuplicateScriptArgs {
  base: string;
  ttlMs: number;
  maxSets: number;
}

/**
 * Fleet-wide, in Redis (see SEEN_LUA). `seen` counts its failures and never throws (the answer has gone);
 * the operator's reads and removals throw, so a command says Redis failed rather than "no sets".
 */
export class RedisDuplicateSets implements DuplicateSets {
  constructor(
    private readonly redis: RedisClient,
    /** StateKeys.duplicates() */
    private readonly base: string,
    private readonly bounds: DuplicateBounds,
    private readonly health?: RedisHealth,
    private readonly now: () => number = Date.now,
  ) {}

  /** For the cache hit's script: where the sets are and their bounds (base '' when recording is off). */
  get scriptArgs(): DuplicateScriptArgs {
    return { base: this.bounds.maxSets > 0 ? this.base : '', ttlMs: this.bounds.ttlMs, maxSets: this.bounds.maxSets };
  }

  async seen(sighting: DuplicateSighting, at: LookupKey, now: number): Promise<void> {
    if (this.bounds.maxSets <= 0) return;
    const id = duplicateSetId(sighting);
    const run = () =>
      SEEN.run(
        this.redis,
        [`${this.base}:sets`, `${this.base}:seen`, this.setKey(id)],
        [id, sighting.key, sighting.keyHash, sighting.ids.join(','), lookupMember(at.tag, at.variant), now, this.bounds.ttlMs, this.bounds.maxSets],
      );
    if (this.health) await this.health.safely('duplicates.seen', run, undefined);
    else await run();
  }

  async list(limit: number): Promise<DuplicateSet[]> {
    const ids = await this.redis.zrevrange(`${this.base}:sets`, 0, Math.max(0, limit * 2) - 1);
    // a set whose hash expired is still listed until a sighting prunes it: read twice the limit, keep the live ones
    return (await this.read(ids)).sort(byFrequency).slice(0, limit);
  }

  async count(): Promise<number> {
    // the live ones: not seen within the TTL means gone, whether or not a sighting has pruned it yet
    return this.redis.zcount(`${this.base}:seen`, `(${this.now() - this.bounds.ttlMs}`, '+inf');
  }

  async get(id: string): Promise<DuplicateSet | undefined> {
    if (!/^[0-9a-f]{16}$/.test(id)) return undefined;
    return (await this.read([id]))[0];
  }

  async removeNaming(profileIds: readonly string[]): Promise<DuplicateSet[]> {
    return this.remove((s) => s.ids.some((id) => profileIds.includes(id)));
  }

  async forget(tag: string): Promise<number> {
    return (await this.remove((s) => mentions(s, tag))).length;
  }

  /** Every set is read (bounded by maxSets) and the chosen ones deleted: an operator's or an erasure's step, never a caller's. */
  private async remove(which: (s: DuplicateSet) => boolean): Promise<DuplicateSet[]> {
    const all = await this.redis.zrange(`${this.base}:seen`, 0, -1);
    const gone = (await this.read(all)).filter(which);
    if (gone.length === 0) return [];
    const ids = gone.map((s) => s.id);
    // one slot ({dups}): one transaction
    await this.redis
      .multi()
      .zrem(`${this.base}:sets`, ...ids)
      .zrem(`${this.base}:seen`, ...ids)
      .del(...ids.map((id) => this.setKey(id)))
      .exec();
    return gone;
  }

  private setKey(id: string): string {
    return `${this.base}:set:${id}`;
  }

  private async read(ids: readonly string[]): Promise<DuplicateSet[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.setKey(id));
    const replies = (await pipeline.exec()) ?? [];
    const now = this.now();
    return ids.flatMap((id, i) => {
      const [err, raw] = replies[i] ?? [];
      if (err) throw err;
      const set = parseSet(id, raw as Record<string, string>);
      return set && isFresh(set, now, this.bounds.ttlMs) ? [set] : [];
    });
  }
}

function parseSet(id: string, h: Record<string, string> | undefined): DuplicateSet | undefined {
  if (!h?.ids || !h.key) return undefined;
  return {
    id,
    ids: h.ids.split(','),
    key: h.key,
    keyHash: h.keyHash ?? '',
    count: Number(h.count ?? 0),
    firstSeen: Number(h.first ?? 0),
    lastSeen: Number(h.last ?? 0),
    lookups: h.lookups ? h.lookups.split(',') : [],
  };
}
