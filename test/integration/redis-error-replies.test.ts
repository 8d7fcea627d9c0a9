import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventFrom } from '../support/fixtures.js';
import { RedisServer } from '../support/redis.js';
import { DelayingProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';

// Redis that answers, but with an error (src/redis/client.ts, isErrorReply), against one that does not answer
// at all: two replicas of the real composition share one real redis-server; AWS is the real SDK against the fake.
const DOMAIN = 'acme-contacts';
const DEADLINE_MS = 2000;
let seq = 0;
const voiceEvent = (phone: string) =>
  eventFrom('voice-e164.json', { address: phone, contactId: `44444444-0000-4000-8000-${String(++seq).padStart(12, '0')}` });
const contactIdOf = (event: Record<string, unknown>) => (event as { Details: { ContactData: { ContactId: string } } }).Details.ContactData.ContactId;


describe('Redis that answers with an error is not a lost reply', function () {
  this.timeout(90_000);
  const fake = useFakeAws({ domains: [DOMAIN], latencyMs: { CreateProfile: 50, SearchProfiles: 10, '*': 5 } });
  let redis: RedisServer;
  let admin: Redis;
  let a: RunningService;
  let b: RunningService;

  /** Redis out of memory under noeviction (ElastiCache full): a big value, and maxmemory below what is used now. */
  async function fill(): Promise<void> {
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.set('filler', 'x'.repeat(8_000_000));
    await admin.config('SET', 'maxmemory', String(used + 2_000_000));
    await until('Redis to refuse writes', async () => (await admin.set('probe', '1').then(() => false, (err: Error) => err.message.startsWith('OOM'))));
  }
  async function makeRoom(): Promise<void> {
    await admin.config('SET', 'maxmemory', '0');
    await admin.del('filler', 'probe');
  }

  before(async () => {
    // no wait before a replica's first sync (the failover below)
    redis = await RedisServer.start({ args: ['--maxmemory-policy', 'noeviction', '--repl-diskless-sync-delay', '0'] });
    admin = redis.client({ maxRetriesPerRequest: 0 });
    const env = {
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis.url,
      RESOLVE_DEADLINE_MS: String(DEADLINE_MS),
    };
    [a, b] = await Promise.all([startService(env), startService(env)]);
    // the first request of a process loads the SDK's credential chain: not what is measured here
    fake.seedProfile({ PhoneNumber: '+12065553999' });
    await Promise.all([postEvent(a.url, voiceEvent('+12065553999')), postEvent(b.url, voiceEvent('+12065553999'))]);
  });
  afterEach(async () => {
    await makeRoom();
    fake.reset(); // keeps the object type
  });
  after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    admin.disconnect();
    await redis.stop();
  });

  describe('out of memory (noeviction)', () => {
    it('answers 8 new callers over two replicas NEW inside the deadline, one profile each, and writes each contact record exactly once (from the replica that took the contact)', async () => {
      await fill();
      const events = Array.from({ length: 8 }, (_, i) => voiceEvent(`+1206555${String(3000 + i)}`));
      const answers = await Promise.all(events.map((e, i) => postEvent((i % 2 ? a : b).url, e)));

      for (const [i, r] of answers.entries()) {
        expect(r.status).to.equal(200);
        const created = fake.profiles().filter((p) => p.PhoneNumber === `+1206555${String(3000 + i)}`);
        expect(created, `profiles of caller ${i}`).to.have.length(1);
        expect(r.body, `caller ${i}`).to.include({ customerStatus: 'NEW', profileId: created[0]!.ProfileId });
        expect(r.ms, `caller ${i}: answered in (ms)`).to.be.below(DEADLINE_MS);
      }
      console.log(`        slowest NEW answer with Redis full: ${Math.max(...answers.map((r) => r.ms)).toFixed(0)} ms (deadline ${DEADLINE_MS} ms)`);
      // Redis refused the appends (an error reply: they are not in the inbox): each replica writes its own
      await until('the 8 records to be written', () => events.every((e) => fake.recordWritesByContact().has(contactIdOf(e))));

      // Redis has room again: a ninth contact's record goes through Redis (inbox, mover, worker). Once it is
      // written, nothing of the 8 is written a second time.
      await makeRoom();
      const ninth = voiceEvent('+12065553099');
      expect((await postEvent(a.url, ninth)).body).to.include({ customerStatus: 'NEW', contactRecordStatus: 'QUEUED' });
      await until('the ninth record to be written', () => fake.recordWritesByContact().has(contactIdOf(ninth)), 20_000);
      const inbox = await admin.keys('*records*inbox');
      for (const key of inbox) expect(await admin.llen(key), key).to.equal(0);
      for (const e of [...events, ninth]) expect(fake.recordWritesByContact().get(contactIdOf(e)), contactIdOf(e)).to.equal(1);
    });

    it('answers a known caller KNOWN from the cache and tells a repeat contact (the history’s trim is its first write, so Redis lets the script add this contact)', async () => {
      const phone = '+12065553150';
      const profile = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Kim' });
      expect((await postEvent(a.url, voiceEvent(phone))).body).to.include({ customerStatus: 'KNOWN', isRepeatContact: 'false' });
      await fill();
      const searches = fake.callsTo('SearchProfiles').length;

      const again = await postEvent(b.url, voiceEvent(phone));
      expect(again.body).to.include({ customerStatus: 'KNOWN', profileId: profile.ProfileId, firstName: 'Kim', isRepeatContact: 'true' });
      expect(fake.callsTo('SearchProfiles'), 'SearchProfiles calls').to.have.length(searches);
    });

    it('keeps enrichment to the allowance (ENRICHMENT_CALLS_PER_SECOND) on each replica, rather than calling without one', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cpr-full-'));
      const mapping = join(dir, 'attributes.json');
      writeFileSync(mapping, JSON.stringify({ attributes: { isVip: 'Segments.vip-customers' } }));
      const c = await startService({
        CUSTOMER_PROFILES_DOMAIN: DOMAIN,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
        REDIS_URL: redis.url,
        ATTRIBUTE_MAPPING_FILE: mapping,
        ENRICHMENT_CALLS_PER_SECOND: '1',
      });
      try {
        const phones = Array.from({ length: 5 }, (_, i) => `+1206555${String(3170 + i)}`);
        fake.seedSegment('vip-customers', phones.map((phone) => fake.seedProfile({ PhoneNumber: phone }).ProfileId));
        await fill();
        const before = fake.callsTo('GetSegmentMembership').length;

        // five known callers at once, each wanting one GetSegmentMembership call, with an allowance of one a second
        const answers = await Promise.all(phones.map((phone) => postEvent(c.url, voiceEvent(phone))));

        for (const r of answers) expect(r.body).to.include({ customerStatus: 'KNOWN' });
        const made = fake.callsTo('GetSegmentMembership').length - before;
        // one a second: the five arrive within a second or two of each other
        console.log(`        with Redis full and an allowance of 1 a second, 5 known callers at once made ${made} GetSegmentMembership call(s)`);
        expect(made, 'GetSegmentMembership calls').to.be.within(1, 2);
        expect(answers.filter((r) => r.body.isVip === 'true'), 'answers with the segment').to.have.length(made);
      } finally {
        await c.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a contact waiting for another replica that created the profile but could not cache it (Redis filled meanwhile) answers NEW with that profile inside the deadline, not a second one', async () => {
      const phone = '+12065553100';
      // B holds the creation lock, inside CreateProfile
      fake.hang(true, ['CreateProfile']);
      const first = postEvent(b.url, voiceEvent(phone));
      await until('the first CreateProfile', () => fake.callsTo('CreateProfile').length === 1);
      await fill();

      // A finds the lock held (a read: a full Redis answers it) and waits for B's profile
      const monitor = await redis.client().monitor();
      let acquired = false;
      monitor.on('monitor', (_time: string, args: string[]) => {
        // the lock script (its keys: the lock, the lookup, the attempt marker and the lookup's head)
        if (/^eval/i.test(args[0] ?? '') && args[2] === '4' && /:lock$/.test(args[3] ?? '')) acquired = true;
      });
      const second = postEvent(a.url, voiceEvent(phone));
      try {
        await until("A's lock command", () => acquired);
      } finally {
        monitor.disconnect();
      }
      // B's CreateProfile returns: the full Redis refuses the profile's cache entry
      fake.hang(false);
      const answers = await Promise.all([first, second]);

      const created = fake.profiles().filter((p) => p.PhoneNumber === phone);
      expect(created, 'profiles of the caller').to.have.length(1);
      for (const r of answers) {
        expect(r.body).to.include({ customerStatus: 'NEW', profileId: created[0]!.ProfileId });
        expect(r.ms).to.be.below(DEADLINE_MS);
      }
    });
  });

  describe('a failover: the old primary, now a replica of the new one, answers writes READONLY', () => {
    let promoted: RedisServer;
    let other: Redis;
    const linkUp = async (client: Redis) => /master_link_status:up/.test(await client.info('replication'));
    before(async () => {
      promoted = await RedisServer.start({ args: ['--repl-diskless-sync-delay', '0'] });
      other = promoted.client({ maxRetriesPerRequest: 0 });
    });
    afterEach(async () => {
      await admin.replicaof('NO', 'ONE');
    });
    after(async () => {
      other.disconnect();
      await promoted.stop();
    });

    /** As a failover leaves it: the other server took the data and was promoted; ours follows it, read-only. */
    async function failOver(): Promise<void> {
      await other.replicaof('127.0.0.1', String(redis.port));
      await until('the other server to copy the data', () => linkUp(other));
      await other.replicaof('NO', 'ONE');
      await admin.replicaof('127.0.0.1', String(promoted.port));
      await until('ours to follow the promoted one', () => linkUp(admin));
      await until('Redis to refuse writes', async () => (await admin.set('probe', '1').then(() => false, (err: Error) => err.message.startsWith('READONLY'))));
    }

    it('answers new callers over two replicas NEW inside the deadline, one profile each, and writes each contact record once', async () => {
      await failOver();
      const phones = Array.from({ length: 4 }, (_, i) => `+1206555${String(3300 + i)}`);
      const events = phones.map((p) => voiceEvent(p));
      const answers = await Promise.all(events.map((e, i) => postEvent((i % 2 ? a : b).url, e)));

      for (const [i, r] of answers.entries()) {
        const created = fake.profiles().filter((p) => p.PhoneNumber === phones[i]);
        expect(created, `profiles of caller ${i}`).to.have.length(1);
        expect(r.body, `caller ${i}`).to.include({ customerStatus: 'NEW', profileId: created[0]!.ProfileId });
        expect(r.ms, `caller ${i}: answered in (ms)`).to.be.below(DEADLINE_MS);
      }
      await until('the records to be written', () => events.every((e) => fake.recordWritesByContact().has(contactIdOf(e))));
      for (const e of events) expect(fake.recordWritesByContact().get(contactIdOf(e))).to.equal(1);
    });
  });

  describe('a failover behind one endpoint (its name moves to the promoted server; open connections stay on the old one)', () => {
    it('reconnects on READONLY, and writes to the promoted primary again', async () => {
      const promoted = await RedisServer.start({ args: ['--repl-diskless-sync-delay', '0'] });
      const other = promoted.client({ maxRetriesPerRequest: 0 });
      const endpoint = await DelayingProxy.start(redis.port);
      const d = await startService({
        CUSTOMER_PROFILES_DOMAIN: DOMAIN,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
        REDIS_URL: `redis://127.0.0.1:${endpoint.port}`,
        RESOLVE_DEADLINE_MS: String(DEADLINE_MS),
      });
      try {
        await postEvent(d.url, voiceEvent('+12065553999')); // its first request loads the SDK's credential chain
        await other.replicaof('127.0.0.1', String(redis.port));
        await until('the other server to copy the data', async () => /master_link_status:up/.test(await other.info('replication')));
        await other.replicaof('NO', 'ONE');
        await admin.replicaof('127.0.0.1', String(promoted.port));
        await until('ours to refuse writes', async () => (await admin.set('probe', '1').then(() => false, (err: Error) => err.message.startsWith('READONLY'))));
        endpoint.retarget(promoted.port);
        const cachedBefore = (await other.keys('*:profile:*')).length;

        let n = 0;
        await until('a new caller cached in the promoted primary', async () => {
          const r = await postEvent(d.url, voiceEvent(`+1206555${String(3400 + n++)}`));
          expect(r.body.customerStatus).to.equal('NEW');
          return (await other.keys('*:profile:*')).length > cachedBefore;
        }, 5000);
        console.log(`        new callers until one was cached in the promoted primary: ${n}`);
      } finally {
        await d.stop();
        await endpoint.stop();
        await admin.replicaof('NO', 'ONE');
        other.disconnect();
        await promoted.stop();
      }
    });
  });

  describe('every client paused (CLIENT PAUSE 3000 ALL): no reply at all for 3 s', () => {
    it('answers a new caller UNAVAILABLE at the deadline (2 s, shorter than the pause), creating nothing; the next contact after the pause creates the profile at once', async () => {
      const phone = '+12065553200';
      const known = fake.seedProfile({ PhoneNumber: '+12065553201', FirstName: 'Kim' });
      const pauser = redis.client();
      try {
        await pauser.client('PAUSE', 3000, 'ALL');
        const paused = Date.now();
        const [stranger, regular] = await Promise.all([postEvent(a.url, voiceEvent(phone)), postEvent(b.url, voiceEvent('+12065553201'))]);
        // a known caller is found in Customer Profiles, the cache read having timed out
        expect(regular.body).to.include({ customerStatus: 'KNOWN', profileId: known.ProfileId });
        expect(regular.ms).to.be.below(DEADLINE_MS);
        // a new caller: its lock commands get no reply, so it cannot know whether it holds the lock
        expect(stranger.body.customerStatus).to.equal('UNAVAILABLE');
        expect(stranger.ms).to.be.within(DEADLINE_MS - 100, DEADLINE_MS + 500);
        expect(fake.callsTo('CreateProfile'), 'CreateProfile calls during the pause').to.have.length(0);
        console.log(`        new caller during the pause: ${stranger.body.customerStatus} in ${stranger.ms.toFixed(0)} ms; known caller: ${regular.body.customerStatus} in ${regular.ms.toFixed(0)} ms`);

        // the pause ends (a command answers); the lock commands the first contact left behind run now
        await pauser.ping();
        expect(Date.now() - paused).to.be.at.least(2900);
        const next = await postEvent(b.url, voiceEvent(phone));
        const created = fake.profiles().filter((p) => p.PhoneNumber === phone);
        expect(created, 'profiles of the caller').to.have.length(1);
        expect(next.body).to.include({ customerStatus: 'NEW', profileId: created[0]!.ProfileId });
        expect(next.ms, 'the next contact, after the pause (ms)').to.be.below(500);
      } finally {
        pauser.disconnect();
      }
    });

    it('answers a new caller NEW just after the pause when the deadline is longer than the pause', async () => {
      const patient = await startService({
        CUSTOMER_PROFILES_DOMAIN: DOMAIN,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
        REDIS_URL: redis.url,
        RESOLVE_DEADLINE_MS: '5000',
      });
      const phone = '+12065553210';
      const pauser = redis.client();
      try {
        await postEvent(patient.url, voiceEvent('+12065553999')); // its first request loads the SDK's credential chain
        await pauser.client('PAUSE', 3000, 'ALL');
        const r = await postEvent(patient.url, voiceEvent(phone));

        const created = fake.profiles().filter((p) => p.PhoneNumber === phone);
        expect(created, 'profiles of the caller').to.have.length(1);
        expect(r.body).to.include({ customerStatus: 'NEW', profileId: created[0]!.ProfileId });
        expect(r.ms).to.be.within(2900, 5000);
        console.log(`        new caller during a 3 s pause, deadline 5 s: ${r.body.customerStatus} in ${r.ms.toFixed(0)} ms`);
      } finally {
        pauser.disconnect();
        await patient.stop();
      }
    });
  });
});
