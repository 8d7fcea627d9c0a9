import { expect } from 'chai';
import nock from 'nock';
import { createHotPathClients } from '../../src/aws/clients.js';
import { AccountQuota, type QuotaObserver } from '../../src/cache/quota.js';
import type { HistoryAction } from '../../src/domain/history.js';
import { bindRequestContext, type RequestContext } from '../../src/ops/context.js';
import { CustomerProfilesStore, MAX_HISTORY_READS } from '../../src/profiles/customer-profiles.js';
import { AllowanceSpent, HistoryTooLong, ProfileStoreError } from '../../src/profiles/profile.js';
import { useNock } from '../support/nock.js';

const ENDPOINT = 'https://profile.us-east-1.amazonaws.com';
const DOMAIN = 'acme-contacts';
const PROFILE_ID = '0123456789abcdef0123456789abcdef';
const LIST_PATH = `/domains/${DOMAIN}/profiles/history-records`;
const RECORD_PATH = new RegExp(`^/domains/${DOMAIN}/profiles/${PROFILE_ID}/history-records/([a-f0-9]{32})$`);
const DAY = 86_400_000;
const NOW = Date.now();
const SINCE = NOW - 30 * DAY;

/** A 32-hex record id that sorts by n (n < 16). */
const id = (n: number): string => n.toString(16).repeat(32);
/** A record as the wire carries it: CreatedAt in epoch seconds. */
const wire = (n: number, ActionType: HistoryAction, daysAgo: number, ObjectTypeName = '_profile') => ({
  Id: id(n),
  ObjectTypeName,
  CreatedAt: (NOW - daysAgo * DAY) / 1000,
  ActionType,
});

