// Identify by any key, verify, and enrich, through the real service composition, the real SDK against
// the Customer Profiles fake, and a real Redis.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventFrom } from '../support/fixtures.js';
import { useRedisServer, type RedisServer } from '../support/redis.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const PHONE = '+14255550123';
const ENRICHMENT_OPS = ['ListCalculatedAttributesForProfile', 'ListProfileObjects', 'GetSegmentMembership'];

const MAPPING = {
  attributes: {
    customerTier: 'Attributes.tier',
    contactsIn30Days: 'CalculatedAttributes.contacts_30d',
    lastOrderStatus: 'Objects.Orders.status',
    isVip: 'Segments.vip-customers',
  },
  objects: { Orders: { latestBy: 'updatedAt' } },
};

let seq = 0;
const nextContact = () => `00000000-0000-4000-9000-${String(++seq).padStart(12, '0')}`;

/** A voice contact from `phone` (undefined: withheld) with these flow parameters. */
function voice(phone: string | undefined, parameters: Record<string, string> = {}, contactId = nextContact()): Record<string, unknown> {
  return phone === undefined
    ? eventFrom('voice-withheld.json', { contactId, parameters })
    : eventFrom('voice-e164.json', { address: phone, contactId, parameters });
}

describe('identify by any key, verify and enrich (service + SDK + fake + Redis)', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  const redis = useRedisServer();
  let app: RunningService | undefined;
  let dir: string;
  let mappingFile: string;
  let amelia: string;
  let other: string;
  /** the Redis key prefix of the test's service */
  let prefix = '';

  /** `sameFleet`: another replica on the test's Redis keys, rather than a new prefix */
  const start = async (extra: Record<string, string> = {}, sameFleet = false) => {
    // a key prefix per test: no cached lookup or kept answer carries over
    if (!sameFleet) prefix = `t${seq++}`;
    app = await startService({
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis().url,
      REDIS_KEY_PREFIX: prefix,
      ATTRIBUTE_MAPPING_FILE: mappingFile,
      RECORD_WORKER: 'false',
      ...extra,
    });
    return app;
  };
  const resolve = async (event: Record<string, unknown>) => {
    const r = await postEvent(app!.url, event);
    expect(r.status).to.equal(200);
    return r.body;
  };
  const enrichmentCalls = () => fake.calls.filter((c) => ENRICHMENT_OPS.includes(c.operation));

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cpr-enrich-'));
    mappingFile = join(dir, 'attributes.json');
    writeFileSync(mappingFile, JSON.stringify(MAPPING));
  });
  beforeEach(() => {
    fake.reset();
    amelia = fake.seedProfile({ FirstName: 'Amelia', PhoneNumber: PHONE, AccountNumber: 'ACME-7781', Attributes: { tier: 'gold' } }).ProfileId;
    other = fake.seedProfile({ FirstName: 'Other', AccountNumber: 'ACME-5555' }).ProfileId;
    fake.seedCalculatedAttributes(amelia, { contacts_30d: '3' });
    fake.seedObject(amelia, 'Orders', { status: 'DELIVERED', updatedAt: '2026-10-01T00:00:00Z' });
    fake.seedObject(amelia, 'Orders', { status: 'SHIPPED', updatedAt: '2026-11-28T00:00:00Z' });
    fake.seedObject(amelia, 'Orders', { status: 'CANCELLED', updatedAt: '2026-09-01T00:00:00Z' });
    fake.seedSegment('vip-customers', [amelia]);
    fake.seedKey(amelia, 'loyaltyId', ['L-1001']);
  });
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('identify and verify', () => {
    it('VERIFIED: the phone and the account number found the same profile', async () => {
      await start();
      const a = await resolve(voice(PHONE, { accountNumber: 'ACME-7781' }));
      expect(a).to.include({ customerStatus: 'KNOWN', profileId: amelia, verification: 'VERIFIED', matchedBy: '_phone,_account' });
      expect(fake.callsTo('SearchProfiles')).to.have.length(1);
    });

    it('MISMATCH: the phone found the profile, the account number did not; the contact is still the phone owner\'s', async () => {
      await start();
      const a = await resolve(voice(PHONE, { accountNumber: 'ACME-0000' }));
      // the contact is written to the phone's profile, but the answer names no profile and holds nothing of it (ID&V failed)
      expect(a).to.include({ customerStatus: 'KNOWN', profileId: '', firstName: '', accountNumber: '', verification: 'MISMATCH', matchedBy: '_phone', contactRecordStatus: 'QUEUED' });
    });

    it('MISMATCH found only by what the caller typed: the contact is not written to that profile, nor counted as its contact', async () => {
      await start();
      // a caller from an unknown number types another customer's account number
      const stranger = await resolve(voice('+14255550111', { accountNumber: 'ACME-5555' }));
      // a failed check answers what the caller's own number found (nobody), never what the account number found
      expect(stranger).to.include({ customerStatus: 'NOT_FOUND', profileMatchCount: '0', profileId: '', firstName: '', verification: 'MISMATCH', matchedBy: '' });
      expect(stranger).to.include({ contactRecordStatus: 'SKIPPED', isRepeatContact: 'false' });

      // the account's owner calling next is not a repeat contact: the stranger left no trace
      const owner = await resolve(voice(undefined, { accountNumber: 'ACME-5555' }));
      expect(owner).to.include({ profileId: other, isRepeatContact: 'false', contactRecordStatus: 'QUEUED' });
    });

    it('a second call in the same contact with the account number gets a new answer; its retry the same one', async () => {
      await start();
      const contactId = nextContact();
      const greeting = await resolve(voice(PHONE, {}, contactId));
      const wrong = await resolve(voice(PHONE, { accountNumber: 'ACME-0000' }, contactId));
      const right = await resolve(voice(PHONE, { accountNumber: 'ACME-7781' }, contactId));
      const retry = await resolve(voice(PHONE, { accountNumber: 'ACME-7781' }, contactId));

      expect(greeting).to.include({ verification: 'NOT_CHECKED', matchedBy: '_phone' });
      expect(wrong).to.include({ verification: 'MISMATCH' });
      expect(right).to.include({ verification: 'VERIFIED', matchedBy: '_phone,_account' });
      expect(retry).to.deep.equal(right);
      expect(fake.callsTo('SearchProfiles'), 'three lookups, the retry answered from the kept answer').to.have.length(3);
      // one contact: the later calls are not repeat contacts of the first
      expect([greeting, wrong, right].map((a) => a.isRepeatContact)).to.deep.equal(['false', 'false', 'false']);
    });

    it('a withheld caller who typed an account number is found by the account number alone', async () => {
      await start();
      const a = await resolve(voice(undefined, { accountNumber: 'ACME-5555' }));
      expect(a).to.include({ customerStatus: 'KNOWN', profileId: other, identityType: 'NONE', matchedBy: '_account', verification: 'NOT_CHECKED' });
      expect(a.contactRecordStatus).to.equal('QUEUED');
    });

    it('a custom search key of the domain finds the profile, and verifies it beside the phone', async () => {
      await start();
      const byKey = await resolve(voice(undefined, { searchKey: 'loyaltyId', searchValue: 'L-1001' }));
      const withPhone = await resolve(voice(PHONE, { searchKey: 'loyaltyId', searchValue: 'L-1001' }));
      expect(byKey).to.include({ customerStatus: 'KNOWN', profileId: amelia, matchedBy: 'loyaltyId' });
      expect(withPhone).to.include({ customerStatus: 'KNOWN', profileId: amelia, verification: 'VERIFIED', matchedBy: '_phone,loyaltyId' });
    });

    it('any finds both profiles where all finds none, for the phone of one and the account of the other: both a failed check (MISMATCH), answered as the phone found', async () => {
      await start();
      const any = await resolve(voice(PHONE, { accountNumber: 'ACME-5555' }));
      const all = await resolve(voice(PHONE, { accountNumber: 'ACME-5555', matchMode: 'all' }));
      // any: the phone found its one profile (what the account number found is not told); all: the search found nobody
      expect(any).to.include({ customerStatus: 'KNOWN', profileMatchCount: '1', profileId: '', firstName: '', verification: 'MISMATCH' });
      expect(all).to.include({ customerStatus: 'NOT_FOUND', profileId: '', verification: 'MISMATCH' });
      expect(fake.callsTo('SearchProfiles').map((c) => (c.body as { LogicalOperator?: string }).LogicalOperator)).to.deep.equal(['OR', 'AND']);
    });

    it('never creates a profile from an account number, nor beside one that matched nothing', async () => {
      await start();
      const withheld = await resolve(voice(undefined, { accountNumber: 'NO-SUCH' }));
      const newCaller = await resolve(voice('+14255550199', { accountNumber: 'NO-SUCH' }));
      expect(withheld).to.include({ customerStatus: 'NOT_FOUND', profileId: '' });
      expect(newCaller).to.include({ customerStatus: 'NOT_FOUND', profileId: '' });
      expect(fake.callsTo('CreateProfile')).to.have.length(0);
      // the same new caller without the account number is created as before
      const alone = await resolve(voice('+14255550199'));
      expect(alone).to.include({ customerStatus: 'NEW', enrichment: 'NONE' });
      expect(fake.callsTo('CreateProfile')).to.have.length(1);
    });

    it('an erasure by account number forgets a caller who was looked up by it alone, every variant of it', async () => {
      const adminToken = 'an-admin-token-of-some-length';
      await start({ ADMIN_TOKENS: adminToken });
      await resolve(voice(undefined, { accountNumber: 'ACME-5555' }));
      await resolve(voice(undefined, { accountNumber: 'ACME-5555', searchKey: 'loyaltyId', searchValue: 'L-9' }));
      const searches = fake.callsTo('SearchProfiles').length;

      const res = await fetch(`${app!.url}/v1/admin/erase`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ accountNumber: ' ACME-5555 ' }),
      });
      const report = (await res.json()) as { erased: { callerEntries: number; contactHistories: number }; identityType: string };

      expect(res.status).to.equal(200);
      expect(report.identityType).to.equal('ACCOUNT');
      // two cached lookups (the account alone; with the loyalty key), each with its clear head, and two kept answers
      expect(report.erased.callerEntries).to.equal(6);
      expect(report.erased.contactHistories).to.equal(1);
      const again = await resolve(voice(undefined, { accountNumber: 'ACME-5555' }));
      expect(fake.callsTo('SearchProfiles').length, 'looked up afresh').to.equal(searches + 1);
      expect(again).to.include({ customerStatus: 'KNOWN', profileId: other, isRepeatContact: 'false' });
    });

    it('caches by everything that decides the answer, and a Connect retry answers as before', async () => {
      await start();
      const contactId = nextContact();
      const first = await resolve(voice(PHONE, { accountNumber: 'ACME-0000' }, contactId));
      const retry = await resolve(voice(PHONE, { accountNumber: 'ACME-0000' }, contactId));
      expect(retry).to.deep.equal(first);
      expect(fake.callsTo('SearchProfiles')).to.have.length(1);

      // the same phone with the right account number, or with none, is another lookup
      const verified = await resolve(voice(PHONE, { accountNumber: 'ACME-7781' }));
      const plain = await resolve(voice(PHONE));
      expect(verified).to.include({ verification: 'VERIFIED' });
      expect(plain).to.include({ verification: 'NOT_CHECKED', matchedBy: '_phone' });
      expect(fake.callsTo('SearchProfiles')).to.have.length(3);

      // and each answers from its own cache entry afterwards
      const again = await resolve(voice(PHONE, { accountNumber: 'ACME-0000' }));
      expect(again).to.include({ verification: 'MISMATCH', isRepeatContact: 'true' });
      expect(fake.callsTo('SearchProfiles')).to.have.length(3);
    });
  });

  describe('enrichment', () => {
    it('COMPLETE: calculated attribute, the latest object by its timestamp field and segment membership, then a cache hit with no AWS call', async () => {
      await start();
      const first = await resolve(voice(PHONE));
      expect(first).to.include({
        customerStatus: 'KNOWN',
        customerTier: 'gold',
        contactsIn30Days: '3',
        lastOrderStatus: 'SHIPPED',
        isVip: 'true',
        enrichment: 'COMPLETE',
        degraded: 'false',
      });
      expect(enrichmentCalls().map((c) => c.operation).sort()).to.deep.equal([...ENRICHMENT_OPS].sort());

      const callsBefore = fake.calls.length;
      const second = await resolve(voice(PHONE));
      expect(fake.calls.length - callsBefore, 'AWS calls on a cache hit').to.equal(0);
      expect(second).to.include({ lastOrderStatus: 'SHIPPED', isVip: 'true', contactsIn30Days: '3', enrichment: 'COMPLETE' });
    });

    describe('a cache hit\'s answer, kept for Connect\'s retries by reference to the cached lookup', () => {
      /** the value kept for a ContactId (one per contact and lookup; these contacts have one each), once written (not awaited by the answer) */
      const keptValue = async (contactId: string): Promise<{ key: string; value: string }> =>
        withRedis(async (client) => {
          let key: string | undefined;
          await until('the kept answer', async () => ([key] = await client.keys(`${prefix}:*:contact:${contactId}*`)).length > 0);
          return { key: key!, value: (await client.get(key!))! };
        });
      const withRedis = async <T>(fn: (client: ReturnType<RedisServer['client']>) => Promise<T>): Promise<T> => {
        const client = redis().client();
        try {
          return await fn(client);
        } finally {
          client.disconnect();
        }
      };
      /** drops the test's cached lookups */
      const dropLookups = () => withRedis(async (client) => client.del(...(await client.keys(`${prefix}:*:profile:*`))));

      it('a retry answers as before, enrichment values included, from the kept value alone, which holds nothing personal in clear', async () => {
        await start();
        await resolve(voice(PHONE)); // the lookup, cached with its enrichment
        const contactId = nextContact();
        const first = await resolve(voice(PHONE, {}, contactId));
        expect(first).to.include({ customerStatus: 'KNOWN', firstName: 'Amelia', lastOrderStatus: 'SHIPPED', isVip: 'true', enrichment: 'COMPLETE', isRepeatContact: 'true' });

        const { value } = await keptValue(contactId);
        const kept = JSON.parse(value) as { profileId: string; lookup: string; outcome: Record<string, unknown> };
        expect(kept.profileId).to.equal(amelia);
        expect(kept.outcome).to.include({ status: 'KNOWN', recordStatus: 'QUEUED', enrichment: 'COMPLETE' });
        for (const personal of ['Amelia', PHONE, PHONE.slice(2), 'SHIPPED', 'gold']) expect(value, personal).to.not.contain(personal);

        // the cached lookup gone (an update dropped it, say): the retry still answers from what was kept
        expect(await dropLookups()).to.equal(1);
        const searches = fake.callsTo('SearchProfiles').length;
        const retry = await resolve(voice(PHONE, {}, contactId));
        expect(retry).to.deep.equal(first);
        expect(fake.callsTo('SearchProfiles'), 'no lookup for the retry').to.have.length(searches);
      });

      it('a verified variant\'s retry answers as before too, on another replica (kept sealed whole: its step-up signals are its own)', async () => {
        await start();
        await resolve(voice(PHONE, { accountNumber: 'ACME-7781' }));
        const contactId = nextContact();
        const first = await resolve(voice(PHONE, { accountNumber: 'ACME-7781' }, contactId));
        expect(first).to.include({ verification: 'VERIFIED', matchedBy: '_phone,_account', enrichment: 'COMPLETE', mergedRecently: 'false' });
        const { value } = await keptValue(contactId);
        expect(value.startsWith('{'), 'not by reference').to.equal(false);
        expect(value).not.to.include('Amelia');
        await app!.stop();
        await start({}, true);
        expect(await resolve(voice(PHONE, { accountNumber: 'ACME-7781' }, contactId))).to.deep.equal(first);
      });

      it('a kept value whose sealed lookup does not open is not used: the retry is looked up afresh', async () => {
        await start();
        await resolve(voice(PHONE));
        const contactId = nextContact();
        const first = await resolve(voice(PHONE, {}, contactId));
        const { key, value } = await keptValue(contactId);
        const kept = JSON.parse(value) as { lookup: string };
        // one character of the ciphertext changed, and the cached lookup gone: only a new search can answer
        const body = kept.lookup.split('.');
        body[2] = (body[2]![0] === 'A' ? 'B' : 'A') + body[2]!.slice(1);
        await withRedis((client) => client.set(key, JSON.stringify({ ...kept, lookup: body.join('.') }), 'PX', 60_000));
        expect(await dropLookups()).to.equal(1);
        const searches = fake.callsTo('SearchProfiles').length;
        const retry = await resolve(voice(PHONE, {}, contactId));
        expect(fake.callsTo('SearchProfiles')).to.have.length(searches + 1);
        expect(retry).to.include({ customerStatus: 'KNOWN', profileId: first.profileId, firstName: 'Amelia' });
      });
    });

    it('PARTIAL, inside the deadline: one source hanging and one failing leave their keys "", the rest of the answer stands', async () => {
      await start({ RESOLVE_DEADLINE_MS: '600' });
      fake.hang(true, ['GetSegmentMembership']);
      fake.fail({ status: 500, errorType: 'InternalServerException', operations: ['ListCalculatedAttributesForProfile'] });

      const r = await postEvent(app!.url, voice(PHONE));

      expect(r.status).to.equal(200);
      expect(r.ms).to.be.below(1000);
      expect(r.body).to.include({
        customerStatus: 'KNOWN',
        profileId: amelia,
        customerTier: 'gold',
        lastOrderStatus: 'SHIPPED',
        isVip: '',
        contactsIn30Days: '',
        enrichment: 'PARTIAL',
        degraded: 'false',
        contactRecordStatus: 'QUEUED',
      });
      // a failed enrichment call is made once (no retry)
      expect(fake.callsTo('ListCalculatedAttributesForProfile')).to.have.length(1);
      fake.hang(false);
    });

    it('stale-if-error: values past ENRICHMENT_TTL_SECONDS are kept (degraded) when the new calls fail; the lookup stays cached', async () => {
      await start({ ENRICHMENT_TTL_SECONDS: '0' });
      await resolve(voice(PHONE));
      fake.fail({ status: 503, errorType: 'ServiceUnavailableException', operations: ENRICHMENT_OPS });

      const searches = fake.callsTo('SearchProfiles').length;
      const r = await resolve(voice(PHONE));

      expect(fake.callsTo('SearchProfiles').length, 'the lookup itself came from the cache').to.equal(searches);
      expect(r).to.include({ contactsIn30Days: '3', lastOrderStatus: 'SHIPPED', isVip: 'true', enrichment: 'COMPLETE', degraded: 'true' });
    });

    it('a lookup refreshed from Customer Profiles keeps the same profile\'s enrichment values, fresh ones without a call', async () => {
      await start({ CACHE_TTL_SECONDS: '0' });
      await resolve(voice(PHONE));
      const enrichBefore = enrichmentCalls().length;

      // the lookup is searched again (stale at once); the sources, 60 s fresh, are not called again
      const second = await resolve(voice(PHONE));
      expect(fake.callsTo('SearchProfiles')).to.have.length(2);
      expect(enrichmentCalls().length).to.equal(enrichBefore);
      expect(second).to.include({ lastOrderStatus: 'SHIPPED', isVip: 'true', enrichment: 'COMPLETE', degraded: 'false' });
    });

    it('a throttled enrichment call costs only its own keys: the lookup is not told, and the operation rests a second', async () => {
      await start();
      fake.fail({ status: 429, errorType: 'ThrottlingException', operations: ['GetSegmentMembership'] });
      const first = await resolve(voice(PHONE));
      expect(first).to.include({ customerStatus: 'KNOWN', isVip: '', enrichment: 'PARTIAL', degraded: 'false' });

      // another caller right after: GetSegmentMembership is skipped on this replica for a second, not called
      fake.seedProfile({ PhoneNumber: '+14255550142' });
      const second = await resolve(voice('+14255550142'));
      expect(second).to.include({ customerStatus: 'KNOWN', isVip: '', enrichment: 'PARTIAL' });
      expect(fake.callsTo('GetSegmentMembership')).to.have.length(1);
      const metrics = await (await fetch(`${app!.metricsUrl}/metrics`)).text();
      expect(metrics).to.match(/cpr_enrichment_calls_total\{source="segment:vip-customers",outcome="throttled"\} 1/);
      expect(metrics).to.match(/cpr_enrichment_calls_total\{source="segment:vip-customers",outcome="skipped"\} 1/);
      expect(metrics).to.match(/cpr_enrichment_calls_total\{source="calculated-attributes",outcome="success"\} 2/);
      expect(metrics).not.to.match(/cpr_resolve_fallbacks_total\{/);
    });

    it("skips enrichment, rather than calling, past the fleet's share (ENRICHMENT_CALLS_PER_SECOND, booked in Redis)", async () => {
      // two segments need two GetSegmentMembership calls a lookup, side by side; at one a second their
      // slots are a second apart, past what enrichment may book ahead: never granted
      const twoSegments = join(dir, 'two-segments.json');
      writeFileSync(twoSegments, JSON.stringify({ attributes: { isVip: 'Segments.vip-customers', isNew: 'Segments.new-customers', n: 'CalculatedAttributes.contacts_30d' } }));
      await start({ ATTRIBUTE_MAPPING_FILE: twoSegments, ENRICHMENT_CALLS_PER_SECOND: '1' });

      const r = await resolve(voice(PHONE));

      expect(r).to.include({ customerStatus: 'KNOWN', isVip: '', isNew: '', n: '3', enrichment: 'PARTIAL' });
      expect(fake.callsTo('GetSegmentMembership')).to.have.length(0);
      const client = redis().client();
      const keys = await client.keys('*{quota}*');
      client.disconnect();
      expect(keys.some((k) => k.endsWith(':{quota}:ListCalculatedAttributesForProfile'))).to.equal(true);
    });

    it('a profile created now has nothing to enrich: no enrichment calls; the next contact finds it by its phone', async () => {
      await start();
      const r = await resolve(voice('+14255550177'));
      expect(r).to.include({ customerStatus: 'NEW', enrichment: 'NONE', isVip: '', lastOrderStatus: '' });
      expect(enrichmentCalls()).to.have.length(0);

      const next = await resolve(voice('+14255550177'));
      expect(next).to.include({ customerStatus: 'KNOWN', profileId: r.profileId, matchedBy: '_phone', isRepeatContact: 'true' });
      expect(enrichmentCalls(), 'its sources count as read at creation').to.have.length(0);
    });

    it('contacts of one profile at the same moment on one replica share one set of enrichment calls', async () => {
      await start();
      fake.setLatency(50);
      try {
        const [a, b] = await Promise.all([resolve(voice(PHONE)), resolve(voice(PHONE))]);
        expect(a).to.include({ enrichment: 'COMPLETE', isVip: 'true' });
        expect(b).to.include({ enrichment: 'COMPLETE', isVip: 'true' });
        expect(fake.callsTo('SearchProfiles'), 'both missed the cache').to.have.length(2);
        for (const op of ENRICHMENT_OPS) expect(fake.callsTo(op), op).to.have.length(1);
      } finally {
        fake.setLatency(0);
      }
    });
  });
});
