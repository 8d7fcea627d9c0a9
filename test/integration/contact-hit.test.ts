// A cache hit in one round trip (src/cache/contact-hit.ts): through the real service composition, the real
// SDK against the Customer Profiles fake and a real redis-server; and the state backend's script alone.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { hitInbox, openHitEntry, type HitEntry, type HitPlan } from '../../src/cache/contact-hit.js';
import type { SharedState } from '../../src/cache/index.js';
import { embeddedBackend } from '../../src/backends/profiles.js';
import { AccountQuota } from '../../src/cache/quota.js';
import { redisState } from '../../src/backends/redis-state.js';
import type { StateBackend } from '../../src/backends/state.js';
import { loadConfig } from '../../src/config/index.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { Sealer } from '../../src/redis/seal.js';
import type { CachedLookup, RedisProfileCache } from '../../src/cache/profile-cache.js';
import { normalisePhone, type Identity } from '../../src/domain/identity.js';
import { parseAttributeMapping } from '../../src/domain/mapping.js';
import { createLogger } from '../../src/ops/logger.js';
import type { RecordJob } from '../../src/records/job.js';
import { LocalRecordQueue } from '../../src/records/local-queue.js';
import { Pacer } from '../../src/records/pacer.js';
import { openRecordQueue, recordQueuePrefix, RedisRecordQueue } from '../../src/records/redis-queue.js';
import { RecordWriter } from '../../src/records/writer.js';
import { eventFrom } from '../support/fixtures.js';
import { FakeAws } from '../support/fake-aws.js';
import { findBinary, RedisCluster, RedisServer, useRedisServer } from '../support/redis.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { postEvent, REPO_ROOT, startService, useTestAwsCredentials, type RunningService, setUpFakeDomain } from '../support/service.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const QUEUE_PREFIX = `{cpr:${DOMAIN}:records}`;
const HITS = `${QUEUE_PREFIX}:contact-records:hits`;
const INBOX = `${QUEUE_PREFIX}:contact-records:inbox`;
const ENRICHED = {
  attributes: {
    customerTier: 'Attributes.tier',
    contactsIn30Days: 'CalculatedAttributes.contacts_30d',
    lastOrderStatus: 'Objects.Orders.status',
    isVip: 'Segments.vip-customers',
  },
  objects: { Orders: { latestBy: 'updatedAt' } },
};

