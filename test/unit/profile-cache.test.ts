import { expect } from 'chai';
import { Redis } from 'ioredis';
import { StateKeys } from '../../src/cache/keys.js';
import { RedisProfileCache, type CachedLookup } from '../../src/cache/profile-cache.js';
import { RedisHealth } from '../../src/cache/redis.js';
import { Sealer } from '../../src/cache/seal.js';
import { createLogger } from '../../src/ops/logger.js';

// open() and seal() do not touch Redis: a client that never connects
const redis = new Redis({ lazyConnect: true });
const keys = new StateKeys('cpr', 'acme', 'a-test-secret-of-some-length', []);
const sealer = new Sealer([{ id: 'k1', key: Buffer.alloc(32, 7) }]);
const cache = new RedisProfileCache(redis, keys, new RedisHealth(createLogger('silent')), 60_000, sealer);
const lookup: CachedLookup = {
  status: 'KNOWN',
  matchCount: 1,
  summary: { profileId: '0123456789abcdef0123456789abcdef', firstName: 'Amelia', lastName: 'Ito', accountNumber: 'A-1', mapped: {} },
  cachedAt: 1_764_000_000_000,
};

describe('cached lookups, opened', () => {
  after(() => redis.disconnect());

  it('a value opens to its lookup, again and again (the second time from the lookups opened lately)', () => {
    const raw = cache.seal('tagA', lookup);
    expect(cache.open('tagA', raw)).to.deep.equal(lookup);
    expect(cache.open('tagA', raw)).to.deep.equal(lookup);
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
