// The profiles' pending updates (queued, not yet written), in Redis (a real redis-server) and in-process:
// the order they apply in, sealing, expiry, removal.
import { expect } from 'chai';
import { StateKeys } from '../../src/cache/keys.js';
import { MemoryPendingUpdates, PENDING_UPDATE_TTL_MS, RedisPendingUpdates, type PendingUpdates } from '../../src/cache/pending-updates.js';
import { RedisHealth } from '../../src/redis/client.js';
import { Sealer } from '../../src/redis/seal.js';
import { createLogger } from '../../src/ops/logger.js';
import { RecordError } from '../../src/records/errors.js';
import type { UpdateJob } from '../../src/records/job.js';
import { LocalRecordQueue } from '../../src/records/local-queue.js';
import { Pacer } from '../../src/records/pacer.js';
import { RecordWriter, type RecordTarget } from '../../src/records/writer.js';
import { useRedisServer } from '../support/redis.js';
import { until } from '../support/until.js';

const PROFILE = '0123456789abcdef0123456789abcdef';
const T0 = Date.parse('2026-12-06T05:00:00Z');

describe('pending updates', () => {
  const server = useRedisServer();
  const keys = new StateKeys('cpr:acme-contacts', 'test-identity-hash-secret', []);
  const sealer = new Sealer([{ id: 'k1', key: Buffer.alloc(32, 3) }]);
  let now = T0;
  let errors: string[] = [];
  const clients: Array<{ disconnect(): void }> = [];
  const client = () => {
    const c = server().client();
    clients.push(c);
    return c;
  };

  const backends: Array<{ name: string; make(): PendingUpdates }> = [
    { name: 'in-process', make: () => new MemoryPendingUpdates(() => now) },
    {
      name: 'Redis',
      make: () => new RedisPendingUpdates(client(), keys, new RedisHealth(createLogger('silent'), (op) => errors.push(op)), sealer, () => now),
    },
  ];
  beforeEach(async () => {
    now = T0;
    errors = [];
    await server().flush();
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  for (const backend of backends) {
    describe(backend.name, () => {
      it('lists a profile\'s pending updates in the order they were asked for, whatever order they were noted in', async () => {
        const pending = backend.make();
        await pending.add(PROFILE, { updateId: 'b', receivedAt: T0 + 20, update: { FirstName: 'Bea' } });
        await pending.add(PROFILE, { updateId: 'a', receivedAt: T0 + 10, update: { FirstName: 'Amy', LastName: 'Jones' } });
        await pending.add(PROFILE, { updateId: 'c', receivedAt: T0 + 30, update: { Attributes: { tier: 'gold' } } });
        expect(await pending.list(PROFILE)).to.deep.equal([{ FirstName: 'Amy', LastName: 'Jones' }, { FirstName: 'Bea' }, { Attributes: { tier: 'gold' } }]);
        expect(await pending.list('another-profile')).to.deep.equal([]);
      });

      it('an update removed (written or dead-lettered) is no longer listed; removing one twice is harmless', async () => {
        const pending = backend.make();
        await pending.add(PROFILE, { updateId: 'a', receivedAt: T0, update: { FirstName: 'Amy' } });
        await pending.add(PROFILE, { updateId: 'b', receivedAt: T0 + 1, update: { LastName: 'Jones' } });
        await pending.remove(PROFILE, 'a');
        await pending.remove(PROFILE, 'a');
        expect(await pending.list(PROFILE)).to.deep.equal([{ LastName: 'Jones' }]);
        await pending.remove(PROFILE, 'b');
        expect(await pending.list(PROFILE)).to.deep.equal([]);
      });

      it('an update older than PENDING_UPDATE_TTL_MS is not listed, even while newer ones keep the profile\'s entry alive', async () => {
        const pending = backend.make();
        await pending.add(PROFILE, { updateId: 'old', receivedAt: T0, update: { FirstName: 'Old' } });
        now = T0 + PENDING_UPDATE_TTL_MS - 1000;
        await pending.add(PROFILE, { updateId: 'new', receivedAt: now, update: { LastName: 'New' } });
        now = T0 + PENDING_UPDATE_TTL_MS + 1;
        expect(await pending.list(PROFILE)).to.deep.equal([{ LastName: 'New' }]);
      });
    });
  }

  describe('in Redis', () => {
    const key = `cpr:acme-contacts:{p:${PROFILE}}:pending`;

    it('one hash per profile under its hash tag, each value sealed (no value in clear), the key expiring after PENDING_UPDATE_TTL_MS', async () => {
      const pending = backends[1]!.make();
      await pending.add(PROFILE, { updateId: 'u1', receivedAt: T0, update: { FirstName: 'Amelia', EmailAddress: 'amelia@example.com' } });
      const redis = client();
      const raw = await redis.hgetall(key);
      expect(Object.keys(raw)).to.deep.equal(['u1']);
      expect(raw.u1).to.match(/^k1\./);
      expect(raw.u1).not.to.include('Amelia');
      expect(raw.u1).not.to.include('amelia@example.com');
      const ttl = await redis.pttl(key);
      expect(ttl).to.be.within(PENDING_UPDATE_TTL_MS - 5000, PENDING_UPDATE_TTL_MS);

      // a value copied under another update id, or another profile's key, does not open there
      await redis.hset(key, 'u2', raw.u1!);
      await redis.hset(`cpr:acme-contacts:{p:other}:pending`, 'u1', raw.u1!);
      expect(await pending.list(PROFILE)).to.deep.equal([{ FirstName: 'Amelia', EmailAddress: 'amelia@example.com' }]);
      expect(await pending.list('other')).to.deep.equal([]);
    });

    it('a read that Redis answers with an error is undefined (could not be read), not "none", and is counted', async () => {
      await client().set(key, 'a string, not a hash');
      const pending = backends[1]!.make();
      expect(await pending.list(PROFILE)).to.equal(undefined);
      expect(errors).to.deep.equal(['pending.read']);
    });
  });

  describe('the record writer (in-process queue)', () => {
    const job = (updateId: string, FirstName: string): UpdateJob => ({
      kind: 'update',
      contactId: `c-${updateId}`,
      updateId,
      profileId: PROFILE,
      identityTag: 'tag',
      receivedAt: new Date(Date.now()).toISOString(),
      update: { FirstName },
    });

    it('removes an update from the pending ones once written, and one it dead-letters', async () => {
      now = Date.now();
      const pending = new MemoryPendingUpdates(() => now);
      const written: string[] = [];
      // Customer Profiles (the AWS target) as the writer sees it: refuses "Refused" for good
      const target: RecordTarget = {
        addContactKey: () => Promise.resolve(),
        putRecord: () => Promise.resolve(),
        updateProfile: (j) => (j.update.FirstName === 'Refused' ? Promise.reject(new RecordError('permanent', 'AccessDenied')) : Promise.resolve(void written.push(j.updateId))),
      };
      const queue = new LocalRecordQueue(new RecordWriter(target, new Pacer({ keyPrefix: 'test', connectPerSecond: 5 }), pending), {
        ratePerSecond: 40,
        maxAttempts: 1,
        logger: createLogger('silent'),
      });
      for (const j of [job('a', 'Amy'), job('b', 'Refused')]) {
        await pending.add(PROFILE, { updateId: j.updateId, receivedAt: Date.parse(j.receivedAt), update: j.update });
        await queue.enqueue(j);
      }
      expect(await pending.list(PROFILE)).to.have.length(2);
      queue.start();
      await until('written and dead-lettered', async () => written.length === 1 && (await queue.deadLetters.count()) === 1, 10_000);
      await until('neither pending', async () => (await pending.list(PROFILE))?.length === 0);
      await queue.close();
    });
  });
});
