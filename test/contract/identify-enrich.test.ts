// The exact requests of a lookup by several keys and of the enrichment reads, through the real SDK
// (nock). Shapes from the Customer Profiles model (aws/aws-sdk-js-v3,
// codegen/sdk-codegen/aws-models/customer-profiles.json): SearchProfiles' AdditionalSearchKeys and
// LogicalOperator, ListCalculatedAttributesForProfile (GET, next-token/max-results in the query; each
// item's IsDataPartial string and LastObjectTimestamp), ListProfileObjects (POST, ObjectFilter in the
// body) and GetSegmentMembership (the response's LastComputedAt).
import { expect } from 'chai';
import nock from 'nock';
import { parseContactEvent } from '../../src/contact/event.js';
import { ContactResolver, type ResolverDeps } from '../../src/contact/resolve.js';
import { AccountQuota } from '../../src/cache/quota.js';
import { parseAttributeMapping, type AttributeMapping } from '../../src/domain/mapping.js';
import { createHotPathClients } from '../../src/aws/clients.js';
import { CustomerProfilesStore } from '../../src/profiles/customer-profiles.js';
import { eventFrom } from '../support/fixtures.js';
import { useNock } from '../support/nock.js';
import { localState } from '../support/state.js';

const ENDPOINT = 'https://profile.us-east-1.amazonaws.com';
const DOMAIN = 'acme-contacts';
const PROFILE_ID = '0123456789abcdef0123456789abcdef';
const OTHER_ID = 'fedcba9876543210fedcba9876543210';
const PHONE_SPELLINGS = ['+14255550123', '14255550123', '4255550123', '(425) 555-0123', '+1 425 555 0123'];

function mappingOf(file: unknown): AttributeMapping {
  const { mapping, problems } = parseAttributeMapping(file);
  expect(problems).to.deep.equal([]);
  return mapping;
}

const NO_ENRICHMENT = mappingOf({ attributes: {} });
const ENRICHMENT = mappingOf({
  attributes: {
    avgHoldSeconds: 'CalculatedAttributes._average_hold_time',
    contactsIn30Days: 'CalculatedAttributes.contacts_30d',
    lastOrderStatus: 'Objects.Orders.status',
    openCaseId: 'Objects.Cases.caseId',
    isVip: 'Segments.vip-customers',
  },
  objects: {
    Orders: { latestBy: 'updatedAt' },
    Cases: { latestBy: 'openedAt', where: { key: 'status', values: ['OPEN'] } },
  },
});

