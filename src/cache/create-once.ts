import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProfileSummary } from '../contact/answer.js';
import type { StateKeys } from './keys.js';
import type { ProfileCache } from './profile-cache.js';
import { RedisScript, type RedisClient, type RedisHealth } from './redis.js';

/**
 * Creates a caller's profile once across the whole fleet.
 *
 * The replica that wins a short Redis lock on the identity creates the profile and writes it to the
 * shared cache; the others poll the cache until it appears (or until the lock is free again, then
 * compete for it). A replica that dies holding the lock blocks the identity only until the lock
 * expires. A marker left by an attempt that never finished tells the next creator that the previous
 * CreateProfile may have reached AWS: `create(true)` then searches again before creating.
 *
 * With no Redis, or while Redis fails, the in-process single-flight in front of this is what
 * prevents duplicates (per replica).
 */
export interface CreateOnce {
  run(tag: string, signal: AbortSignal, create: (previousAttemptUnfinished: boolean) => Promise<ProfileSummary>): Promise<ProfileSummary>;
}

/** Without Redis: create, and let the cache learn the profile at once. */
export class LocalCreateOnce implements CreateOnce {
  constructor(private readonly cache: ProfileCache) {}

  async run(tag: string, _signal: AbortSignal, create: (previous: boolean) => Promise<ProfileSummary>): Promise<ProfileSummary> {
    const summary = await create(false);
    await this.cache.set(tag, { status: 'KNOWN', matchCount: 1, summary, cachedAt: Date.now() });
    return summary;
  }
}

const RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
const ATTEMPT_MARKER_MS = 10 * 60 * 1000;

export class RedisCreateOnce implements CreateOnce {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly cache: ProfileCache,
    private readonly health: RedisHealth,
    private readonly lockTtlMs: number,
    private readonly onWait: (seconds: number) => void = () => {},
    private readonly pollMs = 20,
  ) {}

  async run(tag: string, signal: AbortSignal, create: (previous: boolean) => Promise<ProfileSummary>): Promise<ProfileSummary> {
    const lockKey = this.keys.createLock(tag);
    const token = randomBytes(12).toString('base64url');
    const started = performance.now();
    let waited = false;
    const done = (summary: ProfileSummary) => {
      if (waited) this.onWait((performance.now() - started) / 1000);
      return summary;
    };
    for (;;) {
      signal.throwIfAborted();
      let acquired: boolean;
      try {
        acquired = (await this.redis.set(lockKey, token, 'PX', this.lockTtlMs, 'NX')) === 'OK';
      } catch (err) {
        // Redis is failing: the in-process single-flight is all the protection left.
        this.health.failed('lock.acquire', err);
        return new LocalCreateOnce(this.cache).run(tag, signal, create);
      }
      if (acquired) return done(await this.createHoldingLock(tag, lockKey, token, create));

      waited = true;
      await sleep(this.pollMs, undefined, { signal });
      const created = await this.cache.get(tag);
      if (created?.summary) return done(created.summary);
    }
  }

  private async createHoldingLock(
    tag: string,
    lockKey: string,
    token: string,
    create: (previous: boolean) => Promise<ProfileSummary>,
  ): Promise<ProfileSummary> {
    try {
      // The winner may have finished between our search and our lock.
      const done = await this.cache.get(tag);
      if (done?.summary) return done.summary;
      const previous = await this.health.safely(
        'lock.attempt',
        () => this.redis.set(this.keys.createAttempt(tag), token, 'PX', ATTEMPT_MARKER_MS, 'GET'),
        null,
      );
      const summary = await create(previous !== null);
      await this.cache.set(tag, { status: 'KNOWN', matchCount: 1, summary, cachedAt: Date.now() });
      await this.health.safely('lock.attempt', () => this.redis.del(this.keys.createAttempt(tag)), 0);
      return summary;
    } finally {
      await this.health.safely('lock.release', () => RELEASE.run(this.redis, [lockKey], [token]), 0);
    }
  }
}
