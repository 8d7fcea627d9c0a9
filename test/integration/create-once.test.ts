// Creating a caller's profile once (src/cache/create-once.ts): the in-process version, and the
// fleet-wide Redis lock against a real redis-server, with replicas that each have their own connection.
import { expect } from 'chai';
import { once as event } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { LocalCreateOnce, RedisCreateOnce } from '../../src/cache/create-once.js';
import { StateKeys } from '../../src/cache/keys.js';
import { MemoryProfileCache, RedisProfileCache, type CachedLookup } from '../../src/cache/profile-cache.js';
import { RedisHealth } from '../../src/redis/client.js';
import { Sealer } from '../../src/redis/seal.js';
import type { ProfileSummary } from '../../src/domain/answer.js';
import { createLogger } from '../../src/ops/logger.js';
import { useRedisServer } from '../support/redis.js';
import { until } from '../support/until.js';

const MATCHED_BY = ['_phone'];

function summary(n = 1): ProfileSummary {
  return { profileId: `${String(n).repeat(32)}`.slice(0, 32), firstName: 'Amelia', lastName: 'Hughes', accountNumber: '', mapped: {} };
}

/** A create() that notes each call (and whether it was told an earlier attempt may have reached AWS) and answers `answer`. */
function creator(answer: (previous: boolean, n: number) => Promise<ProfileSummary> = () => Promise.resolve(summary())) {
  const calls: boolean[] = [];
  return {
    calls,
    create: (previous: boolean) => {
      calls.push(previous);
      return answer(previous, calls.length);
    },
  };
}

describe('LocalCreateOnce (no Redis)', () => {
  it('creates at once (no earlier attempt to search for) and the cache learns the profile, with the keys that find it', async () => {
    const cache = new MemoryProfileCache(60_000);
    const { calls, create } = creator();
    const before = Date.now();

    const created = await new LocalCreateOnce(cache).run('tag-amelia', new AbortController().signal, MATCHED_BY, create);

    expect(created).to.deep.equal(summary());
    expect(calls).to.deep.equal([false]);
    const entry = await cache.get('tag-amelia');
    expect(entry).to.deep.include({ status: 'KNOWN', matchCount: 1, summary: summary(), matchedBy: MATCHED_BY, verification: 'NOT_CHECKED' });
    expect(entry!.cachedAt).to.be.within(before, Date.now());
  });

  it('a creation that fails rejects with its error and caches nothing', async () => {
    const cache = new MemoryProfileCache(60_000);
    const failure = new Error('CreateProfile: 503');

    const outcome = await new LocalCreateOnce(cache).run('tag-amelia', new AbortController().signal, MATCHED_BY, () => Promise.reject(failure)).catch((err: unknown) => err);

    expect(outcome).to.equal(failure);
    expect(await cache.get('tag-amelia')).to.equal(undefined);
  });
});