let seq = 0;
const nextContact = () => `77777777-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
const nextPhone = () => `+1425555${String(1000 + (seq++ % 9000)).padStart(4, '0')}`;
const voice = (phone: string, contactId = nextContact(), parameters: Record<string, string> = {}) => eventFrom('voice-e164.json', { address: phone, contactId, parameters });

/**
 * Every command the servers run from clients (not from inside scripts) while `during` runs, found between
 * two markers the test sends to each server. Watched with `redis-cli monitor`, one per server: ioredis'
 * own monitor() can take the first lines of the stream for replies when other clients are busy as it
 * starts ("Command queue state error"). The service sends a contact's commands, those it does not wait for
 * included, before it answers. A connection that opens during the window (a cluster client's refresh of a
 * node, BullMQ's own connection on first use) is not the contact's: a client that introduces itself in the
 * window (CLIENT, CLUSTER, HELLO...) is left out, every command of it.
 */
// what a client sends as it connects (ioredis: CLIENT SETNAME/SETINFO, INFO for its ready check; a cluster
// client: CLUSTER SLOTS, READONLY)
const CONNECTION_SETUP = new Set(['client', 'cluster', 'hello', 'info', 'readonly', 'select', 'auth']);

async function commandsDuring(servers: readonly RedisServer[], during: () => Promise<void>): Promise<string[]> {
  const mark = ++seq;
  const seen: Array<{ name: string; from: string }> = [];
  const watched = await Promise.all(
    servers.map(async (server) => {
      const child = spawn(findBinary('redis-cli'), ['-h', '127.0.0.1', '-p', String(server.port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const node = { child, marker: server.client(), state: 'connecting' as 'connecting' | 'before' | 'during' | 'after' };
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line === 'OK') {
          node.state = 'before';
          return;
        }
        // 1796546503.013950 [0 127.0.0.1:41048] "echo" "start-5"; a script's own commands: [0 lua]
        const m = /^\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
        if (!m) return;
        const [name, value] = [...m[2]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]);
        if (name?.toLowerCase() === 'echo' && value === `start-${mark}`) node.state = 'during';
        else if (name?.toLowerCase() === 'echo' && value === `end-${mark}`) node.state = 'after';
        else if (node.state === 'during' && m[1] !== 'lua') seen.push({ name: name!.toLowerCase(), from: `${server.port} ${m[1]}` });
      });
      await until('redis-cli monitor', () => node.state !== 'connecting');
      return node;
    }),
  );
  const sendMarker = async (which: 'start' | 'end', state: 'during' | 'after') => {
    await Promise.all(watched.map((n) => n.marker.echo(`${which}-${mark}`)));
    await until(`the ${which} markers`, () => watched.every((n) => n.state === state));
  };
  try {
    await sendMarker('start', 'during');
    await during();
    await sendMarker('end', 'after');
    const opened = new Set(seen.filter((c) => CONNECTION_SETUP.has(c.name)).map((c) => c.from));
    return seen.filter((c) => !opened.has(c.from)).map((c) => c.name);
  } finally {
    for (const n of watched) {
      n.child.kill();
      n.marker.disconnect();
    }
  }
}

describe('a cache hit in one round trip (service + SDK + fake + one Redis)', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  const redis = useRedisServer();
  let client: Redis;
  let apps: RunningService[] = [];
  let dir: string;
  let fieldsOnly: string;
  let enriched: string;

  const start = async (extra: Record<string, string> = {}) => {
    const app = await startService({
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis().url,
      ATTRIBUTE_MAPPING_FILE: fieldsOnly,
      // no mover: what a contact queued stays where it put it
      RECORD_WORKER: 'false',
      ...extra,
    });
    apps.push(app);
    return app;
  };
  const resolve = async (app: RunningService, event: Record<string, unknown>) => {
    const r = await postEvent(app.url, event);
    expect(r.status).to.equal(200);
    return r.body;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cpr-hit-'));
    fieldsOnly = join(dir, 'fields.json');
    writeFileSync(fieldsOnly, JSON.stringify({ attributes: { customerTier: 'Attributes.tier' } }));
    enriched = join(dir, 'enriched.json');
    writeFileSync(enriched, JSON.stringify(ENRICHED));
    client = redis().client();
  });
  beforeEach(async () => {
    await redis().flush();
    fake.reset();
  });
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
  });
  after(() => {
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mapping of ['profile fields', 'three enrichment sources'] as const) {
    it(`sends one command: the reads, the record, the history and the kept answer in one script (${mapping})`, async () => {
      const app = await start({ ATTRIBUTE_MAPPING_FILE: mapping === 'profile fields' ? fieldsOnly : enriched });
      const phone = nextPhone();
      const id = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Iolanthe', Attributes: { tier: 'gold' } }).ProfileId;
      fake.seedCalculatedAttributes(id, { contacts_30d: '3' });
      fake.seedObject(id, 'Orders', { status: 'SHIPPED', updatedAt: '2026-11-28T00:00:00Z' });
      fake.seedSegment('vip-customers', [id]);
      await resolve(app, voice(phone)); // a miss: the lookup is cached
      await resolve(app, voice(phone)); // a hit, which loads the script into Redis
      const calls = fake.calls.length;

      let answer: Record<string, string> = {};
      const commands = await commandsDuring([redis()], async () => {
        answer = await resolve(app, voice(phone));
      });

      expect(answer).to.include({ customerStatus: 'KNOWN', profileId: id, firstName: 'Iolanthe', isRepeatContact: 'true', contactRecordStatus: 'QUEUED', customerTier: 'gold' });
      if (mapping !== 'profile fields') expect(answer).to.include({ enrichment: 'COMPLETE', isVip: 'true', lastOrderStatus: 'SHIPPED', contactsIn30Days: '3' });
      expect(fake.calls.length, 'no AWS call').to.equal(calls);
      // before: mget, evalsha (the history), rpush (the record), set (the kept answer)
      expect(commands).to.deep.equal(['evalsha']);
    });
  }

  it('a MULTIPLE hit notes its duplicate set in the same script: still one command, and the set counted once for it', async () => {
    const app = await start();
    const phone = nextPhone();
    fake.seedProfile({ PhoneNumber: phone, FirstName: 'Ottoline' });
    fake.seedProfile({ MobilePhoneNumber: phone, FirstName: 'Ottilie' });
    await resolve(app, voice(phone)); // a miss: the lookup is cached, and its set noted (after the answer)
    await resolve(app, voice(phone)); // a hit, which loads the script into Redis
    const sets = `cpr:${DOMAIN}:{dups}:sets`;
    await until('both answers noted', async () => (await client.zrangebyscore(sets, 2, 2)).length === 1);

    let answer: Record<string, string> = {};
    const commands = await commandsDuring([redis()], async () => {
      answer = await resolve(app, voice(phone));
    });

    expect(answer).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '2' });
    expect(commands).to.deep.equal(['evalsha']);
    const [id] = await client.zrangebyscore(sets, 3, 3);
    expect(await client.hget(`cpr:${DOMAIN}:{dups}:set:${id}`, 'count')).to.equal('3');
  });

  it('the record is in Redis before the answer says QUEUED, sealed, and is written to the lookup’s profile', async () => {
    const app = await start();
    const phone = nextPhone();
    const id = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Marguerite', LastName: 'Okonkwo' }).ProfileId;
    await resolve(app, voice(phone));
    const contactId = nextContact();

    const hit = await resolve(app, voice(phone, contactId));

    expect(hit).to.include({ customerStatus: 'KNOWN', contactRecordStatus: 'QUEUED' });
    // appended by the script before it answered (no mover runs here)
    const entries = await client.lrange(HITS, 0, -1);
    expect(entries).to.have.length(1);
    const entry = JSON.parse(entries[0]!) as HitEntry;
    expect(entry).to.include({ contactId });
    for (const secret of [phone, phone.slice(1), 'Marguerite', 'Okonkwo']) expect(entries[0], 'in clear in the entry').to.not.contain(secret);
    const heads = await client.keys(`cpr:${DOMAIN}:*:head:*`);
    expect(heads).to.have.length(1);
    const head = (await client.get(heads[0]!))!;
    expect(JSON.parse(head)).to.include({ p: id, s: 'KNOWN' });
    for (const secret of [phone, phone.slice(1), 'Marguerite', 'Okonkwo']) expect(head, 'in clear in the head').to.not.contain(secret);

    // a replica with a record thread moves it and writes it, to the profile, with the caller's number
    await start({ RECORD_WORKER: 'true' });
    await until('the record to be written', () => fake.objects('ResolvedContact').some((o) => o.object.ContactId === contactId), 15_000);
    const written = fake.objects('ResolvedContact').find((o) => o.object.ContactId === contactId)!;
    expect(written.profileId).to.equal(id);
    expect(written.object).to.include({ ProfileId: id, CustomerStatus: 'KNOWN', CustomerIdentity: phone, CustomerIdentityType: 'PHONE' });
    expect(fake.profileKeys(id).find((k) => k.keyName === '_ctrContactId')?.values).to.include(contactId);
    expect(await client.llen(HITS)).to.equal(0);
  });

  it('keeps the repeat flag across contacts, and a Connect retry on another replica gets the same answer, writing nothing', async () => {
    const [a, b] = [await start(), await start()];
    const phone = nextPhone();
    const id = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Thaddeus' }).ProfileId;

    const first = await resolve(a, voice(phone));
    const secondId = nextContact();
    const second = await resolve(a, voice(phone, secondId));
    const thirdEvent = voice(phone);
    const third = await resolve(b, thirdEvent);
    const searches = fake.callsTo('SearchProfiles').length;
    const queued = await client.llen(HITS);
    const retried = await resolve(a, thirdEvent);

    expect(first).to.include({ isRepeatContact: 'false', lastContactAt: '' });
    expect(second).to.include({ isRepeatContact: 'true' });
    // the newest other contact's time, as the history holds it (oldest first: the three contacts in turn)
    const history = await client.zrange(`cpr:${DOMAIN}:{p:${id}}:recent`, 0, -1, 'WITHSCORES');
    expect(history[2]).to.equal(secondId);
    expect(third).to.include({ isRepeatContact: 'true', lastContactAt: new Date(Number(history[3])).toISOString() });
    // the kept answer, written by the script (its lastContactAt formatted in Lua), reads back as the answer given
    expect(retried).to.deep.equal(third);
    expect(fake.callsTo('SearchProfiles')).to.have.length(searches);
    expect(await client.llen(HITS), 'no second record').to.equal(queued);
    expect(await client.zcard(`cpr:${DOMAIN}:{p:${id}}:recent`)).to.equal(3);
  });

  it('a hit that only what the caller typed found (MISMATCH) writes no record and no history', async () => {
    const app = await start();
    const owner = fake.seedProfile({ FirstName: 'Other', PhoneNumber: nextPhone(), AccountNumber: 'ACME-5555' }).ProfileId;
    const stranger = nextPhone();

    const miss = await resolve(app, voice(stranger, nextContact(), { accountNumber: 'ACME-5555' }));
    const searches = fake.callsTo('SearchProfiles').length;
    const hit = await resolve(app, voice(stranger, nextContact(), { accountNumber: 'ACME-5555' }));

    // a failed check answers what the stranger's own number found: nobody
    for (const a of [miss, hit]) expect(a).to.include({ customerStatus: 'NOT_FOUND', profileId: '', verification: 'MISMATCH', matchedBy: '', contactRecordStatus: 'SKIPPED', isRepeatContact: 'false' });
    expect(fake.callsTo('SearchProfiles'), 'the second from the cache').to.have.length(searches);
    expect(await client.llen(HITS)).to.equal(0);
    expect(await client.llen(INBOX)).to.equal(0);
    expect(await client.exists(`cpr:${DOMAIN}:{p:${owner}}:recent`)).to.equal(0);
  });

  it('a lookup cached by an earlier version (no head) answers from the cache as before, its writes made one by one', async () => {
    const app = await start();
    const phone = nextPhone();
    fake.seedProfile({ PhoneNumber: phone, FirstName: 'Evangeline' });
    await resolve(app, voice(phone));
    const heads = await client.keys(`cpr:${DOMAIN}:*:head:*`);
    expect(heads).to.have.length(1);
    await client.del(heads[0]!);
    const searches = fake.callsTo('SearchProfiles').length;
    const event = voice(phone);

    let answer: Record<string, string> = {};
    const commands = await commandsDuring([redis()], async () => {
      answer = await resolve(app, event);
    });

    expect(answer).to.include({ customerStatus: 'KNOWN', firstName: 'Evangeline', isRepeatContact: 'true', contactRecordStatus: 'QUEUED' });
    expect(fake.callsTo('SearchProfiles')).to.have.length(searches);
    // read by the script, then the history, the record, the kept answer and the contact's leg (ContactLegs) as before
    expect(commands.slice().sort()).to.deep.equal(['evalsha', 'evalsha', 'rpush', 'set', 'set']);
    expect(await client.llen(HITS)).to.equal(0);
    expect(await client.llen(INBOX)).to.equal(2);
    expect(await resolve(app, event)).to.deep.equal(answer);
  });
});

describe('a cache hit on a Redis Cluster: the reads, then the writes (service + SDK + fake)', function () {
  this.timeout(90_000);
  useTestAwsCredentials();
  const fake = new FakeAws({ domains: [DOMAIN] });
  let cluster: RedisCluster;
  let app: RunningService;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cpr-hit-cluster-'));
    writeFileSync(join(dir, 'fields.json'), JSON.stringify({ attributes: { customerTier: 'Attributes.tier' } }));
    await fake.start();
    cluster = await RedisCluster.start({ masters: 3 });
    await setUpFakeDomain(fake.url, DOMAIN, 'ResolvedContact');
    app = await startService({
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_CLUSTER_NODES: cluster.seeds,
      ATTRIBUTE_MAPPING_FILE: join(dir, 'fields.json'),
      RECORD_WORKER: 'false',
    });
  });
  after(async () => {
    await app?.stop();
    await fake.stop();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a hit with the repeat flag and its record queued, as before: the MGET, then the writes side by side; no head', async () => {
    const phone = nextPhone();
    const id = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Bartholomew' }).ProfileId;
    await postEvent(app.url, voice(phone));
    await postEvent(app.url, voice(phone)); // a hit, which loads the scripts into their nodes
    const searches = fake.callsTo('SearchProfiles').length;

    let hit: Record<string, string> = {};
    const commands = await commandsDuring(cluster.servers, async () => {
      hit = (await postEvent(app.url, voice(phone))).body;
    });

    expect(hit).to.include({ customerStatus: 'KNOWN', profileId: id, isRepeatContact: 'true', contactRecordStatus: 'QUEUED' });
    expect(fake.callsTo('SearchProfiles')).to.have.length(searches);
    // the history's script, the reads, the record, and the kept answer and the contact's leg (ContactLegs)
    expect(commands.slice().sort()).to.deep.equal(['evalsha', 'mget', 'rpush', 'set', 'set']);
    const keys = (await Promise.all(cluster.servers.map(async (s) => {
      const c = s.client();
      try {
        return await c.keys('*');
      } finally {
        c.disconnect();
      }
    }))).flat();
    expect(keys.some((k) => k.includes(':profile:')), 'the cached lookup').to.equal(true);
    expect(keys.filter((k) => k.includes(':head:') || k.endsWith(':hits'))).to.deep.equal([]);
    expect(keys.filter((k) => k.endsWith(':contact-records:inbox'))).to.have.length(1);
  });
});

describe('the cache hit script (state backend on one Redis)', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let client: Redis;
  let state: SharedState;
  let backend: StateBackend;
  let sealer: Sealer;
  // the state backend's key namespace: REDIS_KEY_PREFIX 'cpr', no domain
  const NAMESPACE = 'cpr:embedded';
  const logger = createLogger('silent');
  const TTL = { ttlMs: 900_000, notFoundTtlMs: 60_000, enrichmentTtlMs: 60_000 };
  // one enrichment source
  const { mapping } = parseAttributeMapping({ attributes: { visits: 'CalculatedAttributes.visits' } });
  const callId = mapping.find((m) => m.call)!.call!.id;
  const identity = normalisePhone('+14255550199', 'US') as Identity;
  let tag: string;

  const lookup = (over: Partial<CachedLookup> & { profileId?: string; enrichedAt?: number } = {}): CachedLookup => {
    const { profileId = 'p'.repeat(32), enrichedAt = Date.now(), ...rest } = over;
    return {
      status: 'KNOWN',
      matchCount: 1,
      summary: { profileId, firstName: 'Ottoline', lastName: 'Quist', accountNumber: '', mapped: {}, enriched: { [callId]: { at: enrichedAt, values: { visits: '4' } } } },
      matchedBy: ['_phone'],
      verification: 'NOT_CHECKED',
      cachedAt: Date.now(),
      ...rest,
    };
  };
  const plan = (over: Partial<HitPlan> = {}): HitPlan => {
    const contactId = nextContact();
    return {
      now: Date.now(),
      ttl: TTL,
      createAllowed: false,
      identityKey: '_phone',
      initialContactId: contactId,
      record: {
        contactId,
        initialContactId: contactId,
        previousContactId: '',
        channel: 'VOICE',
        initiationMethod: 'INBOUND',
        instanceArn: 'arn:aws:connect:us-east-1:123456789012:instance/test',
        queueName: '',
        systemEndpoint: '',
        identityType: 'PHONE',
        identity: '+14255550199',
        identityTag: tag,
        receivedAt: new Date().toISOString(),
        attributes: {},
      },
      ...over,
    };
  };
  const read = (p: HitPlan) => state.readContact(tag, '', p.record.contactId, { identity, extra: [] }, p);
  const hits = hitInbox(recordQueuePrefix(NAMESPACE));

  before(async () => {
    server = await RedisServer.start();
    client = server.client({ maxRetriesPerRequest: 0 });
    // the state backend as the service builds it (its own client to this server), the record worker off
    const config = { ...loadConfig({ LOG_LEVEL: 'silent', REDIS_URL: server.url, REDIS_KEY_PREFIX: 'cpr', RECORD_WORKER: 'false' }, REPO_ROOT), attributeMapping: mapping };
    expect(config.keyNamespace).to.equal(NAMESPACE);
    backend = redisState({ config, logger, metrics: createMetrics(), profiles: embeddedBackend(config, logger), quota: new AccountQuota(config.quota.shares) });
    await backend.start();
    state = backend.shared;
    sealer = new Sealer(config.dataKeys);
    tag = state.keys.identityTag(identity);
  });
  beforeEach(() => server.flush());
  after(async () => {
    await backend.close();
    client.disconnect();
    await server.stop();
  });

  it('a fresh hit: writes the record, the history, the kept answer and the contact\'s leg, and tells the resolver', async () => {
    await state.cache.set(tag, lookup());
    const p = plan();
    const reads = await read(p);
    expect(reads.cached?.summary?.firstName).to.equal('Ottoline');
    expect(reads.written).to.deep.equal({ repeat: { isRepeat: false, lastContactAt: '' }, recordStatus: 'QUEUED', kept: true, leg: true });
    expect(await client.llen(hits)).to.equal(1);
    // the leg as RedisContactLegs reads it: nothing personal, the profile and verification from the head
    const [leg] = await state.legs.find([p.record.contactId]);
    expect(leg).to.deep.include({ contactId: p.record.contactId, at: p.now, identityTag: tag, tag, variant: '', profileId: reads.cached?.summary?.profileId, status: 'KNOWN', verification: 'NOT_CHECKED' });
    expect(await client.pttl(state.keys.contactLeg(p.record.contactId))).to.be.within(1, 900_000);
    // a retry reads the kept answer, and writes nothing
    const again = await read({ ...p, now: p.now + 10 });
    expect(again.earlier).to.include({ customerStatus: 'KNOWN', firstName: 'Ottoline', contactRecordStatus: 'QUEUED', phoneE164: '+14255550199', visits: '4', enrichment: 'COMPLETE' });
    expect(again.written).to.equal(undefined);
    expect(await client.llen(hits)).to.equal(1);
  });

  it('formats the repeat time as JavaScript does (lastContactAt of the kept answer, written by the script)', async () => {
    const times = [1, 951_782_399_999, 951_782_400_000, 978_307_199_999, 1_704_067_199_999, 1_709_164_800_123, 4_102_444_800_000, 4_107_542_399_999, 253_402_300_799_999];
    for (let i = 0; i < 40; i++) times.push(Math.floor(Math.random() * 4_200_000_000_000));
    for (const [i, t] of times.entries()) {
      await state.cache.set(tag, lookup({ profileId: `profile-${i}`, cachedAt: t - 1000, enrichedAt: t - 1000 }));
      await read(plan({ now: t }));
      const second = plan({ now: t + 5 });
      const reads = await read(second);
      const expected = new Date(t).toISOString();
      expect(reads.written?.repeat, String(t)).to.deep.equal({ isRepeat: true, lastContactAt: expected });
      const kept = JSON.parse((await client.get(state.keys.contactAnswer(tag, second.record.contactId)))!) as { outcome: { repeat: { lastContactAt: string } } };
      expect(kept.outcome.repeat.lastContactAt, String(t)).to.equal(expected);
    }
  });

  it('only reads a lookup that is stale, that a contact able to create does not take (NOT_FOUND), or whose head is not its own', async () => {
    await state.cache.set(tag, lookup({ cachedAt: Date.now() - TTL.ttlMs - 1 }));
    const stale = await read(plan());
    expect(stale.cached).to.not.equal(undefined);
    expect(stale.written).to.equal(undefined);

    await state.cache.set(tag, { status: 'NOT_FOUND', matchCount: 0, cachedAt: Date.now() });
    expect((await read(plan({ createAllowed: true }))).written).to.equal(undefined);
    const notFound = await read(plan({ createAllowed: false }));
    // no profile: no leg for later legs to take
    expect(notFound.written).to.deep.equal({ repeat: { isRepeat: false, lastContactAt: '' }, recordStatus: 'SKIPPED', kept: true, leg: false });

    // the lookup written again without its head (as an earlier version writes it): the old head does not describe it
    const fresh = lookup();
    await state.cache.set(tag, fresh);
    await client.set(state.keys.profileCache(tag), (state.cache as RedisProfileCache).seal(tag, fresh), 'PX', 60_000);
    const other = await read(plan());
    expect(other.cached?.summary?.firstName).to.equal('Ottoline');
    expect(other.written).to.equal(undefined);
    expect(await client.llen(hits)).to.equal(0);
  });

  it('writes the record but leaves the kept answer to the resolver when an enrichment source is due', async () => {
    await state.cache.set(tag, lookup({ enrichedAt: Date.now() - TTL.enrichmentTtlMs - 1 }));
    const p = plan();
    const reads = await read(p);
    expect(reads.written).to.include({ recordStatus: 'QUEUED', kept: false });
    expect(await client.exists(state.keys.contactAnswer(tag, p.record.contactId))).to.equal(0);
  });

  it('the mover completes a hit’s record from its sealed lookup, and refuses one a forged head attached', async () => {
    const queue = new RedisRecordQueue({
      client,
      workerClient: () => client,
      prefix: recordQueuePrefix(NAMESPACE),
      writer: new RecordWriter({ addContactKey: () => Promise.resolve(), putRecord: () => Promise.resolve(), updateProfile: () => Promise.resolve() }, new Pacer({ keyPrefix: 'test', connectPerSecond: 5 })),
      sealer: sealer,
      fallback: new LocalRecordQueue(new RecordWriter({ addContactKey: () => Promise.resolve(), putRecord: () => Promise.resolve(), updateProfile: () => Promise.resolve() }, new Pacer({ keyPrefix: 'test', connectPerSecond: 5 })), { ratePerSecond: 40, maxAttempts: 3, logger }),
      ratePerSecond: 40,
      maxAttempts: 3,
      lockMs: 5000,
      keepCompletedSeconds: 3600,
      keepFailedSeconds: 3600,
      logger,
      runWorker: false,
    });
    try {
      await state.cache.set(tag, lookup({ profileId: 'a'.repeat(32) }));
      const good = plan();
      await read(good);
      // a head changed in Redis says VERIFIED; the lookup itself says only the account number found the profile
      const mismatch = lookup({ profileId: 'b'.repeat(32), verification: 'MISMATCH', matchedBy: ['_account'] });
      await state.cache.set(tag, mismatch);
      const headKey = state.keys.lookupHead(tag);
      await client.set(headKey, JSON.stringify({ ...JSON.parse((await client.get(headKey))!), v: 'VERIFIED' }));
      const forged = plan();
      expect((await read(forged)).written).to.include({ recordStatus: 'QUEUED' });
      const entries = (await client.lrange(hits, 0, -1)).map((e) => JSON.parse(e) as HitEntry);
      expect(entries.map((e) => e.contactId)).to.deep.equal([good.record.contactId, forged.record.contactId]);
      expect(openHitEntry(sealer, entries[1]!)).to.equal('detached');

      expect(await queue.move()).to.equal(2);
      const bull = openRecordQueue(client, recordQueuePrefix(NAMESPACE));
      const jobs = await bull.getWaiting(0, -1);
      expect(jobs.map((j) => j.id)).to.deep.equal([good.record.contactId]);
      // a job as an earlier version queues it: the whole record sealed, bound to the ContactId
      const data = jobs[0]!.data as { profileId: string; sealed: string; lookup?: string };
      expect(data.lookup).to.equal(undefined);
      expect(data.profileId).to.equal('a'.repeat(32));
      // with the screen pop its answer gave (stamped with the profile id when CONNECT_STAMP is on)
      expect(sealer.open<RecordJob>(data.sealed, good.record.contactId)).to.deep.equal({
        ...good.record,
        profileId: 'a'.repeat(32),
        customerStatus: 'KNOWN',
        profileSearch: { key: '_profileId', value: 'a'.repeat(32) },
      });
      expect(await client.llen(hits)).to.equal(0);

      // an erasure finds a hit's record in its inbox
      await read(plan());
      expect(await queue.forget(tag)).to.deep.include({ removed: 2 });
      expect(await client.llen(hits)).to.equal(0);
    } finally {
      await queue.close();
    }
  });
});
