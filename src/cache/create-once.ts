import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProfileSummary } from '../domain/answer.js';
import type { StateKeys } from './keys.js';
import type { CachedLookup, ProfileCache, RedisProfileCache } from './profile-cache.js';
import { isErrorReply, RedisScript, type RedisClient, type RedisHealth } from '../redis/client.js';

/**
 * Creates a caller's profile once across the whole fleet.
 *
 * The replica that wins a short Redis lock on the identity creates the profile and writes it to the
 * shared cache; the others poll the cache until it appears (or until the lock is free again, then
 * compete for it). The winner renews the lock while its CreateProfile runs; a replica that dies
 * holding the lock blocks the identity only until the lock expires. A marker left by an attempt that
 * never finished tells the next creator that the previous CreateProfile may have reached AWS:
 * `create(true)` then searches again before creating.
 *
 * With no Redis, or while Redis cannot be reached or answers with an error (full, read-only), the
 * in-process single-flight in front of this is what prevents duplicates (per replica). While its
 * replies are lost (slow, paused), it waits: the lock may be held (docs/shared-state.md).
 */
export interface CreateOnce {
  /** `matchedBy`: the key a search of the created profile finds it by, cached with it */
  run(
    tag: string,
    signal: AbortSignal,
    matchedBy: readonly string[],
    create: (previousAttemptUnfinished: boolean) => Promise<ProfileSummary>,
  ): Promise<ProfileSummary>;
}

/** The cache entry of a profile created now. */
function createdEntry(summary: ProfileSummary, matchedBy: readonly string[]): CachedLookup {
  return { status: 'KNOWN', matchCount: 1, summary, matchedBy: [...matchedBy], verification: 'NOT_CHECKED', cachedAt: Date.now() };
}

/** Without Redis: create, and let the cache learn the profile at once. */
export class LocalCreateOnce implements CreateOnce {
  constructor(private readonly cache: ProfileCache) {}

  async run(tag: string, _signal: AbortSignal, matchedBy: readonly string[], create: (previous: boolean) => Promise<ProfileSummary>): Promise<ProfileSummary> {
    const summary = await create(false);
    await this.cache.set(tag, createdEntry(summary, matchedBy));
    return summary;
  }
}