describe('RedisCreateOnce (the fleet-wide creation lock, real Redis)', () => {
  const server = useRedisServer({ args: ['--maxmemory-policy', 'noeviction'] });
  const keys = new StateKeys('cpr:acme-contacts', 'a-test-identity-hash-secret', []);
  const sealer = new Sealer([{ id: 'k1', key: Buffer.alloc(32, 5) }]);
  const TAG = 'tag-of-amelia';
  const LOCK = keys.createLock(TAG);
  const ATTEMPT = keys.createAttempt(TAG);
  const clients: Redis[] = [];
  let admin: Redis;
  let errors: string[];

  /** The profile cache, counting its reads (a waiting replica polls it). */
  class WatchedCache extends RedisProfileCache {
    reads = 0;
    override get(tag: string, variant?: string): Promise<CachedLookup | undefined> {
      this.reads++;
      return super.get(tag, variant);
    }
  }

  /**
   * One replica: its own connection (failing fast, as the service's: no offline queue, no retries), cache
   * and lock, as the service builds them; `waits` holds what onWait was told. Connected unless `lazy`.
   */
  async function replica(o: { lockTtlMs?: number; commandTimeout?: number; lazy?: boolean } = {}) {
    const redis = server().client({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      ...(o.commandTimeout && { commandTimeout: o.commandTimeout }),
      ...(o.lazy && { lazyConnect: true }),
    });
    clients.push(redis);
    if (!o.lazy && redis.status !== 'ready') await event(redis, 'ready');
    const health = new RedisHealth(createLogger('silent'), (op) => errors.push(op));
    const cache = new WatchedCache(redis, keys, health, 60_000, sealer);
    const waits: number[] = [];
    const once = new RedisCreateOnce(redis, keys, cache, health, o.lockTtlMs ?? 5000, (seconds) => waits.push(seconds), 10);
    return { once, cache, waits, redis };
  }

  const run = (r: Awaited<ReturnType<typeof replica>>, create: (previous: boolean) => Promise<ProfileSummary>, signal = new AbortController().signal) =>
    r.once.run(TAG, signal, MATCHED_BY, create);

  /** Redis refuses every write with OOM (noeviction, full) from now until the test ends. */
  const full = () => admin.config('SET', 'maxmemory', '1');

  before(async () => {
    admin = server().client();
    await admin.ping();
  });
  beforeEach(async () => {
    errors = [];
    await server().flush();
  });
  afterEach(async () => {
    await admin.config('SET', 'maxmemory', '0');
    for (const c of clients.splice(0)) c.disconnect();
  });
  after(() => admin.disconnect());

  it('one replica alone creates (no earlier attempt), caches the profile with its keys, and leaves neither lock nor attempt marker', async () => {
    const r = await replica();
    const { calls, create } = creator();

    expect(await run(r, create)).to.deep.equal(summary());

    expect(calls).to.deep.equal([false]);
    // the entry is written after the answer (not awaited)
    await until('the profile to be cached', async () => (await r.cache.get(TAG)) !== undefined);
    expect(await r.cache.get(TAG)).to.deep.include({ status: 'KNOWN', summary: summary(), matchedBy: MATCHED_BY });
    expect(await admin.exists(LOCK, ATTEMPT)).to.equal(0);
    expect(r.waits, 'no wait counted').to.deep.equal([]);
  });

  it('five replicas at once: exactly one creates, and the four that waited answer the profile it created', async () => {
    const replicas = await Promise.all(Array.from({ length: 5 }, () => replica()));
    let releaseCreate!: () => void;
    const createMayEnd = new Promise<void>((resolve) => (releaseCreate = resolve));
    const { calls, create } = creator(async () => {
      await createMayEnd;
      return summary();
    });

    const answers = Promise.all(replicas.map((r) => run(r, create)));
    // the four losers are polling the cache for the winner's profile
    await until('four replicas to wait', () => replicas.filter((r) => r.cache.reads > 0).length === 4);
    releaseCreate();

    for (const answer of await answers) expect(answer).to.deep.equal(summary());
    expect(calls, 'CreateProfile calls').to.deep.equal([false]);
    expect(replicas.filter((r) => r.waits.length === 1), 'replicas that counted a wait').to.have.length(4);
    await until('the lock to be released', async () => (await admin.exists(LOCK)) === 0);
  });

  it('the lock\'s winner finds the profile already cached (created between its search and its lock) and answers it without creating', async () => {
    const r = await replica();
    await r.cache.set(TAG, { status: 'KNOWN', matchCount: 1, summary: summary(7), matchedBy: MATCHED_BY, cachedAt: Date.now() });
    const { calls, create } = creator();

    expect(await run(r, create)).to.deep.equal(summary(7));

    expect(calls).to.deep.equal([]);
    expect(await admin.exists(LOCK, ATTEMPT), 'lock and marker gone').to.equal(0);
  });

  it('a creator that fails: its caller gets the error, the lock is released at once, and a waiting replica creates, searching first', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    let failCreate!: () => void;
    const createFails = new Promise<void>((resolve) => (failCreate = resolve));
    const failure = new Error('CreateProfile: timed out');
    const { calls, create } = creator(async (_previous, n) => {
      if (n > 1) return summary(2);
      await createFails;
      throw failure;
    });

    const first = run(a, create).catch((err: unknown) => err);
    await until('the first replica to hold the lock', () => calls.length === 1);
    const second = run(b, create);
    await until('the second replica to wait', () => b.cache.reads > 0);
    failCreate();
    const failed = performance.now();

    expect(await first).to.equal(failure);
    expect(await second).to.deep.equal(summary(2));
    expect(performance.now() - failed, 'the waiter created within (ms)').to.be.below(1000); // not the lock's 5 s TTL
    // true: the failed CreateProfile may have reached AWS, so the next creator searches again before creating
    expect(calls).to.deep.equal([false, true]);
  });

  it('a replica that died holding the lock blocks the caller only until the lock expires; the next creator searches first', async () => {
    const r = await replica();
    await admin.set(LOCK, 'token-of-a-dead-replica', 'PX', 300);
    await admin.set(ATTEMPT, 'token-of-a-dead-replica', 'PX', 600_000);
    const { calls, create } = creator();
    const started = performance.now();

    expect(await run(r, create)).to.deep.equal(summary());

    expect(performance.now() - started, 'waited for the lock to expire (ms)').to.be.within(280, 2000);
    expect(calls).to.deep.equal([true]);
    expect(r.waits).to.have.length(1);
    expect(r.waits[0]).to.be.within(0.28, 2);
  });

  it('a creator still working when the lock\'s TTL has passed keeps it (renewed): a second replica waits for its profile instead of creating', async () => {
    const TTL = 150;
    const [a, b] = await Promise.all([replica({ lockTtlMs: TTL }), replica({ lockTtlMs: TTL })]);
    const { calls, create } = creator(async () => {
      // the point of the test: CreateProfile outlasts the lock's TTL several times over
      await sleep(4 * TTL);
      return summary();
    });

    const first = run(a, create);
    await until('the first replica to hold the lock', () => calls.length === 1);
    const second = run(b, create);

    expect(await Promise.all([first, second])).to.deep.equal([summary(), summary()]);
    expect(calls, 'CreateProfile calls').to.have.length(1);
    expect(b.waits).to.have.length(1);
  });

  it('when Redis answers the lock with an error (out of memory), creates at once as without Redis, and counts the failure', async () => {
    const r = await replica();
    await full();
    const { calls, create } = creator();
    const started = performance.now();

    expect(await run(r, create)).to.deep.equal(summary());

    expect(calls, 'no earlier attempt: no search first').to.deep.equal([false]);
    expect(r.waits, 'no wait').to.deep.equal([]);
    expect(performance.now() - started, 'ms').to.be.below(200);
    expect(errors).to.include('lock.acquire');
  });

  it('when Redis answers with an error after this replica has waited for a lock, creates at once but searches first (the holder may have created without caching)', async () => {
    const r = await replica();
    await admin.set(LOCK, 'token-of-another-replica', 'PX', 60_000);
    const { calls, create } = creator();

    const answer = run(r, create);
    await until('the replica to wait', () => r.cache.reads > 0);
    // the holder's profile could not be cached (Redis full), and its release (a DEL) went through
    await full();
    await admin.del(LOCK);

    expect(await answer).to.deep.equal(summary());
    expect(calls).to.deep.equal([true]);
    expect(errors).to.include('lock.acquire');
  });

  it('a creator whose profile Redis refuses to cache (full) still releases the lock: its waiter does not wait out the TTL, and searches before creating', async () => {
    const [a, b] = await Promise.all([replica({ lockTtlMs: 60_000 }), replica({ lockTtlMs: 60_000 })]);
    let releaseCreate!: () => void;
    const createMayEnd = new Promise<void>((resolve) => (releaseCreate = resolve));
    const { calls, create } = creator(async (_previous, n) => {
      if (n === 1) await createMayEnd;
      return summary();
    });

    const first = run(a, create);
    await until('the first replica to hold the lock', () => calls.length === 1);
    const second = run(b, create);
    await until('the second replica to wait', () => b.cache.reads > 0);
    await full();
    releaseCreate();

    expect(await first).to.deep.equal(summary());
    expect(await second).to.deep.equal(summary());
    expect(calls).to.deep.equal([false, true]);
    expect(await admin.exists(ATTEMPT), 'the attempt marker stays for the next creator').to.equal(1);
  });

  it('when the command cannot be sent (no connection), creates at once', async () => {
    const r = await replica({ lazy: true });
    const { calls, create } = creator();

    expect(await run(r, create)).to.deep.equal(summary());

    expect(calls).to.deep.equal([false]);
    expect(errors).to.include('lock.acquire');
  });

  it('while the lock\'s replies are lost (Redis paused), waits rather than creating; given up, it releases the lock its late command took', async () => {
    const r = await replica({ commandTimeout: 50, lockTtlMs: 60_000 });
    const pauser = server().client();
    clients.push(pauser);
    const { calls, create } = creator();
    const controller = new AbortController();

    await pauser.client('PAUSE', 500, 'ALL');
    const answer = run(r, create, controller.signal).catch((err: unknown) => err);
    await until('a lock reply to be lost', () => errors.includes('lock.acquire'));
    controller.abort();
    const outcome = await answer;

    expect(outcome).to.be.instanceOf(Error);
    expect(calls, 'CreateProfile calls').to.deep.equal([]);
    // the pause ends: the lock commands sent during it run now (taking the lock), then the release sent after
    // them; a PING on the same connection is answered after all of them
    await pauser.ping();
    await r.redis.ping();
    expect(await admin.exists(LOCK), 'the lock left behind').to.equal(0);
  });
});
