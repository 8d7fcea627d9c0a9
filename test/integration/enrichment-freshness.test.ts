// How current the enrichment values are (enrichmentPartial, enrichmentAsOf), through the real service
// composition on two replicas sharing one Redis, the real SDK against the Customer Profiles fake: what
// ListCalculatedAttributesForProfile's IsDataPartial / LastObjectTimestamp and GetSegmentMembership's
// LastComputedAt say reaches the answer, and a cache hit on the other replica and a Connect retry
// answer the same facts as the lookup that read them.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventFrom, loadFixture } from '../support/fixtures.js';
import { useRedisServer, type RedisServer } from '../support/redis.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const PHONE = '+14255550123';
const HOUR_MS = 3_600_000;
const AWS_READS = ['SearchProfiles', 'ListCalculatedAttributesForProfile', 'ListProfileObjects', 'GetSegmentMembership'];

const MAPPING = {
  attributes: {
    customerTier: 'Attributes.tier',
    contactsIn30Days: 'CalculatedAttributes.contacts_30d',
    avgHold: 'CalculatedAttributes.avg_hold',
    isVip: 'Segments.vip-customers',
  },
};

let seq = 0;
const nextContact = () => `00000000-0000-4000-9100-${String(++seq).padStart(12, '0')}`;
const voice = (contactId = nextContact()) => eventFrom('voice-e164.json', { address: PHONE, contactId, parameters: {} });
/** A time in whole seconds (the wire's epoch seconds), as the answer writes it. */
const iso = (ms: number) => new Date(ms).toISOString();

