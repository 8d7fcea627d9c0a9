import { expect } from 'chai';
import { Redis } from 'ioredis';
import { StateKeys } from '../../src/cache/keys.js';
import { MemoryProfileCache, RedisProfileCache, type CachedLookup } from '../../src/cache/profile-cache.js';
import { RedisHealth } from '../../src/redis/client.js';
import { Sealer } from '../../src/redis/seal.js';
import { createLogger } from '../../src/ops/logger.js';

// open() and seal() do not touch Redis: a client that never connects
const redis = new Redis({ lazyConnect: true });
const keys = new StateKeys('cpr:acme', 'a-test-secret-of-some-length', []);
let now = 1_764_000_000_000;
/** the real sealer, counting the values it opens */
class CountingSealer extends Sealer {
  opened = 0;
  override open<T>(sealed: string, aad: string): T | undefined {
    this.opened++;
    return super.open<T>(sealed, aad);
  }
}
const counting = new CountingSealer([{ id: 'k1', key: Buffer.alloc(32, 7) }]);
const cache = new RedisProfileCache(redis, keys, new RedisHealth(createLogger('silent')), 60_000, counting, () => now);
const lookup: CachedLookup = {
  status: 'KNOWN',
  matchCount: 1,
  summary: { profileId: '0123456789abcdef0123456789abcdef', firstName: 'Amelia', lastName: 'Ito', accountNumber: 'A-1', mapped: {} },
  cachedAt: 1_764_000_000_000,
};

describe('cached lookups, opened', () => {
  after(() => redis.disconnect());

  it('a value opens to its lookup, again and again: the AES-GCM open once in 60 s, then again', () => {
    const raw = cache.seal('tagA', lookup);
    const before = counting.opened;
    expect(cache.open('tagA', raw)).to.deep.equal(lookup);
    now += 59_000;
    expect(cache.open('tagA', raw)).to.deep.equal(lookup);
    expect(counting.opened - before, 'opened once within 60 s').to.equal(1);
    now += 1_000;
    expect(cache.open('tagA', raw)).to.deep.equal(lookup);
    expect(counting.opened - before, 'and again after').to.equal(2);
  });

  it('a value opened once still does not open under another caller or variant (its key is its AAD)', () => {
    const raw = cache.seal('tagA', lookup);
    expect(cache.open('tagA', raw)).to.deep.equal(lookup);
    expect(cache.open('tagB', raw)).to.equal(undefined);
    expect(cache.open('tagA', raw, 'some-variant')).to.equal(undefined);
  });

  it('a value that does not open is not remembered as opened', () => {
    const raw = cache.seal('tagA', lookup);
    const tampered = `${raw.slice(0, -2)}${raw.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(cache.open('tagA', tampered)).to.equal(undefined);
    expect(cache.open('tagA', tampered)).to.equal(undefined);
  });
});

describe('cached lookups of one profile, refreshed after its update (without Redis)', () => {
  it("rewrites every lookup that answers the profile, whoever's (its phone, its e-mail, an account number), and no other", async () => {
    const memory = new MemoryProfileCache(60_000);
    const other: CachedLookup = { ...lookup, summary: { ...lookup.summary!, profileId: 'fedcba9876543210fedcba9876543210', firstName: 'Ravi' } };
    await memory.set('phoneTag', lookup);
    await memory.set('emailTag', lookup);
    await memory.set('accountTag', lookup, 'variant');
    await memory.set('ravisTag', other);

    const refreshed = await memory.refreshProfile(lookup.summary!.profileId, (l) => ({ ...l, summary: { ...l.summary!, firstName: 'Amy' } }));

    expect(refreshed).to.equal(3);
    for (const [tag, variant] of [['phoneTag'], ['emailTag'], ['accountTag', 'variant']] as const) {
      expect((await memory.get(tag, variant))?.summary?.firstName, tag).to.equal('Amy');
    }
    expect((await memory.get('ravisTag'))?.summary?.firstName).to.equal('Ravi');
  });
});
