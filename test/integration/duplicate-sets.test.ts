// The duplicate sets in Redis (cache/duplicates.ts): the same behaviour as in process, on a single Redis and on a
// 3-master cluster (one script, every key in the {dups} slot), and what Redis holds: bounded, every key with a TTL.
import { expect } from 'chai';
import type { Cluster, Redis } from 'ioredis';
import { RedisDuplicateSets } from '../../src/cache/duplicates.js';
import { behavesAsDuplicateSets } from '../support/duplicate-sets.js';
import { useRedisCluster, useRedisServer } from '../support/redis.js';

const BASE = 'cpr:acme:{dups}';
const DAY = 86_400_000;
const id = (c: string) => c.repeat(32);

describe('duplicate sets in Redis (RedisDuplicateSets), one Redis', function () {
  this.timeout(20_000);
  const server = useRedisServer();
  let client: Redis;
  before(() => {
    client = server().client();
  });
  after(() => client.disconnect());
  beforeEach(() => server().flush());

  behavesAsDuplicateSets((bounds, now) => Promise.resolve(new RedisDuplicateSets(client, BASE, bounds, undefined, now)));

  it('holds two sorted sets and one hash a set, every key with the TTL from the last sighting; the bound holds however many sets come', async () => {
    const sets = new RedisDuplicateSets(client, BASE, { maxSets: 5, ttlMs: 30 * DAY });
    const now = Date.now();
    for (let i = 0; i < 40; i++) await sets.seen({ ids: [id('a'), i.toString(16).padStart(32, '0')], key: '_phone', keyHash: `tag${i}` }, { tag: `tag${i}`, variant: '' }, now + i);

    const keys = (await client.keys(`${BASE}*`)).sort();
    expect(keys.filter((k) => k.includes(':set:'))).to.have.length(5);
    expect(keys.filter((k) => !k.includes(':set:'))).to.deep.equal([`${BASE}:seen`, `${BASE}:sets`]);
    expect(await client.zcard(`${BASE}:sets`)).to.equal(5);
    for (const k of keys) expect(await client.pttl(k), k).to.be.within(30 * DAY - 60_000, 30 * DAY);
  });
});

describe('duplicate sets in Redis (RedisDuplicateSets), a 3-master cluster', function () {
  this.timeout(60_000);
  const cluster = useRedisCluster();
  let client: Cluster;
  before(() => {
    client = cluster().client();
  });
  after(() => client.disconnect());
  beforeEach(() => cluster().flush());

  behavesAsDuplicateSets((bounds, now) => Promise.resolve(new RedisDuplicateSets(client, BASE, bounds, undefined, now)));
});
