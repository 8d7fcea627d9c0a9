// Profile changes made outside the service (an agent's edit, a merge, a deletion) reach the cache through the
// domain's event stream: two replicas sharing a real Redis, the real SDKs against the fake's Customer Profiles and
// Kinesis, the fake writing its domain's changes to the stream as the real-time export does.
import { expect } from 'chai';
import { eventFrom } from '../support/fixtures.js';
import { profileEvent } from '../support/fake-aws.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { ServiceProcess } from '../support/process.js';
import { sample } from '../support/prometheus.js';
import { useRedisCluster, useRedisServer } from '../support/redis.js';
import { editAsAgent, postEvent, startService, type RunningService } from '../support/service.js';
import { StateKeys } from '../../src/cache/keys.js';
import { RedisStreamStore } from '../../src/stream/redis-store.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-events';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDTESTFAKE', AWS_SECRET_ACCESS_KEY: 'fake-secret' };
const SHARD = 'shardId-000000000000';
const POLL_MS = 200; // leases of 3 s (profileEventLeaseMs)

let seq = 0;
const contactId = () => `44444444-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
const callerNumber = (i: number) => `+1206555${String(400 + i).padStart(4, '0')}`;
const ProfileIdOf = (i: number) => `${'0'.repeat(31)}${i}`;
const resolveEvent = (phone: string) => eventFrom('voice-e164.json', { address: phone, contactId: contactId() });

describe('profile events reach the cache (two replicas, Redis, SDKs, fake Customer Profiles and Kinesis)', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN], latencyMs: 2, profileWriteIntervalMs: 0 });
  const redis = useRedisServer();
  let env: Record<string, string>;
  let stream = '';
  let apps: RunningService[] = [];
  const start = async (extra: Record<string, string> = {}) => {
    const app = await startService({ ...env, ...extra });
    apps.push(app);
    return app;
  };
  const resolve = async (app: { url: string }, phone: string) => {
    const r = await postEvent(app.url, resolveEvent(phone));
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body;
  };
  const searches = () => fake.callsTo('SearchProfiles').length;
  const metrics = async (app: { metricsUrl: string }) => (await fetch(`${app.metricsUrl}/metrics`)).text();
  const leaseKey = `{cpr:${DOMAIN}:profile-events}:lease:${SHARD}`;
  const checkpointKey = `{cpr:${DOMAIN}:profile-events}:checkpoint:${SHARD}`;
  /** until the stream is being read: a replica holds the shard and has read it once (what comes after is not missed) */
  const reading = () => until('a replica reading the stream', () => fake.kinesis.calls.some((c) => c.operation === 'GetRecords' && !c.error));

  before(() => {
    env = {
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      AWS_ENDPOINT_URL_KINESIS: fake.url,
      REDIS_URL: redis().url,
      PROFILE_EVENT_POLL_MS: String(POLL_MS),
      RECORD_WORKER: 'false',
    };
  });
  beforeEach(async () => {
    fake.reset();
    fake.kinesis.clear();
    await redis().flush();
    stream = `profile-events-${++seq}`;
    env.PROFILE_EVENT_STREAM_ARN = fake.setEventStream(stream, { domain: DOMAIN })!;
  });
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
  });

  it("an agent's edit is answered on both replicas within seconds: the profile's cached lookups are dropped, the next contact reads it", async () => {
    const phone = callerNumber(0);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Amelia' });
    const [a, b] = [await start(), await start()];
    await reading();
    expect(await resolve(a, phone)).to.include({ customerStatus: 'KNOWN', profileId: ProfileId, firstName: 'Amelia' });
    const before = searches();
    expect(await resolve(b, phone)).to.include({ firstName: 'Amelia' });
    expect(searches(), 'answered from the shared cache').to.equal(before);

    const edited = Date.now();
    await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'Amy' });
    const seen: Record<string, number> = {};
    await until('both replicas answering the edit', async () => {
      for (const [name, app] of [['a', a], ['b', b]] as const) {
        if (seen[name] === undefined && (await resolve(app, phone)).firstName === 'Amy') seen[name] = Date.now() - edited;
      }
      return Object.keys(seen).length === 2;
    }, 10_000);
    console.log(`        the edit answered after ${seen.a} ms (replica a) and ${seen.b} ms (replica b), polling every ${POLL_MS} ms`);
    expect(Math.max(seen.a!, seen.b!)).to.be.below(5000);
    // read once from Customer Profiles after the edit, then from the cache again
    const after = searches();
    expect(await resolve(a, phone)).to.include({ firstName: 'Amy' });
    expect(await resolve(b, phone)).to.include({ firstName: 'Amy' });
    expect(searches()).to.equal(after);
    const text = await metrics(a) + (await metrics(b));
    expect(sample(text, 'cpr_profile_events_total', { type: 'UPDATED', outcome: 'applied' })).to.equal(1);
    expect(sample(text, 'cpr_profile_event_age_seconds_count')).to.equal(1);
  });

  it("a new caller's profile, made by the service, comes back as CREATED: the caller's next contact is still a cache hit", async () => {
    const phone = callerNumber(8);
    const a = await start();
    await reading();
    const created = await resolve(a, phone);
    expect(created).to.include({ customerStatus: 'NEW' });
    await until('its record applied', async () => sample(await metrics(a), 'cpr_profile_events_total', { type: 'CREATED', outcome: 'applied' }) === 1);
    const before = searches();
    expect(await resolve(a, phone)).to.include({ customerStatus: 'KNOWN', profileId: created.profileId });
    expect(searches(), 'from the cache').to.equal(before);
  });

  it('a record that changes nothing the profile holds (a contact record written, a replayed update) drops nothing', async () => {
    const phone = callerNumber(1);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Ada' });
    const a = await start();
    await reading();
    await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'Ada' });
    await until('the first record applied', async () => sample(await metrics(a), 'cpr_profile_events_total', { outcome: 'applied' }) === 1);
    await resolve(a, phone);
    // the same profile again, and an object's record (the service's own contact record, say): the cache stays
    await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'Ada' });
    fake.kinesis.put(stream, ProfileId, JSON.stringify(profileEvent(DOMAIN, 'CREATED', 'ResolvedContact', { ContactId: 'c-1', ProfileId }, Date.now(), { associatedProfileId: ProfileId })));
    await until('both read', async () => {
      const text = await metrics(a);
      return sample(text, 'cpr_profile_events_total', { outcome: 'unchanged' }) === 1 && sample(text, 'cpr_profile_events_total', { outcome: 'ignored' }) === 1;
    });
    const before = searches();
    expect(await resolve(a, phone)).to.include({ firstName: 'Ada' });
    expect(searches(), 'still answered from the cache').to.equal(before);
  });

  it('a merge: the merged-away profile is never answered again; its caller finds the profile kept, on both replicas', async () => {
    const [mainPhone, dupPhone] = [callerNumber(2), callerNumber(3)];
    const main = fake.seedProfile({ PhoneNumber: mainPhone, FirstName: 'Grace' });
    const dup = fake.seedProfile({ PhoneNumber: dupPhone, FirstName: 'Grace H.' });
    const [a, b] = [await start(), await start()];
    await reading();
    expect(await resolve(a, dupPhone)).to.include({ customerStatus: 'KNOWN', profileId: dup.ProfileId });
    expect(await resolve(b, mainPhone)).to.include({ profileId: main.ProfileId });

    fake.seedMerge(main.ProfileId, [dup.ProfileId]);
    await until('the merged-away caller answered with the profile kept, on both', async () =>
      (await resolve(a, dupPhone)).profileId === main.ProfileId && (await resolve(b, dupPhone)).profileId === main.ProfileId);
    for (const app of [a, b]) {
      for (const phone of [dupPhone, mainPhone, dupPhone]) {
        const answer = await resolve(app, phone);
        expect(answer).to.include({ customerStatus: 'KNOWN', profileId: main.ProfileId, firstName: 'Grace' });
      }
    }
    expect(sample(await metrics(a) + (await metrics(b)), 'cpr_profile_events_total', { type: 'MERGED', outcome: 'applied' })).to.equal(1);
  });

  it('a profile deleted: without a record (the guide documents none) it is answered from the cache; a DELETED record drops it', async () => {
    const phone = callerNumber(4);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Old' });
    const a = await start({ CREATE_PROFILES: 'false' });
    await reading();
    expect(await resolve(a, phone)).to.include({ profileId: ProfileId });
    const res = await fetch(`${fake.url}/domains/${DOMAIN}/profiles/delete`, { method: 'POST', body: JSON.stringify({ ProfileId }) });
    expect(res.status).to.equal(200);
    expect(await resolve(a, phone), 'no record: the cache does not know').to.include({ profileId: ProfileId });

    // as AWS's own consumer of the stream handles one (see profileEvent)
    fake.kinesis.put(stream, ProfileId, JSON.stringify(profileEvent(DOMAIN, 'DELETED', '_profile', { ProfileId }, Date.now(), { associatedProfileId: ProfileId })));
    await until('the deleted profile no longer answered', async () => (await resolve(a, phone)).customerStatus === 'NOT_FOUND');
    expect(await resolve(a, phone)).to.include({ profileId: '' });
  });

  it('a replica killed holding the shard: the other takes it over from its checkpoint; no event is skipped', async () => {
    const phone = callerNumber(5);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Zero' });
    const killed = await ServiceProcess.start({ ...env, ...CREDENTIALS });
    let b: RunningService | undefined;
    try {
      await reading();
      const client = redis().client();
      const holder = await client.get(leaseKey);
      expect(holder, 'the first replica holds the shard').to.be.a('string');
      b = await start();
      await resolve(b, phone);

      await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'One' });
      await until('the first edit answered (applied by the first replica)', async () => (await resolve(b!, phone)).firstName === 'One');
      await until('its checkpoint', async () => (await client.get(checkpointKey))?.startsWith('after:') ?? false);
      const checkpoint = (await client.get(checkpointKey))!;
      expect(await client.get(leaseKey), 'still the first replica').to.equal(holder);

      // the second edit reaches the stream, and the first replica dies before it can read it
      fake.hang(true, ['GetRecords']);
      await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'Two' });
      await killed.kill();
      fake.hang(false);
      const killedAt = Date.now();
      const iteratorsBefore = fake.kinesis.calls.filter((c) => c.operation === 'GetShardIterator').length;
      expect(await resolve(b, phone), 'the cached lookup (nobody read the edit yet)').to.include({ firstName: 'One' });

      await until('the second edit answered, applied by the replica that took over', async () => (await resolve(b!, phone)).firstName === 'Two', 15_000);
      console.log(`        taken over and applied ${Date.now() - killedAt} ms after the kill (lease ${3000} ms)`);
      const taken = fake.kinesis.calls.filter((c) => c.operation === 'GetShardIterator').slice(iteratorsBefore);
      expect(taken[0]?.body, 'read on from the dead replica\'s checkpoint').to.deep.include({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: checkpoint.slice('after:'.length) });
      expect(await client.get(leaseKey)).to.not.equal(holder);
      for (let i = 0; i < 3; i++) expect(await resolve(b, phone)).to.include({ firstName: 'Two' });
      const text = await metrics(b);
      expect(sample(text, 'cpr_profile_events_total', { outcome: 'applied' }), 'the second edit, once').to.equal(1);
      client.disconnect();
    } finally {
      await killed.kill();
    }
  });

  it('the stream failing: answers go on as without it, the lag rises; once it is back the edit made meanwhile is applied', async () => {
    const phone = callerNumber(6);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Before' });
    const a = await start();
    await reading();
    await resolve(a, phone);
    const lag = async () => sample(await metrics(a), 'cpr_profile_event_stream_lag_seconds', { shard: SHARD });
    expect(await lag()).to.be.below(1);

    fake.fail({ status: 500, errorType: 'InternalFailureException', operations: ['ListShards', 'GetShardIterator', 'GetRecords'] });
    await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'During' });
    const r = await postEvent(a.url, resolveEvent(phone));
    expect(r.body, 'answered from the cache, as without the stream').to.include({ customerStatus: 'KNOWN', firstName: 'Before', degraded: 'false' });
    expect(r.ms).to.be.below(500);
    await until('the lag to pass 2 s', async () => (await lag()) > 2);
    const rising = await lag();
    await until('the lag to keep rising', async () => (await lag()) > rising + 0.5);
    const text = await metrics(a);
    expect(sample(text, 'cpr_profile_event_stream_errors_total', { operation: 'GetRecords', kind: 'failed' })).to.be.at.least(1);

    fake.clearFaults();
    await until('the edit applied once the stream is back', async () => (await resolve(a, phone)).firstName === 'During', 20_000);
    await until('the lag back under a second', async () => (await lag()) < 1);
  });

  it('without Redis each replica reads every shard itself, into its own cache', async () => {
    const phone = callerNumber(9);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Solo' });
    // an empty variable is an unset one
    const [a, b] = [await start({ REDIS_URL: '' }), await start({ REDIS_URL: '' })];
    await until('both replicas reading', () => fake.kinesis.calls.filter((c) => c.operation === 'GetShardIterator').length === 2);
    await reading();
    for (const app of [a, b]) expect(await resolve(app, phone)).to.include({ firstName: 'Solo' });
    await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'Duo' });
    await until('the edit on both', async () => (await resolve(a, phone)).firstName === 'Duo' && (await resolve(b, phone)).firstName === 'Duo');
  });

  it("the fleet's place in Redis: a lease held is not taken, a checkpoint moves only under its lease, the first start is kept, every key expires", async () => {
    const client = redis().client();
    const keys = new StateKeys(`cpr:${DOMAIN}`, 'a-test-secret-of-some-length', []);
    const store = new RedisStreamStore(client, `cpr:${DOMAIN}`, keys, 86_400_000);
    try {
      expect(await store.claim(SHARD, 'A', 3000)).to.equal(true);
      expect(await store.claim(SHARD, 'B', 3000), 'held by A').to.equal(false);
      expect(await store.claim(SHARD, 'A', 3000), 'renewed by A').to.equal(true);
      const first = await store.position(SHARD, { kind: 'at-time', at: 1000 });
      expect(await store.position(SHARD, { kind: 'at-time', at: 2000 }), 'every replica starts where the first did').to.deep.equal(first);
      expect(await store.checkpoint(SHARD, 'B', { kind: 'after', sequence: '7' }), 'not B\'s lease').to.equal(false);
      expect(await store.checkpoint(SHARD, 'A', { kind: 'after', sequence: '7' })).to.equal(true);
      expect(await store.position(SHARD, { kind: 'trim-horizon' })).to.deep.equal({ kind: 'after', sequence: '7' });
      await store.release(SHARD, 'B');
      expect(await store.claim(SHARD, 'B', 3000), 'B cannot let go of A\'s lease').to.equal(false);
      await store.release(SHARD, 'A');
      expect(await store.claim(SHARD, 'B', 3000)).to.equal(true);
      expect(await store.ended([SHARD, 'shardId-000000000001'])).to.deep.equal([false, false]);
      expect(await store.checkpoint(SHARD, 'B', { kind: 'end' })).to.equal(true);
      expect(await store.ended([SHARD])).to.deep.equal([true]);
      expect([await store.readers('A', 3000), await store.readers('B', 3000)]).to.deep.equal([1, 2]);
      await store.leave('A');
      expect(await store.readers('B', 3000)).to.equal(1);
      await store.seen(ProfileIdOf(0), 'digest');
      expect(await store.lastSeen(ProfileIdOf(0))).to.equal('digest');
      const all = await client.keys('*');
      expect(all.length).to.be.at.least(4);
      for (const key of all) expect(await client.pttl(key), key).to.be.above(0);
    } finally {
      client.disconnect();
    }
  });

  it('without PROFILE_EVENT_STREAM_ARN nothing reads the stream and nothing is dropped', async () => {
    const phone = callerNumber(7);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Kept' });
    const { PROFILE_EVENT_STREAM_ARN: _arn, ...without } = env;
    const app = await startService(without);
    apps.push(app);
    await resolve(app, phone);
    await editAsAgent(fake.url, DOMAIN, ProfileId, { FirstName: 'Changed' });
    expect(await resolve(app, phone)).to.include({ firstName: 'Kept' });
    expect(fake.kinesis.calls).to.deep.equal([]);
    expect(await metrics(app)).to.not.include('cpr_profile_event_stream_lag_seconds{');
  });
});

describe('profile events on a Redis Cluster (the lookups, the leases and the digests in their own slots)', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN], latencyMs: 2 });
  const cluster = useRedisCluster({ masters: 3 });
  let apps: RunningService[] = [];
  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
  });

  it("an agent's edit and a merge are answered on both replicas", async () => {
    const arn = fake.setEventStream('profile-events-cluster', { domain: DOMAIN, shards: 2 })!;
    const env = {
      CUSTOMER_PROFILES_DOMAIN: DOMAIN, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url, AWS_ENDPOINT_URL_KINESIS: fake.url,
      REDIS_CLUSTER_NODES: cluster().seeds, PROFILE_EVENT_STREAM_ARN: arn, PROFILE_EVENT_POLL_MS: String(POLL_MS), RECORD_WORKER: 'false',
    };
    const [phone, dupPhone] = [callerNumber(20), callerNumber(21)];
    const main = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Ada' });
    const dup = fake.seedProfile({ PhoneNumber: dupPhone, FirstName: 'Ada L.' });
    apps = [await startService(env), await startService(env)];
    const [a, b] = apps as [RunningService, RunningService];
    const resolveOn = async (app: RunningService, p: string) => (await postEvent(app.url, resolveEvent(p))).body;
    await until('both shards read', () => new Set(fake.kinesis.calls.filter((c) => c.operation === 'GetShardIterator').map((c) => (c.body as { ShardId: string }).ShardId)).size === 2);
    await until('the shards read once', () => fake.kinesis.calls.filter((c) => c.operation === 'GetRecords' && !c.error).length >= 2);
    expect(await resolveOn(a, phone)).to.include({ firstName: 'Ada' });
    expect(await resolveOn(b, dupPhone)).to.include({ profileId: dup.ProfileId });

    await editAsAgent(fake.url, DOMAIN, main.ProfileId, { FirstName: 'Augusta' });
    await until('the edit on both', async () => (await resolveOn(a, phone)).firstName === 'Augusta' && (await resolveOn(b, phone)).firstName === 'Augusta');
    fake.seedMerge(main.ProfileId, [dup.ProfileId]);
    await until('the merge on both', async () => (await resolveOn(a, dupPhone)).profileId === main.ProfileId && (await resolveOn(b, dupPhone)).profileId === main.ProfileId);
    const held = await Promise.all(apps.map(async (app) => ((await (await fetch(`${app.url}/readyz`)).json()) as { dependencies: { profileEvents: { held: string[] } } }).dependencies.profileEvents.held));
    expect(held.flat().sort(), 'each shard read by one replica').to.deep.equal(['shardId-000000000000', 'shardId-000000000001']);
  });
});