// One round trip each way around CreateProfile: a caller's keys share one hash tag, so these run in
// one slot. Every round trip here adds to a new caller's silence on the line.
//
// ACQUIRE (KEYS lock, cache, attempt; ARGV token, lockTtlMs, attemptTtlMs): takes the lock; when taken,
// also returns the cached lookup (the winner may have finished between our search and our lock) and
// leaves the attempt marker, reporting whether an earlier attempt left one unfinished. Asking again
// with the same token is safe: a lock this token already holds is taken again, and its own marker is
// not an unfinished attempt (a reply that timed out may have hidden a lock we took).
//   -> {0} lock held elsewhere | {1, cached or '', 1 if an earlier attempt is unfinished else 0}
const ACQUIRE = new RedisScript(`
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local cached = redis.call('GET', KEYS[2]) or ''
local previous = redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3], 'GET')
return {1, cached, (previous and previous ~= ARGV[1]) and 1 or 0}
`);
// FINISH (KEYS lock, cache, attempt, the lookup's head; ARGV token, sealed lookup or '', cacheKeepMs, head
// or ''): the created profile goes into the cache and the attempt marker goes, before the lock is
// released, in one step, so a waiter that finds the lock free finds the profile too. With no lookup (the
// attempt failed) only the lock is released: the marker stays for the next creator. The head goes with
// the lookup (contact-hit.ts); with none given (an entry put back unchanged, or a cluster) it is kept as
// long as the lookup.
//
// A full Redis (noeviction) refuses the entry but still takes the DELs: the lock is released all the same,
// and the marker stays, so a waiter that finds neither lock nor profile searches again before creating
// (not stuck on a lock until it expires, nor creating a second profile).
const FINISH = new RedisScript(`
if ARGV[2] ~= '' then
  local cached = redis.pcall('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  if not cached.err then
    redis.call('DEL', KEYS[3])
    if ARGV[4] ~= '' then redis.pcall('SET', KEYS[4], ARGV[4], 'PX', ARGV[3]) else redis.call('PEXPIRE', KEYS[4], ARGV[3]) end
  end
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
// RENEW (KEYS lock; ARGV token, lockTtlMs): pushes the lock's expiry out while its holder is still creating.
const RENEW = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);
const ATTEMPT_MARKER_MS = 10 * 60 * 1000;

/** ioredis refuses a command it cannot send (no connection, no offline queue) with one of these. */
function neverSent(err: unknown): boolean {
  return /enableOfflineQueue options is false|None of startup nodes is available/.test((err as Error)?.message ?? '');
}

export class RedisCreateOnce implements CreateOnce {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly cache: RedisProfileCache,
    private readonly health: RedisHealth,
    private readonly lockTtlMs: number,
    private readonly onWait: (seconds: number) => void = () => {},
    private readonly pollMs = 20,
  ) {}

  async run(tag: string, signal: AbortSignal, matchedBy: readonly string[], create: (previous: boolean) => Promise<ProfileSummary>): Promise<ProfileSummary> {
    const keys = [this.keys.createLock(tag), this.keys.profileCache(tag), this.keys.createAttempt(tag), this.keys.lookupHead(tag)];
    const token = randomBytes(12).toString('base64url');
    const started = performance.now();
    let waited = false;
    const done = (summary: ProfileSummary) => {
      if (waited) this.onWait((performance.now() - started) / 1000);
      return summary;
    };
    // set once a lock command's reply was lost: that command may run later and take the lock with our token
    let lostReply = false;
    for (;;) {
      let acquired: [number, string?, number?];
      try {
        signal.throwIfAborted();
        try {
          acquired = (await ACQUIRE.run(this.redis, keys, [token, this.lockTtlMs, ATTEMPT_MARKER_MS])) as typeof acquired;
        } catch (err) {
          this.health.failed('lock.acquire', err);
          // Redis cannot be reached (the command was never sent), or it answered with an error (out of
          // memory, read-only in a failover...: the script stopped at its first write, so no lock was
          // taken, and asking again at once gets the same answer; polling for it took a new caller's
          // whole deadline): the in-process single-flight is all the protection left. When we have
          // waited for a lock, its holder may have created the profile without managing to cache it (a
          // full Redis refuses the entry): search again before creating.
          if (neverSent(err) || isErrorReply(err)) {
            const searchFirst = waited;
            return done(await new LocalCreateOnce(this.cache).run(tag, signal, matchedBy, (previous) => create(previous || searchFirst)));
          }
          // The reply was lost (timed out, connection dropped): the script may have run, and the lock may
          // be ours or another replica's. Creating now could make a second profile; wait and ask again.
          acquired = [0];
          lostReply = true;
        }
        if (acquired[0] !== 1) {
          waited = true;
          await sleep(this.pollMs, undefined, { signal });
          const created = await this.cache.get(tag);
          if (created?.summary) return done(created.summary);
          continue;
        }
      } catch (err) {
        // Given up (the deadline) after a lost reply: a Redis that was paused or slow still runs the lock
        // commands it holds once it resumes, and one of them would take the lock for this token, which
        // no one then uses or releases: the caller's next contact would wait out CREATE_LOCK_TTL_MS. A
        // release sent now, on the same connection, runs after them. (Its attempt marker stays: the next
        // creator searches once more.)
        if (lostReply) this.release(keys, token);
        throw err;
      }
      return done(await this.createHoldingLock(tag, keys, token, acquired[1] ?? '', acquired[2] === 1, matchedBy, create));
    }
  }

  /** Releases the lock if this token holds it; not awaited, a failure counted by `safely`. */
  private release(keys: string[], token: string, sealed = '', head = ''): void {
    void this.health.safely('lock.release', () => FINISH.run(this.redis, keys, [token, sealed, Math.max(1, this.cache.keepMs), head]), 0);
  }

  private async createHoldingLock(
    tag: string,
    keys: string[],
    token: string,
    cached: string,
    previousAttemptUnfinished: boolean,
    matchedBy: readonly string[],
    create: (previous: boolean) => Promise<ProfileSummary>,
  ): Promise<ProfileSummary> {
    // Not awaited: the answer need not wait for Redis to take the profile in. The commands after it on
    // this connection (the contact's own) are answered after it, and a failure is counted by `safely`.
    const finish = (sealed: string, head = '') => this.release(keys, token, sealed, head);
    const winner = cached ? this.cache.open(tag, cached) : undefined;
    if (winner?.summary) {
      // the profile was created between our search and our lock: its entry goes back unchanged (its
      // expiry renewed), and our attempt marker and the lock go
      finish(cached);
      return winner.summary;
    }
    // A live creator keeps the lock for as long as its CreateProfile runs, which the request's deadline
    // (up to 8 s) bounds, not the lock's TTL: were the lock to expire under a slow CreateProfile, another
    // replica would take it, search before the first profile exists and create a second one. A creator
    // that dies stops renewing, and its lock expires CREATE_LOCK_TTL_MS after the last renewal.
    const renewal = setInterval(
      () => void this.health.safely('lock.renew', () => RENEW.run(this.redis, [keys[0]!], [token, this.lockTtlMs]), 0),
      this.lockTtlMs / 3,
    );
    let summary: ProfileSummary;
    try {
      summary = await create(previousAttemptUnfinished);
    } catch (err) {
      finish('');
      throw err;
    } finally {
      clearInterval(renewal);
    }
    const entry = createdEntry(summary, matchedBy);
    const sealed = this.cache.seal(tag, entry);
    finish(sealed, this.cache.head(entry, sealed));
    void this.health.safely('cache.index', () => this.cache.index(summary.profileId, tag), undefined);
    return summary;
  }
}