describe('enrichment freshness on two replicas (service + SDK + fake + Redis)', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  const redis = useRedisServer();
  const running: RunningService[] = [];
  let dir: string;
  let mappingFile: string;
  let amelia: string;
  let prefix = '';
  // whole seconds: LastObjectTimestamp and LastComputedAt travel as epoch seconds
  const now = Math.floor(Date.now() / 1000) * 1000;
  const SEGMENT_COMPUTED = now - 30 * HOUR_MS;
  const NEWEST_CONTACT = now - 2 * HOUR_MS;
  const NEWEST_HOLD = now - 1 * HOUR_MS;

  /** Two replicas of one fleet: the same Redis and key prefix (a new prefix per test: nothing carries over). */
  const replicas = async (extra: Record<string, string> = {}): Promise<[RunningService, RunningService]> => {
    prefix = `f${seq++}`;
    const env = {
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis().url,
      REDIS_KEY_PREFIX: prefix,
      ATTRIBUTE_MAPPING_FILE: mappingFile,
      RECORD_WORKER: 'false',
      ...extra,
    };
    const pair = [await startService(env), await startService(env)] as [RunningService, RunningService];
    running.push(...pair);
    return pair;
  };
  const resolve = async (replica: RunningService, event: Record<string, unknown>) => {
    const r = await postEvent(replica.url, event);
    expect(r.status).to.equal(200);
    return r.body;
  };
  const reads = () => fake.calls.filter((c) => AWS_READS.includes(c.operation)).length;
  const withRedis = async <T>(fn: (client: ReturnType<RedisServer['client']>) => Promise<T>): Promise<T> => {
    const client = redis().client();
    try {
      return await fn(client);
    } finally {
      client.disconnect();
    }
  };
  /** the answer kept for a ContactId, once written (not awaited by the answer) */
  const kept = (contactId: string) =>
    withRedis(async (client) => {
      let key: string | undefined;
      await until('the kept answer', async () => ([key] = await client.keys(`${prefix}:*:contact:${contactId}*`)).length > 0);
      return (await client.get(key!))!;
    });
  /** drops the test's cached lookups: only a kept answer can answer a retry then, without a search */
  const dropLookups = () => withRedis(async (client) => client.del(...(await client.keys(`${prefix}:*:profile:*`))));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cpr-freshness-'));
    mappingFile = join(dir, 'attributes.json');
    writeFileSync(mappingFile, JSON.stringify(MAPPING));
  });
  beforeEach(() => {
    fake.reset();
    amelia = fake.seedProfile({ FirstName: 'Amelia', PhoneNumber: PHONE, Attributes: { tier: 'gold' } }).ProfileId;
    fake.seedCalculatedAttributes(amelia, { avg_hold: '38' }, { isDataPartial: false, lastObjectTimestamp: NEWEST_HOLD });
    fake.seedSegment('vip-customers', [amelia], undefined, { computedAt: SEGMENT_COMPUTED });
  });
  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a partial calculated attribute: the first lookup says so, and a cache hit on the other replica and Connect retries on either answer the same', async () => {
    fake.seedCalculatedAttributes(amelia, { contacts_30d: '3' }, { isDataPartial: true, lastObjectTimestamp: NEWEST_CONTACT });
    const [a, b] = await replicas();

    const firstId = nextContact();
    const first = await resolve(a, voice(firstId));
    expect(first).to.include({
      customerStatus: 'KNOWN',
      contactsIn30Days: '3',
      avgHold: '38',
      isVip: 'true',
      enrichment: 'COMPLETE',
      enrichmentPartial: 'true',
      // the oldest: the segment, computed 30 hours ago
      enrichmentAsOf: iso(SEGMENT_COMPUTED),
      degraded: 'false',
    });

    // another contact of the caller on the other replica: the cached lookup, no AWS call, the same facts
    const readsBefore = reads();
    const hitId = nextContact();
    const hit = await resolve(b, voice(hitId));
    expect(reads(), 'AWS reads on the cache hit').to.equal(readsBefore);
    expect(hit).to.include({ isRepeatContact: 'true', contactsIn30Days: '3', isVip: 'true', enrichmentPartial: 'true', enrichmentAsOf: iso(SEGMENT_COMPUTED) });

    // the hit's answer is kept by reference to the cached lookup (rebuilt from it on a retry), the first one sealed whole
    expect((await kept(hitId)).startsWith('{'), 'the hit kept by reference').to.equal(true);
    expect((await kept(firstId)).startsWith('{'), 'the first lookup kept sealed').to.equal(false);
    // with the cached lookups gone only the kept answers can answer: each retry on the other replica, as before
    expect(await dropLookups()).to.be.at.least(1);
    expect(await resolve(a, voice(hitId))).to.deep.equal(hit);
    expect(await resolve(b, voice(firstId))).to.deep.equal(first);
    expect(reads(), 'no AWS read for the retries').to.equal(readsBefore);
  });

  it('nothing partial: "false", with the oldest time, the long-ago segment\'s; kept through a failed refresh (stale-if-error, degraded)', async () => {
    fake.seedCalculatedAttributes(amelia, { contacts_30d: '3' }, { isDataPartial: false, lastObjectTimestamp: NEWEST_CONTACT });
    // values come due at once: the second contact calls the sources again, and they fail
    const [a, b] = await replicas({ ENRICHMENT_TTL_SECONDS: '0' });

    const first = await resolve(a, voice());
    fake.fail({ status: 503, errorType: 'ServiceUnavailableException', operations: ['ListCalculatedAttributesForProfile', 'GetSegmentMembership'] });
    const stale = await resolve(b, voice());

    expect(first).to.include({ enrichmentPartial: 'false', enrichmentAsOf: iso(SEGMENT_COMPUTED), degraded: 'false' });
    expect(stale).to.include({ isVip: 'true', contactsIn30Days: '3', enrichmentPartial: 'false', enrichmentAsOf: iso(SEGMENT_COMPUTED), degraded: 'true' });
  });

  it('a segment recomputed since: once its value comes due, the new time; the calculated attributes\' own time when it is the oldest', async () => {
    fake.seedCalculatedAttributes(amelia, { contacts_30d: '3' }, { isDataPartial: false, lastObjectTimestamp: NEWEST_CONTACT });
    const [a, b] = await replicas({ ENRICHMENT_TTL_SECONDS: '0' });

    const before = await resolve(a, voice());
    fake.seedSegment('vip-customers', [], undefined, { computedAt: now });
    const after = await resolve(b, voice());

    expect(before).to.include({ isVip: 'true', enrichmentAsOf: iso(SEGMENT_COMPUTED) });
    expect(after).to.include({ isVip: 'false', enrichmentAsOf: iso(NEWEST_CONTACT), enrichmentPartial: 'false' });
  });

  it('no calculated attribute or segment that says anything: "" and ""; a new profile likewise', async () => {
    fake.seedSegment('vip-customers', [amelia], undefined, { computedAt: null });
    const segmentOnly = join(dir, 'tier-and-segment.json');
    writeFileSync(segmentOnly, JSON.stringify({ attributes: { customerTier: 'Attributes.tier', isVip: 'Segments.vip-customers' } }));
    const [a] = await replicas({ ATTRIBUTE_MAPPING_FILE: segmentOnly });

    const known = await resolve(a, voice());
    const created = await resolve(a, eventFrom('voice-e164.json', { address: '+14255550177', contactId: nextContact(), parameters: {} }));

    expect(known).to.include({ isVip: 'true', enrichment: 'COMPLETE', enrichmentPartial: '', enrichmentAsOf: '' });
    expect(created).to.include({ customerStatus: 'NEW', enrichment: 'NONE', enrichmentPartial: '', enrichmentAsOf: '' });
  });

  it('the embedded store (config/embedded-profiles.json): its calculated attributes are whole ("false"), with no time ("")', async () => {
    const embedded = await startService({});
    running.push(embedded);

    const answer = await resolve(embedded, loadFixture('voice-uk.json'));

    expect(answer).to.include({ contactsLast30Days: '4', isVip: 'true', enrichmentPartial: 'false', enrichmentAsOf: '' });
  });
});