const awsError = (status: number, type: string) => ({
  status,
  body: { message: `${type} from the test` },
  headers: { 'X-Amzn-Errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.profile/` },
});

/** The store as the service builds it: the enrichment client (one attempt) and the fleet's share. */
function store(observer?: QuotaObserver): CustomerProfilesStore {
  const { lookup, enrich } = createHotPathClients({
    region: 'us-east-1',
    requestTimeoutMs: 2000,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
  return new CustomerProfilesStore(lookup, DOMAIN, enrich, new AccountQuota({ default: 60, perOperation: new Map() }, observer));
}

/** Answers ListProfileHistoryRecords with one page for each ActionType given (each listing expected once). */
function listings(byAction: Partial<Record<HistoryAction, Array<ReturnType<typeof wire>>>>): void {
  for (const [action, records] of Object.entries(byAction)) {
    nock(ENDPOINT)
      .post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === action)
      .query({ 'max-results': '100' })
      .reply(200, { ProfileHistoryRecords: records });
  }
}

/** Answers GetProfileHistoryRecord with `contents` by record id (a profile state as JSON), recording the ids asked. */
function contents(byId: Record<string, Record<string, unknown>>, asked: string[] = []) {
  nock(ENDPOINT)
    .persist()
    .get(RECORD_PATH)
    .reply((uri) => {
      const recordId = RECORD_PATH.exec(uri.split('?')[0]!)![1]!;
      asked.push(recordId);
      const content = byId[recordId];
      if (!content) return [404, { message: 'not found' }, { 'X-Amzn-Errortype': 'ResourceNotFoundException' }];
      return [200, { Id: recordId, ObjectTypeName: '_profile', CreatedAt: NOW / 1000, ActionType: 'UPDATED', Content: JSON.stringify(content) }];
    });
  return asked;
}

describe('profile history through the real SDK (contract, nock)', () => {
  useNock();

  it('lists CREATED, UPDATED and MERGED records (one filtered call each, MaxResults 100) and reads the Content of an update and of the state before it', async () => {
    let body: unknown;
    nock(ENDPOINT)
      .post(LIST_PATH, (b: { ActionType?: string }) => {
        if (b.ActionType === 'UPDATED') body = b;
        return b.ActionType === 'UPDATED';
      })
      .query({ 'max-results': '100' })
      .matchHeader('content-type', 'application/json')
      .matchHeader('authorization', /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/profile\/aws4_request/)
      .reply(200, { ProfileHistoryRecords: [wire(2, 'UPDATED', 3)] });
    listings({ CREATED: [wire(1, 'CREATED', 400)], MERGED: [] });
    const asked = contents({
      [id(1)]: { ProfileId: PROFILE_ID, PhoneNumber: '+442079460958', FirstName: 'Amelia' },
      [id(2)]: { ProfileId: PROFILE_ID, PhoneNumber: '+447700900123', FirstName: 'Amelia' },
    });

    const records = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(2000));

    expect(body).to.deep.equal({ ProfileId: PROFILE_ID, ActionType: 'UPDATED' });
    expect(asked.sort()).to.deep.equal([id(1), id(2)]);
    // the CREATED record, 400 days old, is outside the window: read as the state before the update, not returned
    expect(records).to.deep.equal([{ actionType: 'UPDATED', createdAt: NOW - 3 * DAY, objectTypeName: '_profile', changedFields: ['PhoneNumber'] }]);
  });

  it('returns the window newest first, reading each listing to its last page (the API documents no order)', async () => {
    nock(ENDPOINT)
      .post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === 'UPDATED')
      .query({ 'max-results': '100' })
      .reply(200, { ProfileHistoryRecords: [wire(3, 'UPDATED', 1)], NextToken: 'page-2' });
    nock(ENDPOINT)
      .post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === 'UPDATED')
      .query({ 'max-results': '100', 'next-token': 'page-2' })
      .reply(200, { ProfileHistoryRecords: [wire(2, 'UPDATED', 40), wire(4, 'UPDATED', 10)] });
    listings({ CREATED: [wire(1, 'CREATED', 400)], MERGED: [wire(5, 'MERGED', 5)] });
    contents({
      [id(2)]: { PhoneNumber: '+1' },
      [id(4)]: { PhoneNumber: '+1', EmailAddress: 'a@x.test' },
      [id(5)]: { PhoneNumber: '+1', EmailAddress: 'a@x.test', Address: { City: 'Leeds' } },
      [id(3)]: { PhoneNumber: '+2', EmailAddress: 'a@x.test', Address: { City: 'Leeds' } },
    });

    const records = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(2000));

    // the update of 40 days ago is outside the window but is the state before the one of 10 days ago
    expect(records.map((r) => [r.actionType, Math.round((NOW - r.createdAt) / DAY), r.changedFields])).to.deep.equal([
      ['UPDATED', 1, ['PhoneNumber']],
      ['MERGED', 5, undefined],
      ['UPDATED', 10, ['EmailAddress']],
    ]);
  });

  it(`makes at most ${MAX_HISTORY_READS} GetProfileHistoryRecord calls, newest first: of five updates in a row, the newest three are known`, async () => {
    listings({ CREATED: [wire(1, 'CREATED', 100)], UPDATED: [2, 3, 4, 5, 6].map((n) => wire(n, 'UPDATED', 8 - n)), MERGED: [] });
    const state = (n: number) => ({ PhoneNumber: `+${n}` });
    const asked = contents(Object.fromEntries([1, 2, 3, 4, 5, 6].map((n) => [id(n), state(n)])));

    const records = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(2000));

    expect(asked.sort()).to.deep.equal([id(3), id(4), id(5), id(6)]);
    expect(records.map((r) => [Math.round((NOW - r.createdAt) / DAY), r.changedFields])).to.deep.equal([
      [2, ['PhoneNumber']],
      [3, ['PhoneNumber']],
      [4, ['PhoneNumber']],
      [5, undefined],
      [6, undefined],
    ]);
  });

  it('when a GetProfileHistoryRecord fails, that update\'s fields are not known; the others are', async () => {
    listings({ CREATED: [wire(1, 'CREATED', 100)], UPDATED: [wire(2, 'UPDATED', 20), wire(3, 'UPDATED', 2)], MERGED: [] });
    contents({ [id(1)]: { EmailAddress: 'a@x.test' }, [id(2)]: { EmailAddress: 'b@x.test' } }); // id(3): 404

    const records = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(2000));

    expect(records.map((r) => r.changedFields)).to.deep.equal([undefined, ['EmailAddress']]);
  });

  it('when a listing is throttled, throws ProfileStoreError throttled, tells the fleet (quota) and logs the call with the request', async () => {
    const e = awsError(429, 'ThrottlingException');
    nock(ENDPOINT).post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === 'MERGED').query(true).reply(e.status, e.body, e.headers);
    for (const action of ['CREATED', 'UPDATED']) {
      nock(ENDPOINT).post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === action).query(true).reply(200, { ProfileHistoryRecords: [] });
    }
    const throttled: string[] = [];
    const signal = AbortSignal.timeout(2000);
    const context: RequestContext = { awsCalls: [] };
    bindRequestContext(signal, context);

    const err = await store({ booked: () => undefined, rate: () => undefined, throttled: (op) => throttled.push(op) })
      .history(PROFILE_ID, SINCE, signal)
      .catch((x: unknown) => x);

    expect(err).to.be.instanceOf(ProfileStoreError);
    expect((err as ProfileStoreError).failure).to.equal('throttled');
    expect(throttled).to.deep.equal(['ListProfileHistoryRecords']);
    expect(context.awsCalls.map((c) => `${c.operation} ${c.outcome}`).sort()).to.deep.equal([
      'ListProfileHistoryRecords success',
      'ListProfileHistoryRecords success',
      'ListProfileHistoryRecords throttled',
    ]);
  });

  it('when a listing has more pages than a read pages through, throws HistoryTooLong rather than judge part of it', async () => {
    for (let page = 1; page <= 3; page++) {
      nock(ENDPOINT)
        .post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === 'UPDATED')
        .query(page === 1 ? { 'max-results': '100' } : { 'max-results': '100', 'next-token': `p${page}` })
        .reply(200, { ProfileHistoryRecords: [wire(page, 'UPDATED', page)], NextToken: `p${page + 1}` });
    }
    for (const action of ['CREATED', 'MERGED']) {
      nock(ENDPOINT).post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === action).query(true).reply(200, { ProfileHistoryRecords: [] });
    }

    const err = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(2000)).catch((x: unknown) => x);

    expect(err).to.be.instanceOf(HistoryTooLong);
    expect((err as Error).message).to.equal('ListProfileHistoryRecords: more than 300 UPDATED records');
  });

  it('asks the allowance before every call: a refused listing throws AllowanceSpent, a refused read leaves the fields unknown', async () => {
    listings({ CREATED: [wire(1, 'CREATED', 100)], UPDATED: [wire(2, 'UPDATED', 2)], MERGED: [] });
    const allowed: string[] = [];
    const records = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(2000), (op) => {
      allowed.push(op);
      return Promise.resolve(op === 'ListProfileHistoryRecords');
    });
    expect(allowed.sort()).to.deep.equal([
      'GetProfileHistoryRecord',
      'GetProfileHistoryRecord',
      'ListProfileHistoryRecords',
      'ListProfileHistoryRecords',
      'ListProfileHistoryRecords',
    ]);
    expect(records).to.deep.equal([{ actionType: 'UPDATED', createdAt: NOW - 2 * DAY, objectTypeName: '_profile' }]);

    const err = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(2000), () => Promise.resolve(false)).catch((x: unknown) => x);
    expect(err).to.be.instanceOf(AllowanceSpent);
  });

  it('when a listing hangs, the signal ends it: ProfileStoreError timeout at the deadline', async () => {
    nock(ENDPOINT).post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === 'UPDATED').query(true).delay(5000).reply(200, { ProfileHistoryRecords: [] });
    for (const action of ['CREATED', 'MERGED']) {
      nock(ENDPOINT).post(LIST_PATH, (b: { ActionType?: string }) => b.ActionType === action).query(true).reply(200, { ProfileHistoryRecords: [] });
    }
    const started = Date.now();

    const err = await store().history(PROFILE_ID, SINCE, AbortSignal.timeout(150)).catch((x: unknown) => x);

    expect((err as ProfileStoreError).failure).to.equal('timeout');
    expect(Date.now() - started).to.be.below(1000);
  });
});