function resolver(mapping: AttributeMapping, more: Partial<ResolverDeps> = {}): ContactResolver {
  const clients = createHotPathClients({
    region: 'us-east-1',
    requestTimeoutMs: 2000,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
  return new ContactResolver({
    store: new CustomerProfilesStore(clients.lookup, DOMAIN, clients.enrich),
    ...localState(mapping),
    mapping,
    defaultCountry: 'US',
    createProfiles: true,
    ...more,
  });
}

/** The voice fixture (caller +14255550123) with these flow parameters. */
function event(parameters: Record<string, string>, fixture = 'voice-national-digits.json') {
  return parseContactEvent(eventFrom(fixture, { parameters }));
}

function captureSearch(reply: unknown): { body: () => unknown } {
  let body: unknown;
  nock(ENDPOINT)
    .post(`/domains/${DOMAIN}/profiles/search`, (b: unknown) => {
      body = b;
      return true;
    })
    .query({ 'max-results': '100' })
    .reply(200, reply as nock.Body);
  return { body: () => body };
}

describe('identify by several keys, verify and enrich (contract, nock)', () => {
  useNock();

  describe('SearchProfiles', () => {
    it('with an account number beside the phone: one call, the account as an AdditionalSearchKey, OR, and VERIFIED when both found the profile', async () => {
      const search = captureSearch({
        Items: [
          {
            ProfileId: PROFILE_ID,
            PhoneNumber: '+14255550123',
            AccountNumber: 'ACME-7781',
            FoundByItems: [
              { KeyName: '_phone', Values: ['+14255550123'] },
              { KeyName: '_account', Values: ['ACME-7781'] },
            ],
          },
        ],
      });

      const r = await resolver(NO_ENRICHMENT).resolve(event({ accountNumber: ' ACME-7781 ' }), AbortSignal.timeout(2000));

      expect(search.body()).to.deep.equal({
        KeyName: '_phone',
        Values: PHONE_SPELLINGS,
        AdditionalSearchKeys: [{ KeyName: '_account', Values: ['ACME-7781'] }],
        LogicalOperator: 'OR',
      });
      expect(r.answer).to.include({ customerStatus: 'KNOWN', profileId: PROFILE_ID, verification: 'VERIFIED', matchedBy: '_phone,_account' });
    });

    it('with matchMode all and a custom key and a profile id: LogicalOperator AND, keys in a fixed order', async () => {
      const search = captureSearch({ Items: [{ ProfileId: PROFILE_ID }] });

      const r = await resolver(NO_ENRICHMENT).resolve(
        event({ searchKey: 'loyaltyId', searchValue: 'L-1001', profileId: PROFILE_ID.toUpperCase(), matchMode: 'ALL' }),
        AbortSignal.timeout(2000),
      );

      expect(search.body()).to.deep.equal({
        KeyName: '_phone',
        Values: PHONE_SPELLINGS,
        AdditionalSearchKeys: [
          { KeyName: '_profileId', Values: [PROFILE_ID] },
          { KeyName: 'loyaltyId', Values: ['L-1001'] },
        ],
        LogicalOperator: 'AND',
      });
      // an AND search finds only profiles every key matched (FoundByItems or not)
      expect(r.answer).to.include({ customerStatus: 'KNOWN', verification: 'VERIFIED', matchedBy: '_phone,_profileId,loyaltyId' });
    });

    it('when the phone finds one profile and the account another: MISMATCH, answered as the phone alone found (KNOWN, 1), like an account number nobody has', async () => {
      captureSearch({
        Items: [
          { ProfileId: OTHER_ID, AccountNumber: 'ACME-7781', FoundByItems: [{ KeyName: '_account', Values: ['ACME-7781'] }] },
          { ProfileId: PROFILE_ID, PhoneNumber: '+14255550123', FoundByItems: [{ KeyName: '_phone', Values: ['+14255550123'] }] },
        ],
      });
      const wrong = await resolver(NO_ENRICHMENT).resolve(event({ accountNumber: 'ACME-7781' }), AbortSignal.timeout(2000));
      captureSearch({ Items: [{ ProfileId: PROFILE_ID, PhoneNumber: '+14255550123', FoundByItems: [{ KeyName: '_phone', Values: ['+14255550123'] }] }] });
      const unknown = await resolver(NO_ENRICHMENT).resolve(event({ accountNumber: 'NOPE-0000' }), AbortSignal.timeout(2000));

      // ID&V failed: the answer names no profile, and says nothing of what the account number found
      expect(wrong.answer).to.include({ customerStatus: 'KNOWN', profileId: '', firstName: '', profileMatchCount: '1', verification: 'MISMATCH', matchedBy: '_phone' });
      expect(unknown.answer).to.deep.equal(wrong.answer);
    });

    it('when the caller ID is withheld and the caller typed an account number: the account is the only key', async () => {
      const search = captureSearch({ Items: [{ ProfileId: PROFILE_ID, AccountNumber: '77810042' }] });

      const r = await resolver(NO_ENRICHMENT).resolve(event({ accountNumber: '77810042' }, 'voice-withheld.json'), AbortSignal.timeout(2000));

      expect(search.body()).to.deep.equal({ KeyName: '_account', Values: ['77810042'] });
      expect(r.answer).to.include({ customerStatus: 'KNOWN', identityType: 'NONE', verification: 'NOT_CHECKED', matchedBy: '_account' });
    });

    it('when nothing matches the phone and the account number, creates nothing: NOT_FOUND, and the check failed (MISMATCH)', async () => {
      captureSearch({ Items: [] });

      const r = await resolver(NO_ENRICHMENT).resolve(event({ accountNumber: 'ACME-0000' }), AbortSignal.timeout(2000));

      // nock would fail the test on an unexpected CreateProfile (net connect is off)
      expect(r.answer).to.include({ customerStatus: 'NOT_FOUND', profileId: '', verification: 'MISMATCH' });
    });
  });

  describe('enrichment reads', () => {
    it('makes ListCalculatedAttributesForProfile, ListProfileObjects (with ObjectFilter where mapped) and GetSegmentMembership, once each source', async () => {
      captureSearch({ Items: [{ ProfileId: PROFILE_ID, PhoneNumber: '+14255550123' }] });
      const calculated = nock(ENDPOINT)
        .get(`/domains/${DOMAIN}/profile/${PROFILE_ID}/calculated-attributes`)
        .query({ 'max-results': '100' })
        .reply(200, {
          Items: [
            { CalculatedAttributeName: '_average_hold_time', DisplayName: 'Average hold time', IsDataPartial: 'false', Value: '42.5' },
            { CalculatedAttributeName: 'contacts_30d', DisplayName: 'Contacts in 30 days', IsDataPartial: 'true', Value: '3' },
            { CalculatedAttributeName: 'unmapped', Value: 'x' },
          ],
        });
      const objectBodies: unknown[] = [];
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/profiles/objects`, (b: unknown) => {
          objectBodies.push(b);
          return true;
        })
        .query({ 'max-results': '100' })
        .times(2)
        .reply(200, (_uri, body) => {
          const type = (body as { ObjectTypeName: string }).ObjectTypeName;
          // no documented order: the latest is found by the mapped timestamp field, not by position
          return type === 'Orders'
            ? {
                Items: [
                  { ObjectTypeName: 'Orders', ProfileObjectUniqueKey: 'o-1', Object: JSON.stringify({ status: 'DELIVERED', updatedAt: '2026-11-01T10:00:00Z' }) },
                  { ObjectTypeName: 'Orders', ProfileObjectUniqueKey: 'o-2', Object: JSON.stringify({ status: 'SHIPPED', updatedAt: '2026-11-28T09:30:00Z' }) },
                  { ObjectTypeName: 'Orders', ProfileObjectUniqueKey: 'o-3', Object: JSON.stringify({ status: 'CANCELLED', updatedAt: '2026-10-02T00:00:00Z' }) },
                ],
              }
            : { Items: [{ ObjectTypeName: 'Cases', ProfileObjectUniqueKey: 'c-9', Object: JSON.stringify({ caseId: 'CASE-9', openedAt: 1764000000 }) }] };
        });
      let segmentBody: unknown;
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/segments/vip-customers/membership`, (b: unknown) => {
          segmentBody = b;
          return true;
        })
        .reply(200, { SegmentDefinitionName: 'vip-customers', Profiles: [{ ProfileId: PROFILE_ID, QueryResult: 'PRESENT' }], Failures: [] });

      const r = await resolver(ENRICHMENT).resolve(event({}), AbortSignal.timeout(2000));

      expect(calculated.isDone()).to.equal(true);
      expect(objectBodies).to.have.deep.members([
        { ObjectTypeName: 'Orders', ProfileId: PROFILE_ID },
        { ObjectTypeName: 'Cases', ProfileId: PROFILE_ID, ObjectFilter: { KeyName: 'status', Values: ['OPEN'] } },
      ]);
      expect(segmentBody).to.deep.equal({ ProfileIds: [PROFILE_ID] });
      expect(r.answer).to.include({
        customerStatus: 'KNOWN',
        avgHoldSeconds: '42.5',
        contactsIn30Days: '3',
        lastOrderStatus: 'SHIPPED',
        openCaseId: 'CASE-9',
        isVip: 'true',
        enrichment: 'COMPLETE',
        degraded: 'false',
      });
      expect(r.answer).not.to.have.property('unmapped');
    });

    it('reads IsDataPartial and LastObjectTimestamp of the mapped calculated attributes and GetSegmentMembership\'s LastComputedAt (epoch seconds on the wire): enrichmentPartial, enrichmentAsOf', async () => {
      captureSearch({ Items: [{ ProfileId: PROFILE_ID, PhoneNumber: '+14255550123' }] });
      const mapping = mappingOf({
        attributes: { avgHold: 'CalculatedAttributes.hold', contacts: 'CalculatedAttributes.contacts_30d', isVip: 'Segments.vip-customers', isNew: 'Segments.new-customers' },
      });
      // ListCalculatedAttributeForProfileItem: IsDataPartial a string ("true"/"false"), LastObjectTimestamp a timestamp
      // (rest-json, no timestampFormat: epoch seconds). An attribute not mapped is older and partial: it does not count.
      nock(ENDPOINT)
        .get(`/domains/${DOMAIN}/profile/${PROFILE_ID}/calculated-attributes`)
        .query({ 'max-results': '100' })
        .reply(200, {
          Items: [
            { CalculatedAttributeName: 'hold', IsDataPartial: 'false', Value: '42.5', LastObjectTimestamp: 1796073300.25 },
            { CalculatedAttributeName: 'contacts_30d', IsDataPartial: 'true', Value: '3', LastObjectTimestamp: 1796076000 },
            { CalculatedAttributeName: 'unmapped', IsDataPartial: 'true', Value: 'x', LastObjectTimestamp: 1000000000 },
          ],
        });
      // GetSegmentMembershipResponse: LastComputedAt is the response's (the segment's), not a Profiles item's
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/segments/vip-customers/membership`)
        .reply(200, { SegmentDefinitionName: 'vip-customers', Profiles: [{ ProfileId: PROFILE_ID, QueryResult: 'PRESENT' }], Failures: [], LastComputedAt: 1795932000 });
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/segments/new-customers/membership`)
        .reply(200, { SegmentDefinitionName: 'new-customers', Profiles: [{ ProfileId: PROFILE_ID, QueryResult: 'ABSENT' }], Failures: [] });

      const r = await resolver(mapping).resolve(event({}), AbortSignal.timeout(2000));

      expect(r.answer).to.include({
        avgHold: '42.5',
        contacts: '3',
        isVip: 'true',
        isNew: 'false',
        enrichment: 'COMPLETE',
        enrichmentPartial: 'true',
        // the oldest: vip-customers computed 2026-11-29T06:00:00Z (hold's newest object 2026-11-30T21:15:00.250Z; new-customers said no time)
        enrichmentAsOf: '2026-11-29T06:00:00.000Z',
      });
    });

    it('when every mapped calculated attribute says IsDataPartial "false", answers "false"; without LastObjectTimestamp or LastComputedAt, enrichmentAsOf ""', async () => {
      captureSearch({ Items: [{ ProfileId: PROFILE_ID, PhoneNumber: '+14255550123' }] });
      const mapping = mappingOf({ attributes: { avgHold: 'CalculatedAttributes.hold', isVip: 'Segments.vip-customers' } });
      nock(ENDPOINT)
        .get(`/domains/${DOMAIN}/profile/${PROFILE_ID}/calculated-attributes`)
        .query(true)
        .reply(200, { Items: [{ CalculatedAttributeName: 'hold', IsDataPartial: 'false', Value: '42.5' }, { CalculatedAttributeName: 'other', IsDataPartial: 'true', Value: '1' }] });
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/segments/vip-customers/membership`)
        .reply(200, { SegmentDefinitionName: 'vip-customers', Profiles: [{ ProfileId: PROFILE_ID, QueryResult: 'PRESENT' }] });

      const r = await resolver(mapping).resolve(event({}), AbortSignal.timeout(2000));

      expect(r.answer).to.include({ avgHold: '42.5', isVip: 'true', enrichmentPartial: 'false', enrichmentAsOf: '' });
    });

    it('follows NextToken of ListProfileObjects and picks the latest across pages', async () => {
      captureSearch({ Items: [{ ProfileId: PROFILE_ID, PhoneNumber: '+14255550123' }] });
      const mapping = mappingOf({ attributes: { lastOrderStatus: 'Objects.Orders.status' }, objects: { Orders: { latestBy: 'updatedAt' } } });
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/profiles/objects`)
        .query({ 'max-results': '100' })
        .reply(200, { Items: [{ ProfileObjectUniqueKey: 'a', Object: '{"status":"OLD","updatedAt":"2026-01-01T00:00:00Z"}' }], NextToken: 'page-2' });
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/profiles/objects`)
        .query({ 'max-results': '100', 'next-token': 'page-2' })
        .reply(200, { Items: [{ ProfileObjectUniqueKey: 'b', Object: '{"status":"NEWEST","updatedAt":"2026-06-01T00:00:00Z"}' }] });

      const r = await resolver(mapping).resolve(event({}), AbortSignal.timeout(2000));

      expect(r.answer).to.include({ lastOrderStatus: 'NEWEST', enrichment: 'COMPLETE' });
    });

    it('asks the fleet allowance for every page after the first: without it the source is skipped, not read in part', async () => {
      captureSearch({ Items: [{ ProfileId: PROFILE_ID, PhoneNumber: '+14255550123' }] });
      const mapping = mappingOf({ attributes: { lastOrderStatus: 'Objects.Orders.status' }, objects: { Orders: { latestBy: 'updatedAt' } } });
      let pages = 0;
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/profiles/objects`)
        .query(true)
        .reply(200, () => {
          pages += 1;
          return { Items: [{ ProfileObjectUniqueKey: 'a', Object: '{"status":"OLD","updatedAt":"2026-01-01T00:00:00Z"}' }], NextToken: 'page-2' };
        });
      const outcomes: string[] = [];
      // one ListProfileObjects a second, the clock stopped: the first page takes it
      const budget = new AccountQuota({ default: 1, perOperation: new Map() }, undefined, () => 0);

      const r = await resolver(mapping, { budget, onEnrichmentCall: (call, outcome) => outcomes.push(`${call.id} ${outcome}`) }).resolve(event({}), AbortSignal.timeout(2000));

      expect(pages).to.equal(1);
      expect(outcomes).to.deep.equal(['object:Orders skipped']);
      expect(r.answer).to.include({ lastOrderStatus: '', enrichment: 'PARTIAL' });
    });

    it('when GetSegmentMembership says ABSENT, answers "false"; when a source is throttled, its keys are "" and the answer PARTIAL, not an error', async () => {
      captureSearch({ Items: [{ ProfileId: PROFILE_ID, PhoneNumber: '+14255550123' }] });
      const mapping = mappingOf({ attributes: { isVip: 'Segments.vip-customers', avgHold: 'CalculatedAttributes.hold' } });
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/segments/vip-customers/membership`)
        .reply(200, { SegmentDefinitionName: 'vip-customers', Profiles: [{ ProfileId: PROFILE_ID, QueryResult: 'ABSENT' }] });
      // one attempt only: were it retried, the retry would find no reply here and fail as a network error
      nock(ENDPOINT)
        .get(`/domains/${DOMAIN}/profile/${PROFILE_ID}/calculated-attributes`)
        .query(true)
        .reply(429, { message: 'Rate exceeded' }, { 'X-Amzn-Errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazonaws.profile/' });

      const r = await resolver(mapping).resolve(event({}), AbortSignal.timeout(2000));

      expect(r.answer).to.include({ customerStatus: 'KNOWN', isVip: 'false', avgHold: '', enrichment: 'PARTIAL', degraded: 'false' });
      expect(r.failure).to.equal(undefined);
    });
  });
});
