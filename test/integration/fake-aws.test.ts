// The fake must speak the real wire protocol: every check here goes through the real AWS SDK clients.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { mock } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import {
  AddProfileKeyCommand,
  CreateProfileCommand,
  CustomerProfilesClient,
  DeleteProfileObjectTypeCommand,
  FieldSourceProfileIds$,
  GetDomainCommand,
  GetMatchesCommand,
  GetSimilarProfilesCommand,
  MatchType,
  MergeProfilesCommand,
  GetProfileHistoryRecordCommand,
  GetProfileHistoryRecordResponse$,
  GetProfileObjectTypeCommand,
  GetSegmentMembershipCommand,
  ActionType,
  ListCalculatedAttributesForProfileCommand,
  ListProfileHistoryRecordsCommand,
  ListProfileObjectsCommand,
  ProfileHistoryRecord$,
  ListProfileObjectTypesCommand,
  PutProfileObjectCommand,
  PutProfileObjectTypeCommand,
  SearchProfilesCommand,
  UpdateProfileCommand,
  type ListProfileHistoryRecordsCommandInput,
  type ListProfileObjectsCommandInput,
  type SearchProfilesCommandInput,
} from '@aws-sdk/client-customer-profiles';
import { ConnectClient, UpdateContactAttributesCommand } from '@aws-sdk/client-connect';
import { ACCOUNT_THROTTLE_MESSAGE, FakeAws, HISTORY_ACTIONS, MATCH_TYPES, MERGE_SOURCE_FIELDS, OBJECT_THROTTLE_MESSAGE, type QuotaSecond } from '../support/fake-aws.js';
import { until } from '../support/until.js';

const DOMAIN = 'test-domain';
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
type SdkError = Error & { $metadata?: { httpStatusCode?: number } };

async function rejection(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (e) {
    return e as SdkError;
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** [name, HTTP status] of the call's failure */
const failure = async (p: Promise<unknown>): Promise<unknown[]> => { const e = await rejection(p); return [e.name, e.$metadata?.httpStatusCode]; };

/** Every page of a paginated call, following NextToken. */
async function allPages<T>(page: (NextToken: string | undefined) => Promise<{ Items?: T[]; NextToken?: string }>): Promise<T[][]> {
  const pages: T[][] = [];
  let token: string | undefined;
  do {
    const out = await page(token);
    pages.push(out.Items ?? []);
    token = out.NextToken;
  } while (token);
  return pages;
}

async function elapsed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// A profile-keyed CTR-like object type: PROFILE via _profileId, UNIQUE via _ctrContactId.
const CONTACT_TYPE = {
  DomainName: DOMAIN,
  ObjectTypeName: 'ContactRecord',
  Description: 'contacts stamped by the resolver',
  AllowProfileCreation: false,
  Fields: {
    profileId: { Source: '_source.profileId', Target: '_profile.ProfileId', ContentType: 'STRING' as const },
    contactId: { Source: '_source.contactId', Target: '_profile.Attributes.lastContactId', ContentType: 'STRING' as const },
  },
  Keys: {
    _profileId: [{ StandardIdentifiers: ['PROFILE' as const], FieldNames: ['profileId'] }],
    _ctrContactId: [{ StandardIdentifiers: ['UNIQUE' as const], FieldNames: ['contactId'] }],
  },
};

describe('FakeAws (Customer Profiles + Connect fake) through the real AWS SDK', function () {
  const fake = new FakeAws();
  let client: CustomerProfilesClient;
  let connect: ConnectClient;

  before(async function () {
    await fake.start();
    client = new CustomerProfilesClient({ region: 'us-east-1', credentials, endpoint: fake.url, maxAttempts: 1 });
    connect = new ConnectClient({ region: 'us-east-1', credentials, endpoint: fake.url, maxAttempts: 1 });
  });
  after(async function () {
    client.destroy();
    connect.destroy();
    await fake.stop();
  });
  beforeEach(function () {
    fake.reset();
    fake.setLatency(0);
  });

  const search = (input: Omit<SearchProfilesCommandInput, 'DomainName'>) =>
    client.send(new SearchProfilesCommand({ DomainName: DOMAIN, ...input }));
  const listObjects = (input: Omit<ListProfileObjectsCommandInput, 'DomainName'>) =>
    client.send(new ListProfileObjectsCommand({ DomainName: DOMAIN, ...input }));
  const listCalculated = (ProfileId: string, more: { MaxResults?: number; NextToken?: string | undefined; DomainName?: string } = {}) =>
    client.send(new ListCalculatedAttributesForProfileCommand({ DomainName: DOMAIN, ProfileId, ...more }));
  const membership = (ProfileIds: string[], SegmentDefinitionName = 'vip', DomainName = DOMAIN) =>
    client.send(new GetSegmentMembershipCommand({ DomainName, SegmentDefinitionName, ProfileIds }));

  describe('GetDomain', function () {
    it('returns the domain with DefaultExpirationDays 366, Date timestamps and the configured DLQ/key', async function () {
      // a domain made now: the suite's own domain was made when the file started, minutes ago on a busy run
      const name = `made-now-${Date.now()}`;
      fake.setDomain(name, { deadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/dlq', defaultEncryptionKey: 'arn:kms:key' });
      const out = await client.send(new GetDomainCommand({ DomainName: name }));
      expect(out.DomainName).to.equal(name);
      expect(out.DefaultExpirationDays).to.equal(366);
      expect(out.DeadLetterQueueUrl).to.equal('https://sqs.us-east-1.amazonaws.com/1/dlq');
      expect(out.DefaultEncryptionKey).to.equal('arn:kms:key');
      expect(out.CreatedAt).to.be.instanceOf(Date);
      expect(Math.abs(out.CreatedAt!.getTime() - Date.now())).to.be.below(60_000);
      expect(fake.callsTo('GetDomain')).to.have.length(1);
      expect(fake.calls[0]).to.include({ service: 'profiles', operation: 'GetDomain', domain: name, status: 200 });
    });

    it('fails with ResourceNotFoundException 404 for an unknown domain', async function () {
      const err = await rejection(client.send(new GetDomainCommand({ DomainName: 'nope' })));
      expect(err.name).to.equal('ResourceNotFoundException');
      expect(err.$metadata?.httpStatusCode).to.equal(404);
    });
  });

  describe('CreateProfile / UpdateProfile', function () {
    it('creates a profile with a 32-hex ProfileId and stores the given fields', async function () {
      const out = await client.send(new CreateProfileCommand({
        DomainName: DOMAIN, FirstName: 'Ada', PhoneNumber: '+14255550123', PartyTypeString: 'INDIVIDUAL', Attributes: { tier: 'gold' },
      }));
      expect(out.ProfileId).to.match(/^[0-9a-f]{32}$/);
      expect(fake.profiles()).to.deep.equal([{
        ProfileId: out.ProfileId, FirstName: 'Ada', PhoneNumber: '+14255550123', PartyTypeString: 'INDIVIDUAL', Attributes: { tier: 'gold' },
      }]);
    });

    it('updates fields, merges Attributes ("" removes), and 404s for an unknown profile', async function () {
      const p = fake.seedProfile({ FirstName: 'Ada', LastName: 'L', Attributes: { a: '1', b: '2' } });
      const out = await client.send(new UpdateProfileCommand({
        DomainName: DOMAIN, ProfileId: p.ProfileId, FirstName: 'Grace', LastName: '', Attributes: { b: '', c: '3' },
      }));
      expect(out.ProfileId).to.equal(p.ProfileId);
      expect(fake.profiles()[0]).to.deep.equal({ ProfileId: p.ProfileId, FirstName: 'Grace', Attributes: { a: '1', c: '3' } });
      const err = await rejection(client.send(new UpdateProfileCommand({ DomainName: DOMAIN, ProfileId: 'f'.repeat(32) })));
      expect([err.name, err.$metadata?.httpStatusCode]).to.deep.equal(['ResourceNotFoundException', 404]);
    });
  });

  describe('SearchProfiles', function () {
    it('matches phone numbers exactly: stored 4255550123 is found by [+14255550123, 4255550123] but not [+14255550123]', async function () {
      const p = fake.seedProfile({ FirstName: 'Ada', MobilePhoneNumber: '4255550123' });
      const both = await search({ KeyName: '_phone', Values: ['+14255550123', '4255550123'] });
      expect(both.Items?.map((i) => i.ProfileId)).to.deep.equal([p.ProfileId]);
      expect(both.Items?.[0]?.FirstName).to.equal('Ada');
      expect(both.Items?.[0]?.FoundByItems).to.deep.equal([{ KeyName: '_phone', Values: ['4255550123'] }]);
      const e164Only = await search({ KeyName: '_phone', Values: ['+14255550123'] });
      expect(e164Only.Items ?? []).to.have.length(0);
      expect(e164Only.NextToken).to.equal(undefined);
    });

    it('maps _phone to all 4 phone fields, _email to all 3 email fields, _account and _profileId', async function () {
      const phones = ['PhoneNumber', 'MobilePhoneNumber', 'HomePhoneNumber', 'BusinessPhoneNumber'].map((f, i) => fake.seedProfile({ [f]: `+1000${i}` }));
      const emails = ['EmailAddress', 'PersonalEmailAddress', 'BusinessEmailAddress'].map((f, i) => fake.seedProfile({ [f]: `e${i}@x.test` }));
      const acct = fake.seedProfile({ AccountNumber: 'ACC-1', EmailAddress: 'Other@X.test' });
      const ids = async (KeyName: string, Values: string[]) => (await search({ KeyName, Values })).Items?.map((i) => i.ProfileId) ?? [];
      expect(await ids('_phone', ['+10000', '+10001', '+10002', '+10003'])).to.deep.equal(phones.map((p) => p.ProfileId));
      expect(await ids('_email', ['e0@x.test', 'e1@x.test', 'e2@x.test'])).to.deep.equal(emails.map((p) => p.ProfileId));
      expect(await ids('_email', ['other@x.test'])).to.deep.equal([]); // exact, case-sensitive
      expect(await ids('_account', ['ACC-1'])).to.deep.equal([acct.ProfileId]);
      expect(await ids('_profileId', [acct.ProfileId])).to.deep.equal([acct.ProfileId]);
      expect(await ids('PhoneNumber', ['+10000'])).to.deep.equal([]); // field names are not search keys
    });

    it('combines AdditionalSearchKeys with OR by default and with AND when asked', async function () {
      const a = fake.seedProfile({ PhoneNumber: '+1111', AccountNumber: 'A' });
      const b = fake.seedProfile({ PhoneNumber: '+1111', AccountNumber: 'B' });
      const c = fake.seedProfile({ PhoneNumber: '+2222', AccountNumber: 'A' });
      const base = { KeyName: '_phone', Values: ['+1111'], AdditionalSearchKeys: [{ KeyName: '_account', Values: ['A'] }] };
      const or = await search(base);
      expect(or.Items?.map((i) => i.ProfileId)).to.deep.equal([a.ProfileId, b.ProfileId, c.ProfileId]);
      const and = await search({ ...base, LogicalOperator: 'AND' });
      expect(and.Items?.map((i) => i.ProfileId)).to.deep.equal([a.ProfileId]);
      expect(and.Items?.[0]?.FoundByItems).to.deep.equal([{ KeyName: '_phone', Values: ['+1111'] }, { KeyName: '_account', Values: ['A'] }]);
    });

    it('pages with max-results (default 20) and NextToken, without duplicates', async function () {
      for (let i = 0; i < 25; i++) fake.seedProfile({ PhoneNumber: '+1555' });
      const first = await search({ KeyName: '_phone', Values: ['+1555'] });
      expect(first.Items).to.have.length(20);
      expect(first.NextToken).to.be.a('string');
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await search({ KeyName: '_phone', Values: ['+1555'], MaxResults: 10, NextToken: token });
        expect(page.Items!.length).to.be.at.most(10);
        seen.push(...page.Items!.map((i) => i.ProfileId!));
        token = page.NextToken;
      } while (token);
      expect(new Set(seen).size).to.equal(25);
      const q = fake.callsTo('SearchProfiles');
      expect(q).to.have.length(4);
    });

    it('rejects a missing KeyName/Values or max-results > 100 with BadRequestException 400, unknown domain with 404', async function () {
      const noValues = await rejection(search({ KeyName: '_phone', Values: undefined }));
      expect([noValues.name, noValues.$metadata?.httpStatusCode]).to.deep.equal(['BadRequestException', 400]);
      const noKey = await rejection(search({ KeyName: undefined, Values: ['x'] }));
      expect([noKey.name, noKey.$metadata?.httpStatusCode]).to.deep.equal(['BadRequestException', 400]);
      const tooMany = await rejection(search({ KeyName: '_phone', Values: ['x'], MaxResults: 101 }));
      expect(tooMany.name).to.equal('BadRequestException');
      // the model: KeyName [a-zA-Z0-9_-]{1,64}, values 1-255 chars, AdditionalSearchKeys 1 to 4
      const bad = ['BadRequestException', 400];
      expect(await failure(search({ KeyName: 'not a key', Values: ['x'] }))).to.deep.equal(bad);
      expect(await failure(search({ KeyName: 'k'.repeat(65), Values: ['x'] }))).to.deep.equal(bad);
      expect(await failure(search({ KeyName: '_phone', Values: ['x'.repeat(256)] }))).to.deep.equal(bad);
      expect(await failure(search({ KeyName: '_phone', Values: ['x'], AdditionalSearchKeys: [] }))).to.deep.equal(bad);
      const five = Array.from({ length: 5 }, () => ({ KeyName: '_email', Values: ['x'] }));
      expect(await failure(search({ KeyName: '_phone', Values: ['x'], AdditionalSearchKeys: five }))).to.deep.equal(bad);
      expect((await search({ KeyName: '_phone', Values: ['x'.repeat(255)], AdditionalSearchKeys: five.slice(1) })).Items).to.deep.equal([]);
      const domain = await rejection(client.send(new SearchProfilesCommand({ DomainName: 'other', KeyName: '_phone', Values: ['x'] })));
      expect([domain.name, domain.$metadata?.httpStatusCode]).to.deep.equal(['ResourceNotFoundException', 404]);
    });
  });

  describe('AddProfileKey', function () {
    it('adds a searchable key (e.g. _ctrContactId) to a profile and 404s for an unknown profile', async function () {
      const p = fake.seedProfile({ FirstName: 'Ada' });
      const out = await client.send(new AddProfileKeyCommand({ DomainName: DOMAIN, ProfileId: p.ProfileId, KeyName: '_ctrContactId', Values: ['c-1'] }));
      expect(out).to.include({ KeyName: '_ctrContactId' });
      expect(out.Values).to.deep.equal(['c-1']);
      expect(fake.profileKeys(p.ProfileId)).to.deep.equal([{ keyName: '_ctrContactId', values: ['c-1'] }]);
      const found = await search({ KeyName: '_ctrContactId', Values: ['c-1'] });
      expect(found.Items?.map((i) => i.ProfileId)).to.deep.equal([p.ProfileId]);
      const err = await rejection(client.send(new AddProfileKeyCommand({ DomainName: DOMAIN, ProfileId: 'a'.repeat(32), KeyName: 'k', Values: ['v'] })));
      expect([err.name, err.$metadata?.httpStatusCode]).to.deep.equal(['ResourceNotFoundException', 404]);
    });
  });

  describe('profile object types', function () {
    it('puts, gets, lists and deletes a type, with CreatedAt/LastUpdatedAt parsed as Dates; get after delete is 404', async function () {
      const put = await client.send(new PutProfileObjectTypeCommand(CONTACT_TYPE));
      expect(put.ObjectTypeName).to.equal('ContactRecord');
      expect(put.Keys).to.deep.equal(CONTACT_TYPE.Keys);
      expect(put.CreatedAt).to.be.instanceOf(Date);
      const got = await client.send(new GetProfileObjectTypeCommand({ DomainName: DOMAIN, ObjectTypeName: 'ContactRecord' }));
      expect(got.Fields).to.deep.equal(CONTACT_TYPE.Fields);
      expect(got.Description).to.equal(CONTACT_TYPE.Description);
      expect(got.LastUpdatedAt?.getTime()).to.equal(put.LastUpdatedAt?.getTime());
      const list = await client.send(new ListProfileObjectTypesCommand({ DomainName: DOMAIN }));
      expect(list.Items?.map((i) => i.ObjectTypeName)).to.deep.equal(['ContactRecord']);
      expect(list.Items?.[0]?.CreatedAt).to.be.instanceOf(Date);
      const del = await client.send(new DeleteProfileObjectTypeCommand({ DomainName: DOMAIN, ObjectTypeName: 'ContactRecord' }));
      expect(del.Message).to.be.a('string');
      const err = await rejection(client.send(new GetProfileObjectTypeCommand({ DomainName: DOMAIN, ObjectTypeName: 'ContactRecord' })));
      expect([err.name, err.$metadata?.httpStatusCode]).to.deep.equal(['ResourceNotFoundException', 404]);
    });
  });

  describe('PutProfileObject', function () {
    beforeEach(async function () {
      await client.send(new PutProfileObjectTypeCommand(CONTACT_TYPE));
    });
    const putContact = (profileId: string, contactId: string, extra: Record<string, unknown> = {}) =>
      client.send(new PutProfileObjectCommand({
        DomainName: DOMAIN, ObjectTypeName: 'ContactRecord', Object: JSON.stringify({ profileId, contactId, ...extra }),
      }));

    it('attaches the object to the profile named by its PROFILE key, maps _profile targets and indexes _ctrContactId', async function () {
      const p = fake.seedProfile({ FirstName: 'Ada' });
      const out = await putContact(p.ProfileId, 'c-1', { channel: 'VOICE' });
      expect(out.ProfileObjectUniqueKey).to.be.a('string').and.not.equal('');
      const objs = fake.objects('ContactRecord');
      expect(objs).to.have.length(1);
      expect(objs[0]).to.deep.include({ profileId: p.ProfileId, objectTypeName: 'ContactRecord', uniqueKey: out.ProfileObjectUniqueKey });
      expect(objs[0]?.object).to.deep.equal({ profileId: p.ProfileId, contactId: 'c-1', channel: 'VOICE' });
      expect(fake.profiles()[0]?.Attributes).to.deep.equal({ lastContactId: 'c-1' });
      const byContact = await search({ KeyName: '_ctrContactId', Values: ['c-1'] });
      expect(byContact.Items?.map((i) => i.ProfileId)).to.deep.equal([p.ProfileId]);
    });

    it('fails with ResourceNotFoundException for an unknown object type and BadRequestException when no profile matches', async function () {
      const unknownType = await rejection(client.send(new PutProfileObjectCommand({ DomainName: DOMAIN, ObjectTypeName: 'Nope', Object: '{}' })));
      expect([unknownType.name, unknownType.$metadata?.httpStatusCode]).to.deep.equal(['ResourceNotFoundException', 404]);
      const noProfile = await rejection(putContact('0'.repeat(32), 'c-1'));
      expect([noProfile.name, noProfile.$metadata?.httpStatusCode]).to.deep.equal(['BadRequestException', 400]);
      expect(fake.objects()).to.deep.equal([]);
    });

    it('creates the profile (mapping _profile targets) when no profile matches and the type has AllowProfileCreation', async function () {
      await client.send(new PutProfileObjectTypeCommand({ ...CONTACT_TYPE, ObjectTypeName: 'Creating', AllowProfileCreation: true }));
      await client.send(new PutProfileObjectCommand({
        DomainName: DOMAIN, ObjectTypeName: 'Creating', Object: JSON.stringify({ profileId: 'unknown', contactId: 'c-9' }),
      }));
      const [created, ...others] = fake.profiles();
      expect(others).to.deep.equal([]);
      expect(created?.Attributes).to.deep.equal({ lastContactId: 'c-9' });
      expect(fake.objects('Creating').map((o) => o.profileId)).to.deep.equal([created?.ProfileId]);
    });

    it('replaces the stored object when the UNIQUE key repeats (one object, same unique key)', async function () {
      const relaxed = new FakeAws({ profileWriteIntervalMs: 0 });
      const url = await relaxed.start();
      const c = new CustomerProfilesClient({ region: 'us-east-1', credentials, endpoint: url, maxAttempts: 1 });
      try {
        await c.send(new PutProfileObjectTypeCommand(CONTACT_TYPE));
        const p = relaxed.seedProfile({});
        const put = (contactId: string, v: number) => c.send(new PutProfileObjectCommand({
          DomainName: DOMAIN, ObjectTypeName: 'ContactRecord', Object: JSON.stringify({ profileId: p.ProfileId, contactId, v }),
        }));
        const first = await put('c-1', 1);
        const second = await put('c-1', 2);
        const other = await put('c-2', 3);
        expect(second.ProfileObjectUniqueKey).to.equal(first.ProfileObjectUniqueKey);
        expect(other.ProfileObjectUniqueKey).to.not.equal(first.ProfileObjectUniqueKey);
        expect(relaxed.objects().map((o) => o.object.v)).to.deep.equal([2, 3]);
      } finally {
        c.destroy();
        await relaxed.stop();
      }
    });

    it('throttles a 2nd PutProfileObject/UpdateProfile on the same profile within 1 s (429, real message), then accepts again', async function () {
      const p = fake.seedProfile({});
      const q = fake.seedProfile({});
      await putContact(p.ProfileId, 'c-1');
      const err = await rejection(putContact(p.ProfileId, 'c-2'));
      expect([err.name, err.$metadata?.httpStatusCode, err.message]).to.deep.equal(['ThrottlingException', 429, OBJECT_THROTTLE_MESSAGE]);
      const upd = await rejection(client.send(new UpdateProfileCommand({ DomainName: DOMAIN, ProfileId: p.ProfileId, FirstName: 'x' })));
      expect(upd.name).to.equal('ThrottlingException');
      await putContact(q.ProfileId, 'c-3'); // another profile is not affected
      expect(fake.callsTo('PutProfileObject').map((c) => c.status)).to.deep.equal([200, 429, 200]);
      expect(fake.objects().map((o) => o.object.contactId)).to.deep.equal(['c-1', 'c-3']);
      // the point of the test: the profile's second passes (what is left of it since the first write)
      await sleep(1050 - (Date.now() - fake.callsTo('PutProfileObject')[0]!.at));
      await putContact(p.ProfileId, 'c-2');
      expect(fake.objects()).to.have.length(3);
    });
  });

  describe('ListCalculatedAttributesForProfile', function () {
    it('lists the seeded attributes by name: DisplayName defaults to the name, IsDataPartial "false", LastObjectTimestamp a Date', async function () {
      const p = fake.seedProfile({ FirstName: 'Ada' });
      fake.seedCalculatedAttributes(p.ProfileId, { ltv: '120', _orders: '3' });
      fake.seedCalculatedAttributes(p.ProfileId, { churn: '0.2' },
        { displayNames: { churn: 'Churn risk' }, isDataPartial: true, lastObjectTimestamp: new Date('2025-01-02T03:04:05Z') });
      const out = await listCalculated(p.ProfileId);
      expect(out.Items).to.deep.equal([
        { CalculatedAttributeName: '_orders', DisplayName: '_orders', IsDataPartial: 'false', Value: '3' },
        { CalculatedAttributeName: 'churn', DisplayName: 'Churn risk', IsDataPartial: 'true', Value: '0.2', LastObjectTimestamp: new Date('2025-01-02T03:04:05Z') },
        { CalculatedAttributeName: 'ltv', DisplayName: 'ltv', IsDataPartial: 'false', Value: '120' },
      ]);
      expect(out.NextToken).to.equal(undefined);
      expect((await listCalculated(fake.seedProfile({}).ProfileId)).Items).to.deep.equal([]);
      expect(fake.callsTo('ListCalculatedAttributesForProfile').map((c) => [c.domain, c.status])).to.deep.equal([[DOMAIN, 200], [DOMAIN, 200]]);
    });

    it('pages with max-results (default 20) and NextToken, without duplicates', async function () {
      const p = fake.seedProfile({});
      fake.seedCalculatedAttributes(p.ProfileId, Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`a${String(i).padStart(2, '0')}`, String(i)])));
      expect((await listCalculated(p.ProfileId)).Items).to.have.length(20);
      const pages = await allPages((NextToken) => listCalculated(p.ProfileId, { MaxResults: 10, NextToken }));
      expect(pages.map((pg) => pg.length)).to.deep.equal([10, 10, 5]);
      expect(new Set(pages.flat().map((i) => i.CalculatedAttributeName)).size).to.equal(25);
    });

    it('is 404 for an unknown profile or domain, 400 for max-results 0 or 101 and for a ProfileId that is not 32 hex digits', async function () {
      const p = fake.seedProfile({});
      expect(await failure(listCalculated('f'.repeat(32)))).to.deep.equal(['ResourceNotFoundException', 404]);
      expect(await failure(listCalculated(p.ProfileId, { DomainName: 'other' }))).to.deep.equal(['ResourceNotFoundException', 404]);
      expect(await failure(listCalculated(p.ProfileId, { MaxResults: 0 }))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(listCalculated(p.ProfileId, { MaxResults: 101 }))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(listCalculated('not-a-profile-id'))).to.deep.equal(['BadRequestException', 400]);
      expect(() => fake.seedCalculatedAttributes('0'.repeat(32), { a: '1' })).to.throw(/unknown profile/);
    });
  });

  describe('ListProfileObjects', function () {
    beforeEach(async function () {
      await client.send(new PutProfileObjectTypeCommand(CONTACT_TYPE));
    });
    const contactIds = (items: Array<{ Object?: string }> | undefined) =>
      (items ?? []).map((i) => (JSON.parse(i.Object ?? '{}') as { contactId?: string }).contactId);

    it('lists the profile\'s objects of the type that PutProfileObject stored and seedObject seeded, Object as a JSON string', async function () {
      const p = fake.seedProfile({});
      const q = fake.seedProfile({});
      const put = await client.send(new PutProfileObjectCommand({
        DomainName: DOMAIN, ObjectTypeName: 'ContactRecord', Object: JSON.stringify({ profileId: p.ProfileId, contactId: 'c-1' }),
      }));
      const seeded = fake.seedObject(p.ProfileId, 'ContactRecord', { profileId: p.ProfileId, contactId: 'c-2', channel: 'CHAT' }, 'key-2');
      fake.seedObject(q.ProfileId, 'ContactRecord', { profileId: q.ProfileId, contactId: 'c-3' }); // another profile
      fake.seedObject(p.ProfileId, 'Order', { orderId: 'o-1' }); // another type
      const out = await listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: p.ProfileId });
      expect(out.Items?.map((i) => i.ObjectTypeName)).to.deep.equal(['ContactRecord', 'ContactRecord']);
      expect(out.Items?.map((i) => i.ProfileObjectUniqueKey)).to.have.members([put.ProfileObjectUniqueKey, 'key-2']);
      expect(out.Items?.find((i) => i.ProfileObjectUniqueKey === 'key-2')?.Object).to.equal(JSON.stringify(seeded.object));
      expect(out.NextToken).to.equal(undefined);
      expect(fake.objects('ContactRecord')).to.have.length(3);
    });

    it('orders Items neither oldest- nor newest-first (the API documents no order): [t1, tn-1, t0, t2, ...]', async function () {
      const order = async (n: number) => {
        const p = fake.seedProfile({});
        for (let i = 0; i < n; i++) fake.seedObject(p.ProfileId, 'ContactRecord', { profileId: p.ProfileId, contactId: `t${i}` });
        return contactIds((await listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: p.ProfileId })).Items);
      };
      expect(await order(5)).to.deep.equal(['t1', 't4', 't0', 't2', 't3']);
      expect(await order(3)).to.deep.equal(['t1', 't2', 't0']);
      expect(await order(2)).to.deep.equal(['t0', 't1']); // Items[0] is not the newest
      expect(await order(1)).to.deep.equal(['t0']);
    });

    it('pages with max-results and NextToken, without duplicates, in the same order as one page', async function () {
      const p = fake.seedProfile({});
      for (let i = 0; i < 7; i++) fake.seedObject(p.ProfileId, 'ContactRecord', { profileId: p.ProfileId, contactId: `c-${i}` });
      const pages = await allPages((NextToken) => listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: p.ProfileId, MaxResults: 3, NextToken }));
      expect(pages.map((pg) => pg.length)).to.deep.equal([3, 3, 1]);
      const whole = await listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: p.ProfileId, MaxResults: 100 });
      expect(contactIds(pages.flat())).to.deep.equal(contactIds(whole.Items));
      expect(new Set(contactIds(whole.Items)).size).to.equal(7);
    });

    it('filters with ObjectFilter on a key of the object type; a KeyName that is not a key, or no Values, is a BadRequestException', async function () {
      const p = fake.seedProfile({});
      for (const c of ['c-1', 'c-2', 'c-3', 'c-4']) fake.seedObject(p.ProfileId, 'ContactRecord', { profileId: p.ProfileId, contactId: c, channel: 'VOICE' });
      const base = { ObjectTypeName: 'ContactRecord', ProfileId: p.ProfileId };
      const out = await listObjects({ ...base, ObjectFilter: { KeyName: '_ctrContactId', Values: ['c-3', 'c-1', 'c-9'] } });
      expect(contactIds(out.Items)).to.have.members(['c-1', 'c-3']);
      expect(await failure(listObjects({ ...base, ObjectFilter: { KeyName: 'channel', Values: ['VOICE'] } }))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(listObjects({ ...base, ObjectFilter: { KeyName: '_ctrContactId', Values: [] } }))).to.deep.equal(['BadRequestException', 400]);
      fake.seedObject(p.ProfileId, 'Adhoc', { a: 1 }); // a type that is only seeded has no keys
      expect(await failure(listObjects({ ...base, ObjectTypeName: 'Adhoc', ObjectFilter: { KeyName: '_a', Values: ['1'] } }))).to.deep.equal(['BadRequestException', 400]);
    });

    it('is 400 for bad input (max-results 101, no or malformed ObjectTypeName, malformed ProfileId) and 404 for an unknown profile, type or domain', async function () {
      const p = fake.seedProfile({});
      fake.seedObject(p.ProfileId, 'Adhoc', { a: 1 });
      expect((await listObjects({ ObjectTypeName: 'Adhoc', ProfileId: p.ProfileId })).Items).to.have.length(1); // seeded only, not defined
      const bad = ['BadRequestException', 400];
      expect(await failure(listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: p.ProfileId, MaxResults: 101 }))).to.deep.equal(bad);
      expect(await failure(listObjects({ ObjectTypeName: undefined, ProfileId: p.ProfileId }))).to.deep.equal(bad);
      expect(await failure(listObjects({ ObjectTypeName: '9-starts-with-a-digit', ProfileId: p.ProfileId }))).to.deep.equal(bad);
      expect(await failure(listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: 'P-1' }))).to.deep.equal(bad);
      const missing = ['ResourceNotFoundException', 404];
      expect(await failure(listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: 'f'.repeat(32) }))).to.deep.equal(missing);
      expect(await failure(listObjects({ ObjectTypeName: 'Nope', ProfileId: p.ProfileId }))).to.deep.equal(missing);
      expect(await failure(client.send(new ListProfileObjectsCommand({ DomainName: 'other', ObjectTypeName: 'ContactRecord', ProfileId: p.ProfileId }))))
        .to.deep.equal(missing);
    });
  });

  describe('GetSegmentMembership', function () {
    it('answers PRESENT / ABSENT per profile and puts an id without a profile in Failures (Status 404)', async function () {
      const a = fake.seedProfile({});
      const b = fake.seedProfile({});
      const ghost = 'e'.repeat(32);
      fake.seedSegment('vip', [a.ProfileId, ghost]);
      const out = await membership([a.ProfileId, b.ProfileId, ghost]);
      expect(out.SegmentDefinitionName).to.equal('vip');
      expect(out.Profiles).to.deep.equal([{ ProfileId: a.ProfileId, QueryResult: 'PRESENT' }, { ProfileId: b.ProfileId, QueryResult: 'ABSENT' }]);
      expect(out.Failures?.map((f) => [f.ProfileId, f.Status])).to.deep.equal([[ghost, 404]]);
      expect(out.Failures?.[0]?.Message).to.be.a('string').and.not.equal('');
      expect(out.LastComputedAt).to.be.instanceOf(Date);
      fake.seedSegment('vip', [b.ProfileId]); // redefined: exactly these members
      expect((await membership([a.ProfileId, b.ProfileId])).Profiles?.map((r) => r.QueryResult)).to.deep.equal(['ABSENT', 'PRESENT']);
    });

    it('answers LastComputedAt (the response\'s, not a profile\'s) as seeded with computedAt, by seedSegment or a seed document', async function () {
      const a = fake.seedProfile({});
      fake.seedSegment('vip', [a.ProfileId], undefined, { computedAt: new Date('2026-11-30T06:00:00Z') });
      const out = await membership([a.ProfileId]);
      expect(out.LastComputedAt?.toISOString()).to.equal('2026-11-30T06:00:00.000Z');
      expect(out.Profiles).to.deep.equal([{ ProfileId: a.ProfileId, QueryResult: 'PRESENT' }]);
      fake.seedDocument({ segments: [{ name: 'vip', profileIds: [a.ProfileId], computedAt: Date.parse('2026-11-29T06:00:00Z') }] });
      expect((await membership([a.ProfileId])).LastComputedAt?.toISOString()).to.equal('2026-11-29T06:00:00.000Z');
    });

    it('is 404 for an unknown segment or domain, 400 for a malformed name or ProfileIds outside 1..100 or not 32 hex digits', async function () {
      const a = fake.seedProfile({});
      fake.seedSegment('vip', [a.ProfileId]);
      fake.seedSegment('elsewhere', [a.ProfileId], 'other-domain');
      const missing = ['ResourceNotFoundException', 404];
      expect(await failure(membership([a.ProfileId], 'nope'))).to.deep.equal(missing);
      expect(await failure(membership([a.ProfileId], 'elsewhere'))).to.deep.equal(missing); // defined in another domain
      expect(await failure(membership([a.ProfileId], 'vip', 'unknown-domain'))).to.deep.equal(missing);
      const bad = ['BadRequestException', 400];
      expect(await failure(membership([a.ProfileId], 'not a name'))).to.deep.equal(bad);
      expect(await failure(membership([]))).to.deep.equal(bad);
      expect(await failure(membership(Array.from({ length: 101 }, () => a.ProfileId)))).to.deep.equal(bad);
      expect(await failure(membership(['P-1']))).to.deep.equal(bad);
      expect((await membership(Array.from({ length: 100 }, () => a.ProfileId))).Profiles).to.have.length(100);
    });
  });

  describe('profile history: ListProfileHistoryRecords / GetProfileHistoryRecord', function () {
    const DAY = 86_400_000;
    const listHistory = (input: Omit<ListProfileHistoryRecordsCommandInput, 'DomainName'>, c = client, DomainName = DOMAIN) =>
      c.send(new ListProfileHistoryRecordsCommand({ DomainName, ...input }));
    const getRecord = (ProfileId: string, Id: string, c = client) =>
      c.send(new GetProfileHistoryRecordCommand({ DomainName: DOMAIN, ProfileId, Id }));

    it('the fake\'s ActionType values are the SDK\'s (the model\'s enum: INGESTED, not INGESTION)', function () {
      expect([...HISTORY_ACTIONS].sort()).to.deep.equal(Object.values(ActionType).sort());
    });

    it('records CreateProfile, UpdateProfile, AddProfileKey and PutProfileObject as CREATED, UPDATED, ADDED_PROFILE_KEY, INGESTED, each with its Content', async function () {
      const relaxed = new FakeAws({ profileWriteIntervalMs: 0 }); // UpdateProfile and PutProfileObject on one profile in one second
      const c = new CustomerProfilesClient({ region: 'us-east-1', credentials, endpoint: await relaxed.start(), maxAttempts: 1 });
      try {
        await c.send(new PutProfileObjectTypeCommand(CONTACT_TYPE));
        const { ProfileId } = await c.send(new CreateProfileCommand({ DomainName: DOMAIN, PhoneNumber: '+14255550100', FirstName: 'Ada' }));
        await c.send(new UpdateProfileCommand({ DomainName: DOMAIN, ProfileId, PhoneNumber: '+14255550199', Address: { City: 'Leeds' } }));
        await c.send(new AddProfileKeyCommand({ DomainName: DOMAIN, ProfileId, KeyName: '_ctrContactId', Values: ['c-1'] }));
        const object = JSON.stringify({ profileId: ProfileId, contactId: 'c-1' });
        const put = await c.send(new PutProfileObjectCommand({ DomainName: DOMAIN, ObjectTypeName: 'ContactRecord', Object: object }));

        const out = await listHistory({ ProfileId }, c);
        const byAction = new Map((out.ProfileHistoryRecords ?? []).map((r) => [r.ActionType, r]));
        expect([...byAction.keys()].sort()).to.deep.equal(['ADDED_PROFILE_KEY', 'CREATED', 'INGESTED', 'UPDATED']);
        expect(out.NextToken).to.equal(undefined);
        for (const r of byAction.values()) {
          expect(r.Id).to.match(/^[a-f0-9]{32}$/);
          expect(r.CreatedAt).to.be.instanceOf(Date);
          expect(Math.abs(r.CreatedAt!.getTime() - Date.now())).to.be.below(60_000);
        }
        expect(byAction.get('INGESTED')).to.include({ ObjectTypeName: 'ContactRecord', ProfileObjectUniqueKey: put.ProfileObjectUniqueKey });
        expect(['CREATED', 'UPDATED', 'ADDED_PROFILE_KEY'].map((a) => byAction.get(a as ActionType)?.ObjectTypeName)).to.deep.equal(['_profile', '_profile', '_profile']);

        const content = async (a: ActionType) => (await getRecord(ProfileId!, byAction.get(a)!.Id!, c)).Content;
        expect(JSON.parse((await content('CREATED'))!)).to.deep.equal({ ProfileId, PhoneNumber: '+14255550100', FirstName: 'Ada' });
        // the whole profile as the update left it (the reference: "the customer profile ... content")
        expect(JSON.parse((await content('UPDATED'))!)).to.deep.equal({ ProfileId, PhoneNumber: '+14255550199', FirstName: 'Ada', Address: { City: 'Leeds' } });
        expect(JSON.parse((await content('ADDED_PROFILE_KEY'))!)).to.deep.equal({ KeyName: '_ctrContactId', Values: ['c-1'] });
        expect(await content('INGESTED')).to.equal(object);
        const got = await getRecord(ProfileId!, byAction.get('UPDATED')!.Id!, c);
        expect(got).to.deep.include({ Id: byAction.get('UPDATED')!.Id, ActionType: 'UPDATED', ObjectTypeName: '_profile' });
        expect(got.CreatedAt?.getTime()).to.equal(byAction.get('UPDATED')!.CreatedAt!.getTime());
        // a failed write records nothing
        await rejection(c.send(new UpdateProfileCommand({ DomainName: DOMAIN, ProfileId: 'f'.repeat(32), FirstName: 'x' })));
        expect(relaxed.history(ProfileId!)).to.have.length(4);
      } finally {
        c.destroy();
        await relaxed.stop();
      }
    });

    it('answers in the model\'s shapes: every wire member is one of the SDK schema\'s, the required ones present, timestamps in epoch seconds', async function () {
      const p = fake.seedProfile({});
      fake.seedHistory(p.ProfileId, [{ actionType: 'INGESTED', createdAt: 1_700_000_000_000, objectTypeName: 'Order', content: { id: 1 },
        profileObjectUniqueKey: 'k-1', performedBy: 'arn:aws:iam::111122223333:role/etl' }]);
      const post = await fetch(`${fake.url}/domains/${DOMAIN}/profiles/history-records`, { method: 'POST', body: JSON.stringify({ ProfileId: p.ProfileId }) });
      const list = (await post.json()) as { ProfileHistoryRecords: Array<Record<string, unknown>> };
      const [item] = list.ProfileHistoryRecords;
      const get = (await (await fetch(`${fake.url}/domains/${DOMAIN}/profiles/${p.ProfileId}/history-records/${String(item!.Id)}`)).json()) as Record<string, unknown>;
      for (const [schema, wire] of [[ProfileHistoryRecord$, item!], [GetProfileHistoryRecordResponse$, get]] as const) {
        const [, , name, , members, , required = 0] = schema;
        expect(Object.keys(wire).filter((k) => !members.includes(k)), `${name}: members not in the model`).to.deep.equal([]);
        expect(members.slice(0, required).filter((k) => wire[k] === undefined), `${name}: required members missing`).to.deep.equal([]);
      }
      expect([item!.CreatedAt, get.Content, get.PerformedBy]).to.deep.equal([1_700_000_000, '{"id":1}', 'arn:aws:iam::111122223333:role/etl']);
    });

    it('orders records neither newest- nor oldest-first (the API documents no order), pages with max-results without duplicates', async function () {
      const p = fake.seedProfile({});
      const t0 = Date.now() - 30 * DAY;
      fake.seedHistory(p.ProfileId, Array.from({ length: 7 }, (_, i) => ({ actionType: 'UPDATED' as const, createdAt: t0 + i * DAY, content: { n: i } })));
      const whole = await listHistory({ ProfileId: p.ProfileId });
      const days = (rs: typeof whole.ProfileHistoryRecords) => (rs ?? []).map((r) => Math.round((r.CreatedAt!.getTime() - t0) / DAY));
      expect(days(whole.ProfileHistoryRecords)).to.deep.equal([1, 6, 0, 2, 3, 4, 5]);
      const pages = await allPages(async (NextToken) => {
        const out = await listHistory({ ProfileId: p.ProfileId, MaxResults: 3, NextToken });
        return { Items: out.ProfileHistoryRecords, NextToken: out.NextToken };
      });
      expect(pages.map((pg) => pg.length)).to.deep.equal([3, 3, 1]);
      expect(days(pages.flat())).to.deep.equal(days(whole.ProfileHistoryRecords));
      for (let i = 0; i < 25; i++) fake.seedHistory(p.ProfileId, [{ actionType: 'INGESTED', createdAt: t0, objectTypeName: 'Order' }]);
      expect((await listHistory({ ProfileId: p.ProfileId })).ProfileHistoryRecords).to.have.length(20); // the fake's default: the model gives none
      expect((await listHistory({ ProfileId: p.ProfileId, MaxResults: 100 })).ProfileHistoryRecords).to.have.length(32);
    });

    it('filters by ActionType, ObjectTypeName and PerformedBy, together', async function () {
      const p = fake.seedProfile({});
      const at = Date.now() - DAY;
      fake.seedHistory(p.ProfileId, [
        { actionType: 'UPDATED', createdAt: at, performedBy: 'arn:a' },
        { actionType: 'UPDATED', createdAt: at, performedBy: 'arn:b' },
        { actionType: 'MERGED', createdAt: at, performedBy: 'arn:a' },
        { actionType: 'INGESTED', createdAt: at, objectTypeName: 'Order', performedBy: 'arn:a' },
      ]);
      const actions = async (input: Omit<ListProfileHistoryRecordsCommandInput, 'DomainName' | 'ProfileId'>) =>
        ((await listHistory({ ProfileId: p.ProfileId, ...input })).ProfileHistoryRecords ?? []).map((r) => `${r.ActionType}/${r.ObjectTypeName}/${r.PerformedBy}`).sort();
      expect(await actions({ ActionType: 'UPDATED' })).to.deep.equal(['UPDATED/_profile/arn:a', 'UPDATED/_profile/arn:b']);
      expect(await actions({ ObjectTypeName: 'Order' })).to.deep.equal(['INGESTED/Order/arn:a']);
      expect(await actions({ PerformedBy: 'arn:a', ObjectTypeName: '_profile' })).to.deep.equal(['MERGED/_profile/arn:a', 'UPDATED/_profile/arn:a']);
      expect(await actions({ ActionType: 'EXPIRED' })).to.deep.equal([]);
    });

    it('is 400 for bad input (ProfileId, ActionType outside the enum, max-results 0 or 101, record Id) and 404 for an unknown profile, record or domain', async function () {
      const p = fake.seedProfile({});
      const [r] = fake.seedHistory(p.ProfileId, [{ actionType: 'CREATED', createdAt: Date.now() }]);
      const bad = ['BadRequestException', 400];
      expect(await failure(listHistory({ ProfileId: 'P-1' }))).to.deep.equal(bad);
      expect(await failure(listHistory({ ProfileId: p.ProfileId, ActionType: 'INGESTION' as ActionType }))).to.deep.equal(bad);
      expect(await failure(listHistory({ ProfileId: p.ProfileId, MaxResults: 0 }))).to.deep.equal(bad);
      expect(await failure(listHistory({ ProfileId: p.ProfileId, MaxResults: 101 }))).to.deep.equal(bad);
      expect(await failure(listHistory({ ProfileId: p.ProfileId, ObjectTypeName: '9-no' }))).to.deep.equal(bad);
      expect(await failure(getRecord(p.ProfileId, 'not-an-id'))).to.deep.equal(bad);
      const missing = ['ResourceNotFoundException', 404];
      expect(await failure(listHistory({ ProfileId: 'f'.repeat(32) }))).to.deep.equal(missing);
      expect(await failure(listHistory({ ProfileId: p.ProfileId }, client, 'other'))).to.deep.equal(missing);
      expect(await failure(getRecord(p.ProfileId, 'e'.repeat(32)))).to.deep.equal(missing);
      expect(await failure(getRecord(fake.seedProfile({}).ProfileId, r!.id))).to.deep.equal(missing); // another profile's record
      expect((await getRecord(p.ProfileId, r!.id)).ActionType).to.equal('CREATED');
      expect(fake.callsTo('ListProfileHistoryRecords').map((c) => c.status)).to.deep.equal([400, 400, 400, 400, 400, 404, 404]);
    });

    it('takes injected faults and hangs by operation name, like every other operation', async function () {
      const p = fake.seedProfile({});
      const [r] = fake.seedHistory(p.ProfileId, [{ actionType: 'UPDATED', createdAt: Date.now(), content: { PhoneNumber: '+1' } }]);
      fake.fail({ status: 429, errorType: 'ThrottlingException', times: 1, operations: ['GetProfileHistoryRecord'] });
      await listHistory({ ProfileId: p.ProfileId }); // not the faulted operation
      expect(await failure(getRecord(p.ProfileId, r!.id))).to.deep.equal(['ThrottlingException', 429]);
      expect((await getRecord(p.ProfileId, r!.id)).Content).to.equal('{"PhoneNumber":"+1"}');
      fake.hang(true, ['ListProfileHistoryRecords']);
      const hung = await rejection(client.send(new ListProfileHistoryRecordsCommand({ DomainName: DOMAIN, ProfileId: p.ProfileId }), { abortSignal: AbortSignal.timeout(150) }));
      expect(hung.name).to.equal('AbortError');
      await getRecord(p.ProfileId, r!.id); // the other operation still answers
      fake.hang(false);
      expect(fake.callsTo('ListProfileHistoryRecords').map((c) => c.status)).to.deep.equal([200, 200]);
    });

    it('seeds records with seedHistory (checked against the model\'s shapes) and with POST /__fake/history; reset() clears them', async function () {
      const p = fake.seedProfile({});
      expect(() => fake.seedHistory(p.ProfileId, [{ actionType: 'INGESTION' as ActionType, createdAt: 0 }])).to.throw(/actionType/);
      expect(() => fake.seedHistory(p.ProfileId, [{ actionType: 'UPDATED', createdAt: 'yesterday' }])).to.throw(/createdAt/);
      expect(() => fake.seedHistory(p.ProfileId, [{ actionType: 'UPDATED', createdAt: 0, objectTypeName: '1bad' }])).to.throw(/objectTypeName/);
      expect(() => fake.seedHistory('0'.repeat(32), [])).to.throw(/unknown profile/);
      const post = (body: unknown) => fetch(`${fake.url}/__fake/history`, { method: 'POST', body: JSON.stringify(body) });
      const threeDaysAgo = new Date(Date.now() - 3 * DAY).toISOString();
      const res = await post({ profileId: p.ProfileId, records: [{ actionType: 'UPDATED', createdAt: threeDaysAgo, content: { PhoneNumber: '+442079460000' } }] });
      const { Ids } = (await res.json()) as { Ids: string[] };
      expect([res.status, Ids.length]).to.deep.equal([200, 1]);
      const [listed] = (await listHistory({ ProfileId: p.ProfileId })).ProfileHistoryRecords ?? [];
      expect([listed?.Id, listed?.ActionType, listed?.CreatedAt?.toISOString()]).to.deep.equal([Ids[0], 'UPDATED', threeDaysAgo]);
      expect((await post({ profileId: p.ProfileId, records: [{ actionType: 'NOPE', createdAt: 0 }] })).status).to.equal(400);
      expect((await post({ profileId: p.ProfileId })).status).to.equal(400);
      fake.reset();
      expect(fake.history(p.ProfileId)).to.deep.equal([]);
    });
  });

  describe('reset() and the enrichment data', function () {
    it('clears calculated attributes, seeded objects and segment members; keeps object types and segment definitions', async function () {
      await client.send(new PutProfileObjectTypeCommand(CONTACT_TYPE));
      const seed = () => fake.seedProfile({ ProfileId: 'a'.repeat(32) });
      const { ProfileId } = seed();
      fake.seedCalculatedAttributes(ProfileId, { ltv: '1' });
      fake.seedObject(ProfileId, 'ContactRecord', { profileId: ProfileId, contactId: 'c-1' });
      fake.seedSegment('vip', [ProfileId]);
      fake.reset();
      expect(fake.objects()).to.deep.equal([]);
      expect(await failure(listCalculated(ProfileId))).to.deep.equal(['ResourceNotFoundException', 404]); // the profile is gone too
      seed();
      expect((await listCalculated(ProfileId)).Items).to.deep.equal([]);
      expect((await listObjects({ ObjectTypeName: 'ContactRecord', ProfileId })).Items).to.deep.equal([]);
      expect((await membership([ProfileId])).Profiles).to.deep.equal([{ ProfileId, QueryResult: 'ABSENT' }]);
    });
  });

  describe('duplicates: MergeProfiles, GetMatches, GetSimilarProfiles', function () {
    const merge = (MainProfileId: string, ProfileIdsToBeMerged: string[], FieldSourceProfileIds?: Record<string, unknown>) =>
      client.send(new MergeProfilesCommand({ DomainName: DOMAIN, MainProfileId, ProfileIdsToBeMerged, ...(FieldSourceProfileIds && { FieldSourceProfileIds }) }));
    const byId = async (id: string) => (await search({ KeyName: '_profileId', Values: [id] })).Items ?? [];
    const id = (n: number) => String(n).repeat(32).slice(0, 32);

    it("the fake's FieldSourceProfileIds members and MatchType values are the SDK's (the model's)", function () {
      // the schema's member names: [3, namespace, name, traits, members, types]
      const members = (FieldSourceProfileIds$ as unknown as [number, string, string, number, string[]])[4];
      expect([...MERGE_SOURCE_FIELDS, 'Attributes'].sort()).to.deep.equal([...members].sort());
      expect([...MATCH_TYPES].sort()).to.deep.equal(Object.values(MatchType).sort());
    });

    it('merges into the main profile: fields a union (the main one wins a conflict) but for FieldSourceProfileIds, even an empty source; keys and objects moved; the others deleted; MERGED and DELETED_BY_MERGE recorded', async function () {
      await client.send(new PutProfileObjectTypeCommand(CONTACT_TYPE));
      const a = fake.seedProfile({ PhoneNumber: '+14255550100', FirstName: 'Ada', LastName: 'Lovelace', Attributes: { tier: 'gold', lang: 'en' } });
      const b = fake.seedProfile({ PhoneNumber: '+14255550100', FirstName: 'Augusta', EmailAddress: 'ada@example.com', Address: { City: 'London' }, Attributes: { tier: 'silver' } });
      const c = fake.seedProfile({ PhoneNumber: '4255550100', LastName: 'King', Attributes: { tier: 'bronze', club: 'chess' } });
      fake.seedKey(b.ProfileId, 'loyaltyId', ['L-1']);
      fake.seedObject(c.ProfileId, 'ContactRecord', { profileId: c.ProfileId, contactId: 'c-9' }, 'obj-c');

      const out = await merge(a.ProfileId, [b.ProfileId, c.ProfileId], { FirstName: b.ProfileId, EmailAddress: c.ProfileId, Attributes: { tier: c.ProfileId } });

      expect(out.Message).to.be.a('string');
      // what the SDK sent: the model's shape, on POST /domains/{DomainName}/profiles/objects/merge
      expect(fake.callsTo('MergeProfiles')[0]!.body).to.deep.equal({
        MainProfileId: a.ProfileId, ProfileIdsToBeMerged: [b.ProfileId, c.ProfileId],
        FieldSourceProfileIds: { FirstName: b.ProfileId, EmailAddress: c.ProfileId, Attributes: { tier: c.ProfileId } },
      });
      const [merged] = await byId(a.ProfileId);
      // FirstName from b; EmailAddress from c, which has none: cleared ("even if it is a NULL value"); LastName and
      // PhoneNumber conflict: the main profile's; Address only b has: taken; tier from c; club only c has: taken
      expect(merged).to.deep.include({ ProfileId: a.ProfileId, FirstName: 'Augusta', LastName: 'Lovelace', PhoneNumber: '+14255550100', Address: { City: 'London' } });
      expect(merged!.EmailAddress).to.equal(undefined);
      expect(merged!.Attributes).to.deep.equal({ tier: 'bronze', lang: 'en', club: 'chess' });
      expect(await byId(b.ProfileId)).to.deep.equal([]);
      expect(await byId(c.ProfileId)).to.deep.equal([]);
      expect((await search({ KeyName: '_phone', Values: ['+14255550100', '4255550100'] })).Items!.map((p) => p.ProfileId)).to.deep.equal([a.ProfileId]);
      expect((await search({ KeyName: 'loyaltyId', Values: ['L-1'] })).Items!.map((p) => p.ProfileId)).to.deep.equal([a.ProfileId]);
      expect((await listObjects({ ObjectTypeName: 'ContactRecord', ProfileId: a.ProfileId })).Items!.map((o) => o.ProfileObjectUniqueKey)).to.deep.equal(['obj-c']);
      expect(fake.history(a.ProfileId).map((r) => r.actionType)).to.deep.equal(['MERGED']);
      expect(JSON.parse(fake.history(a.ProfileId)[0]!.content!)).to.deep.include({ FirstName: 'Augusta' });
      for (const gone of [b, c]) expect(fake.history(gone.ProfileId).map((r) => r.actionType)).to.deep.equal(['DELETED_BY_MERGE']);
      const listed = await client.send(new ListProfileHistoryRecordsCommand({ DomainName: DOMAIN, ProfileId: b.ProfileId }));
      expect(listed.ProfileHistoryRecords!.map((r) => r.ActionType)).to.deep.equal(['DELETED_BY_MERGE']);
    });

    it('refuses what the model refuses (ProfileIdsToBeMerged 1-20 uuids) with 400, sources outside the merge and the main id among the merged with 400, an unknown profile with 404', async function () {
      const a = fake.seedProfile({ FirstName: 'A' });
      const b = fake.seedProfile({ FirstName: 'B' });
      const many = Array.from({ length: 21 }, (_, i) => fake.seedProfile({ FirstName: `m${i}` }).ProfileId);

      expect(await failure(merge(a.ProfileId, many))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(merge(a.ProfileId, []))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(merge(a.ProfileId, ['not-a-uuid']))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(merge(a.ProfileId, [a.ProfileId]))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(merge(a.ProfileId, [b.ProfileId], { FirstName: id(7) }))).to.deep.equal(['BadRequestException', 400]);
      expect(await failure(merge(a.ProfileId, [id(7)]))).to.deep.equal(['ResourceNotFoundException', 404]);
      // nothing changed
      expect((await byId(b.ProfileId)).map((p) => p.FirstName)).to.deep.equal(['B']);
      expect(fake.history(a.ProfileId)).to.deep.equal([]);
    });

    it('GetMatches: 400 where the domain has no identity resolution results; else the seeded groups, paged, with the generation date', async function () {
      expect(await failure(client.send(new GetMatchesCommand({ DomainName: DOMAIN })))).to.deep.equal(['BadRequestException', 400]);
      const at = Date.UTC(2026, 11, 5, 0, 0, 0);
      fake.seedMatches('ML_BASED_MATCHING', [
        { matchId: 'm-1', profileIds: [id(1), id(2)], confidenceScore: 0.97 },
        { profileIds: [id(3), id(4), id(5)] },
      ], { generatedAt: at });

      const first = await client.send(new GetMatchesCommand({ DomainName: DOMAIN, MaxResults: 1 }));
      const second = await client.send(new GetMatchesCommand({ DomainName: DOMAIN, MaxResults: 1, NextToken: first.NextToken }));

      expect(first.MatchGenerationDate).to.deep.equal(new Date(at));
      expect(first.PotentialMatches).to.equal(2);
      expect(first.Matches).to.deep.equal([{ MatchId: 'm-1', ProfileIds: [id(1), id(2)], ConfidenceScore: 0.97 }]);
      expect(second.Matches![0]!.ProfileIds).to.deep.equal([id(3), id(4), id(5)]);
      expect(second.NextToken).to.equal(undefined);
      expect(await failure(client.send(new GetMatchesCommand({ DomainName: DOMAIN, MaxResults: 101 })))).to.deep.equal(['BadRequestException', 400]);
    });

    it('GetSimilarProfiles: the group of the asked MatchType holding the profile a key finds (POST /matches); none: no ids; a type with no results: 400', async function () {
      const a = fake.seedProfile({ PhoneNumber: '+14255550111' });
      const b = fake.seedProfile({ PhoneNumber: '+14255550112' });
      fake.seedMatches('RULE_BASED_MATCHING', [{ matchId: 'r-1', profileIds: [a.ProfileId, b.ProfileId], ruleLevel: 2 }]);
      const similar = (MatchType: MatchType, SearchKey: string, SearchValue: string) =>
        client.send(new GetSimilarProfilesCommand({ DomainName: DOMAIN, MatchType, SearchKey, SearchValue }));

      const byProfile = await similar('RULE_BASED_MATCHING', '_profileId', b.ProfileId);
      const byPhone = await similar('RULE_BASED_MATCHING', '_phone', '+14255550111');
      const none = await similar('RULE_BASED_MATCHING', '_phone', '+14255550999');

      expect(byProfile).to.deep.include({ ProfileIds: [a.ProfileId, b.ProfileId], MatchId: 'r-1', MatchType: 'RULE_BASED_MATCHING', RuleLevel: 2 });
      expect(byProfile.ConfidenceScore).to.equal(undefined);
      expect(byPhone.ProfileIds).to.deep.equal([a.ProfileId, b.ProfileId]);
      expect(none.ProfileIds).to.deep.equal([]);
      expect(fake.callsTo('GetSimilarProfiles')[0]!.body).to.deep.equal({ MatchType: 'RULE_BASED_MATCHING', SearchKey: '_profileId', SearchValue: b.ProfileId });
      expect(await failure(similar('ML_BASED_MATCHING', '_profileId', a.ProfileId))).to.deep.equal(['BadRequestException', 400]);
    });
  });

  describe('Connect UpdateContactAttributes', function () {
    it('stores attributes per InitialContactId, merged across calls, recorded with service "connect"', async function () {
      const send = (Attributes: Record<string, string>) =>
        connect.send(new UpdateContactAttributesCommand({ InstanceId: 'inst-1', InitialContactId: 'contact-1', Attributes }));
      await send({ profileId: 'p1', tier: 'gold' });
      await send({ tier: 'platinum' });
      expect(fake.contactAttributes('contact-1')).to.deep.equal({ profileId: 'p1', tier: 'platinum' });
      expect(fake.contactAttributes('contact-2')).to.equal(undefined);
      expect(fake.callsTo('UpdateContactAttributes').map((c) => [c.service, c.status])).to.deep.equal([['connect', 200], ['connect', 200]]);
    });

    it('parses injected Connect faults into its own exception classes (ThrottlingException 429, InternalServiceException 500)', async function () {
      fake.fail({ status: 429, errorType: 'ThrottlingException', times: 1, operations: ['UpdateContactAttributes'] });
      fake.fail({ status: 500, errorType: 'InternalServiceException', times: 1, operations: ['UpdateContactAttributes'] });
      const send = () => connect.send(new UpdateContactAttributesCommand({ InstanceId: 'i', InitialContactId: 'c', Attributes: { a: 'b' } }));
      const e1 = await rejection(send());
      const e2 = await rejection(send());
      expect([e1.name, e1.$metadata?.httpStatusCode, e2.name, e2.$metadata?.httpStatusCode])
        .to.deep.equal(['ThrottlingException', 429, 'InternalServiceException', 500]);
      await send();
      expect(fake.contactAttributes('c')).to.deep.equal({ a: 'b' });
    });
  });

  describe('account quota', function () {
    // The fake's clock (Date) stands still unless moved: the sliding window is tested to the millisecond. Only Date
    // is faked; the sockets and the SDK's timers are real.
    const SECOND = 1_800_000_000;
    const T0 = SECOND * 1000 + 400;
    beforeEach(function () {
      mock.timers.enable({ apis: ['Date'], now: T0 });
    });
    afterEach(function () {
      mock.timers.reset();
      fake.setQuota({ accountQuotaPerSecond: 0, connectQuotaPerSecond: 0 });
    });

    const find = () => search({ KeyName: '_phone', Values: ['+1555'] });
    /** 'ok', or the failure's [name, status, message] */
    const outcome = (p: Promise<unknown>): Promise<unknown> =>
      p.then(() => 'ok', (e: SdkError) => [e.name, e.$metadata?.httpStatusCode, e.message]);
    const THROTTLED = ['ThrottlingException', 429, ACCOUNT_THROTTLE_MESSAGE];
    const stamp = (attributes: Record<string, string>) =>
      connect.send(new UpdateContactAttributesCommand({ InstanceId: 'i', InitialContactId: 'c', Attributes: attributes }));

    it('is off by default: 150 calls of one operation in the same millisecond all answer', async function () {
      const outcomes = await Promise.all(Array.from({ length: 150 }, () => outcome(find())));
      expect(outcomes.filter((o) => o !== 'ok')).to.deep.equal([]);
      expect(fake.quotaLimits()).to.deep.equal({ accountQuotaPerSecond: 0, connectQuotaPerSecond: 0 });
    });

    it('within the quota every call answers; past it the SDK throws ThrottlingException (429, "Rate exceeded")', async function () {
      fake.setQuota({ accountQuotaPerSecond: 3 });
      const outcomes = [];
      for (let i = 0; i < 5; i++) outcomes.push(await outcome(find()));
      expect(outcomes).to.deep.equal(['ok', 'ok', 'ok', THROTTLED, THROTTLED]);
      expect(fake.callsTo('SearchProfiles').map((c) => c.status)).to.deep.equal([200, 200, 200, 429, 429]);
    });

    it('counts each operation on its own: SearchProfiles at its quota leaves CreateProfile and GetDomain theirs', async function () {
      fake.setQuota({ accountQuotaPerSecond: 2 });
      expect([await outcome(find()), await outcome(find()), await outcome(find())]).to.deep.equal(['ok', 'ok', THROTTLED]);
      expect(await outcome(client.send(new CreateProfileCommand({ DomainName: DOMAIN, FirstName: 'A' })))).to.equal('ok');
      expect(await outcome(client.send(new GetDomainCommand({ DomainName: DOMAIN })))).to.equal('ok');
    });

    it('slides: a call 999 ms after the window filled is refused, one 1000 ms after is let through; refused calls do not count', async function () {
      fake.setQuota({ accountQuotaPerSecond: 2 });
      expect([await outcome(find()), await outcome(find())]).to.deep.equal(['ok', 'ok']);
      mock.timers.tick(500);
      expect(await outcome(find())).to.deep.equal(THROTTLED);
      mock.timers.tick(499); // T0 + 999: both calls of T0 still within the last 1000 ms
      expect(await outcome(find())).to.deep.equal(THROTTLED);
      mock.timers.tick(1); // T0 + 1000: they have left the window; the refused ones never counted
      expect([await outcome(find()), await outcome(find()), await outcome(find())]).to.deep.equal(['ok', 'ok', THROTTLED]);
    });

    it('limits Connect UpdateContactAttributes by connectQuotaPerSecond (ThrottlingException from the Connect SDK), apart from Customer Profiles', async function () {
      fake.setQuota({ connectQuotaPerSecond: 1 });
      expect([await outcome(stamp({ a: '1' })), await outcome(stamp({ a: '2' }))]).to.deep.equal(['ok', THROTTLED]);
      expect(fake.contactAttributes('c')).to.deep.equal({ a: '1' });
      expect([await outcome(find()), await outcome(find())]).to.deep.equal(['ok', 'ok']); // no Customer Profiles quota
      fake.setQuota({ accountQuotaPerSecond: 1, connectQuotaPerSecond: 0 });
      expect([await outcome(stamp({ a: '3' })), await outcome(find())]).to.deep.equal(['ok', THROTTLED]);
    });

    it('counts, per second and operation, calls sent and refused and the most in any 1000 ms window (GET /__fake/quota-stats)', async function () {
      fake.setQuota({ accountQuotaPerSecond: 3 });
      for (let i = 0; i < 4; i++) await outcome(find()); // T0: 3 let through, 1 refused
      await outcome(stamp({ a: '1' }));
      mock.timers.tick(700); // the next second, T0 + 700: the window still holds T0's calls
      await outcome(find());
      mock.timers.tick(300); // T0 + 1000: they have left it
      await outcome(find());
      const expected: QuotaSecond[] = [
        { second: SECOND, operations: { SearchProfiles: { sent: 4, refused: 1, windowMax: 4 }, UpdateContactAttributes: { sent: 1, refused: 0, windowMax: 1 } } },
        { second: SECOND + 1, operations: { SearchProfiles: { sent: 2, refused: 1, windowMax: 5 } } },
      ];
      expect(fake.quotaStats()).to.deep.equal(expected);
      const res = await fetch(`${fake.url}/__fake/quota-stats`);
      expect(await res.json()).to.deep.equal({ accountQuotaPerSecond: 3, connectQuotaPerSecond: 0, seconds: expected });
      fake.reset(); // clears the windows and the stats, keeps the limits
      expect([fake.quotaStats(), fake.quotaLimits().accountQuotaPerSecond]).to.deep.equal([[], 3]);
      expect(await outcome(find())).to.equal('ok');
    });

    it('is set at run time with POST /__fake/quota (a bad value is a 400 and changes nothing)', async function () {
      const post = (body: unknown) => fetch(`${fake.url}/__fake/quota`, { method: 'POST', body: JSON.stringify(body) });
      const set = await post({ accountQuotaPerSecond: 1, connectQuotaPerSecond: 4 });
      expect([set.status, await set.json()]).to.deep.equal([200, { accountQuotaPerSecond: 1, connectQuotaPerSecond: 4 }]);
      expect([await outcome(find()), await outcome(find())]).to.deep.equal(['ok', THROTTLED]);
      const bad = await post({ accountQuotaPerSecond: -1 });
      expect(bad.status).to.equal(400);
      expect(fake.quotaLimits()).to.deep.equal({ accountQuotaPerSecond: 1, connectQuotaPerSecond: 4 });
      await post({ accountQuotaPerSecond: 0 });
      expect(await outcome(find())).to.equal('ok');
    });
  });

  describe('faults', function () {
    const cases = [
      { status: 429, errorType: 'ThrottlingException' },
      { status: 500, errorType: 'InternalServerException' },
      { status: 403, errorType: 'AccessDeniedException' },
      { status: 404, errorType: 'ResourceNotFoundException' },
      { status: 400, errorType: 'BadRequestException' },
    ];
    for (const { status, errorType } of cases) {
      it(`an injected ${status} ${errorType} parses into the SDK's ${errorType} with httpStatusCode ${status} and the message`, async function () {
        fake.fail({ status, errorType, message: `boom ${status}`, times: 1 });
        const err = await rejection(client.send(new GetDomainCommand({ DomainName: DOMAIN })));
        expect([err.name, err.$metadata?.httpStatusCode, err.message]).to.deep.equal([errorType, status, `boom ${status}`]);
        expect(fake.calls.map((c) => c.status)).to.deep.equal([status]);
        await client.send(new GetDomainCommand({ DomainName: DOMAIN })); // `times: 1` is consumed
      });
    }

    it('limits a fault to its operations, and sends Retry-After when retryAfterSeconds is set', async function () {
      fake.fail({ status: 429, errorType: 'ThrottlingException', retryAfterSeconds: 2, operations: ['SearchProfiles'] });
      await client.send(new GetDomainCommand({ DomainName: DOMAIN }));
      const err = await rejection(search({ KeyName: '_phone', Values: ['x'] }));
      expect(err.name).to.equal('ThrottlingException');
      const res = await fetch(`${fake.url}/domains/${DOMAIN}/profiles/search`, { method: 'POST', body: '{"KeyName":"_phone","Values":["x"]}' });
      expect(res.status).to.equal(429);
      expect(res.headers.get('retry-after')).to.equal('2');
      expect(res.headers.get('x-amzn-errortype')).to.equal('ThrottlingException');
      expect(await res.json()).to.have.property('Message');
    });

    it('answers bad JSON with 400 SerializationException and an unknown route with 404', async function () {
      const bad = await fetch(`${fake.url}/domains/${DOMAIN}/profiles/search`, { method: 'POST', body: '{nope' });
      expect([bad.status, bad.headers.get('x-amzn-errortype')]).to.deep.equal([400, 'SerializationException']);
      const unknown = await fetch(`${fake.url}/whatever`);
      expect(unknown.status).to.equal(404);
      expect(fake.calls.map((c) => [c.operation, c.status])).to.deep.equal([['SearchProfiles', 400], ['Unknown', 404]]);
    });
  });

  describe('latency and hang', function () {
    it('delays answers by the configured latency, per operation when given a map', async function () {
      fake.setLatency(150);
      expect(await elapsed(() => client.send(new GetDomainCommand({ DomainName: DOMAIN })))).to.be.at.least(145);
      fake.setLatency({ SearchProfiles: 200 });
      expect(await elapsed(() => client.send(new GetDomainCommand({ DomainName: DOMAIN })))).to.be.below(100);
      expect(await elapsed(() => search({ KeyName: '_phone', Values: ['x'] }))).to.be.at.least(195);
    });

    it('hangs: an SDK call with AbortSignal.timeout(200) rejects after ~200 ms; hang(false) releases the held request', async function () {
      fake.hang(true, ['SearchProfiles']);
      const t0 = performance.now();
      const timed = await rejection(client.send(
        new SearchProfilesCommand({ DomainName: DOMAIN, KeyName: '_phone', Values: ['x'] }), { abortSignal: AbortSignal.timeout(200) },
      ).then(() => undefined));
      expect(timed.name).to.equal('AbortError');
      expect(performance.now() - t0).to.be.within(190, 1000);
      await client.send(new GetDomainCommand({ DomainName: DOMAIN })); // other operations still answer
      expect(fake.callsTo('SearchProfiles').map((c) => c.status)).to.deep.equal([0]);
      fake.hang(false);
      expect(fake.callsTo('SearchProfiles').map((c) => c.status)).to.deep.equal([200]);
      await search({ KeyName: '_phone', Values: ['x'] });
    });

    it('stop() closes the server even with a hanging request, which then fails on the client', async function () {
      const local = new FakeAws();
      const url = await local.start();
      local.hang(true);
      const pending = fetch(`${url}/domains/${DOMAIN}`).then(() => 'answered', () => 'failed');
      await until('the request to arrive', () => local.calls.length > 0);
      const stopMs = await elapsed(() => local.stop());
      expect(stopMs).to.be.below(1000);
      expect(await pending).to.equal('failed');
    });
  });

  describe('endpoint by environment', function () {
    it('is reached by a client configured only with AWS_ENDPOINT_URL_CUSTOMER_PROFILES / AWS_ENDPOINT_URL_CONNECT', async function () {
      const saved = { p: process.env.AWS_ENDPOINT_URL_CUSTOMER_PROFILES, c: process.env.AWS_ENDPOINT_URL_CONNECT };
      process.env.AWS_ENDPOINT_URL_CUSTOMER_PROFILES = fake.url;
      process.env.AWS_ENDPOINT_URL_CONNECT = fake.url;
      const envProfiles = new CustomerProfilesClient({ region: 'us-east-1', credentials, maxAttempts: 1 });
      const envConnect = new ConnectClient({ region: 'us-east-1', credentials, maxAttempts: 1 });
      try {
        await envProfiles.send(new GetDomainCommand({ DomainName: DOMAIN }));
        await envConnect.send(new UpdateContactAttributesCommand({ InstanceId: 'i', InitialContactId: 'env', Attributes: { a: '1' } }));
        expect(fake.calls.map((c) => c.operation)).to.deep.equal(['GetDomain', 'UpdateContactAttributes']);
      } finally {
        envProfiles.destroy();
        envConnect.destroy();
        for (const [k, v] of [['AWS_ENDPOINT_URL_CUSTOMER_PROFILES', saved.p], ['AWS_ENDPOINT_URL_CONNECT', saved.c]] as const) {
          if (v === undefined) delete process.env[k]; else process.env[k] = v;
        }
      }
    });
  });

  describe('control API and separate process', function () {
    it('is steerable over /__fake/ (calls, latency, hang, fail, seed, reset)', async function () {
      const post = (path: string, body: unknown) => fetch(`${fake.url}/__fake/${path}`, { method: 'POST', body: JSON.stringify(body) });
      expect((await post('seed', [{ PhoneNumber: '+1999' }])).status).to.equal(200);
      expect((await search({ KeyName: '_phone', Values: ['+1999'] })).Items).to.have.length(1);
      await post('fail', { status: 503, errorType: 'ServiceUnavailableException', times: 1 });
      expect((await rejection(search({ KeyName: '_phone', Values: ['+1999'] }))).$metadata?.httpStatusCode).to.equal(503);
      await post('latency', { ms: 120 });
      expect(await elapsed(() => client.send(new GetDomainCommand({ DomainName: DOMAIN })))).to.be.at.least(115);
      await post('latency', { ms: 0 });
      await post('hang', { on: true });
      await rejection(client.send(new GetDomainCommand({ DomainName: DOMAIN }), { abortSignal: AbortSignal.timeout(100) }));
      await post('hang', { on: false });
      const counts = await (await fetch(`${fake.url}/__fake/calls`)).json() as Record<string, unknown>;
      expect(counts).to.deep.equal({ total: 4, byOperation: { SearchProfiles: 2, GetDomain: 2 }, byStatus: { 200: 3, 503: 1 } });
    });

    it('seeds calculated attributes, objects and segments with a seed document (POST /__fake/seed); a bad entry is a 400', async function () {
      const post = (path: string, body: unknown) => fetch(`${fake.url}/__fake/${path}`, { method: 'POST', body: JSON.stringify(body) });
      const id = 'b'.repeat(32);
      const res = await post('seed', {
        profiles: [{ ProfileId: id, FirstName: 'Doc' }, { PhoneNumber: '+1888' }],
        calculatedAttributes: [{ profileId: id, values: { ltv: '7' }, isDataPartial: true }],
        objects: [{ profileId: id, objectTypeName: 'Order', object: { orderId: 'o-1' }, uniqueKey: 'k-1' }],
        segments: [{ name: 'vip', profileIds: [id] }],
      });
      const { ProfileIds } = (await res.json()) as { ProfileIds: string[] };
      expect([res.status, ProfileIds.length, ProfileIds[0]]).to.deep.equal([200, 2, id]);
      expect((await listCalculated(id)).Items).to.deep.equal([{ CalculatedAttributeName: 'ltv', DisplayName: 'ltv', IsDataPartial: 'true', Value: '7' }]);
      expect((await listObjects({ ObjectTypeName: 'Order', ProfileId: id })).Items)
        .to.deep.equal([{ ObjectTypeName: 'Order', ProfileObjectUniqueKey: 'k-1', Object: '{"orderId":"o-1"}' }]);
      expect((await membership([id, ProfileIds[1]!])).Profiles?.map((p) => p.QueryResult)).to.deep.equal(['PRESENT', 'ABSENT']);
      const bad = await post('seed', { objects: [{ profileId: 'f'.repeat(32), objectTypeName: 'Order', object: {} }] });
      expect(bad.status).to.equal(400);
      expect(((await bad.json()) as { Message: string }).Message).to.match(/unknown profile/);
      await post('reset', {});
      expect(fake.objects()).to.deep.equal([]);
    });

    it('lists a field of every object of a type (GET /__fake/objects) and of every profile (GET /__fake/profiles)', async function () {
      const [a, b] = [fake.seedProfile({ PhoneNumber: '+1111' }), fake.seedProfile({ PhoneNumber: '+1111' })];
      fake.seedProfile({ FirstName: 'no phone' });
      fake.seedObject(a.ProfileId, 'Rec', { ContactId: 'c-1' });
      fake.seedObject(b.ProfileId, 'Rec', { ContactId: 'c-2' });
      fake.seedObject(b.ProfileId, 'Other', { ContactId: 'c-3' });
      const get = async (path: string) => (await fetch(`${fake.url}/__fake/${path}`)).json() as Promise<Record<string, unknown>>;
      const objects = await get('objects?type=Rec&field=ContactId');
      expect([objects.count, objects.values, typeof objects.latestAt]).to.deep.equal([2, ['c-1', 'c-2'], 'number']);
      expect(await get('profiles?field=PhoneNumber')).to.deep.equal({ count: 3, values: ['+1111', '+1111'] });
      expect((await fetch(`${fake.url}/__fake/objects?type=Rec`)).status).to.equal(400);
    });

    it('serves when each ContactId was first written as a _ctrContactId key (GET /__fake/contact-keys, ?since=), cleared by reset', async function () {
      const p = fake.seedProfile({ FirstName: 'Ada' });
      const addKey = (KeyName: string, contactId: string, ProfileId = p.ProfileId) =>
        client.send(new AddProfileKeyCommand({ DomainName: DOMAIN, ProfileId, KeyName, Values: [contactId] }));
      const keys = async (query = '') => {
        const res = await fetch(`${fake.url}/__fake/contact-keys${query}`);
        return { status: res.status, body: (await res.json()) as { count: number; at: Record<string, number> } };
      };
      // the key is written as the call is handled, before the 20 ms latency: each call's answer comes after its key
      // (checked with 15 ms of it: a timer may fire a millisecond early against Date.now())
      fake.setLatency({ AddProfileKey: 20 });
      const before = Date.now();
      await addKey('_ctrContactId', 'c-1');
      const between = Date.now();
      await addKey('_ctrContactId', 'c-1'); // written again: the first time stays
      await addKey('_ctrContactId', 'c-2');
      await addKey('loyaltyId', 'not-a-contact');
      await rejection(addKey('_ctrContactId', 'c-3', 'a'.repeat(32))); // no such profile: nothing written

      const all = await keys();
      expect(all.status).to.equal(200);
      expect(all.body.count).to.equal(2);
      expect(Object.keys(all.body.at).sort()).to.deep.equal(['c-1', 'c-2']);
      expect(all.body.at['c-1']).to.be.within(before, between - 15);
      expect(all.body.at['c-2']).to.be.at.least(between + 15);
      expect(await keys(`?since=${between}`)).to.deep.equal({ status: 200, body: { count: 1, at: { 'c-2': all.body.at['c-2'] } } });
      expect((await keys('?since=soon')).status).to.equal(400);

      await fetch(`${fake.url}/__fake/reset`, { method: 'POST', body: '{}' });
      expect((await keys()).body).to.deep.equal({ count: 0, at: {} });
    });

    /** Runs fake-aws-server.ts with `--seed` (this JSON), gives `use` a client on it, then expects exit 0 on SIGTERM. */
    async function withServerProcess(seedJson: unknown, use: (c: CustomerProfilesClient, url: string) => Promise<void>, args: string[] = []): Promise<void> {
      const seed = join(await mkdtemp(join(tmpdir(), 'fake-aws-')), 'seed.json');
      await writeFile(seed, JSON.stringify(seedJson));
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/fake-aws-server.ts', '--port', '0', '--latency-ms', '5', '--seed', seed, ...args],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const lines = createInterface({ input: child.stdout });
        const [line] = (await once(lines, 'line')) as [string];
        const url = /^FAKE_AWS_URL=(http:\/\/127\.0\.0\.1:\d+)$/.exec(line)?.[1];
        expect(url, line).to.be.a('string');
        const c = new CustomerProfilesClient({ region: 'us-east-1', credentials, endpoint: url, maxAttempts: 1 });
        try { await use(c, url!); } finally { c.destroy(); }
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        expect(((await exited) as [number | null])[0]).to.equal(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }

    it('runs as a separate process: prints FAKE_AWS_URL, serves seeded profiles, exits 0 on SIGTERM', async function () {
      this.timeout(30_000);
      await withServerProcess([{ FirstName: 'Seeded', PhoneNumber: '+1777' }], async (c) => {
        const out = await c.send(new SearchProfilesCommand({ DomainName: DOMAIN, KeyName: '_phone', Values: ['+1777'] }));
        expect(out.Items?.map((i) => i.FirstName)).to.deep.equal(['Seeded']);
      });
    });

    it('runs as a separate process with --account-quota 2: of three calls arriving together, one is throttled; GET /__fake/quota-stats counts them', async function () {
      this.timeout(30_000);
      await withServerProcess([], async (c, url) => {
        const find = () => c.send(new SearchProfilesCommand({ DomainName: DOMAIN, KeyName: '_phone', Values: ['+1777'] }))
          .then(() => 'ok', (e: SdkError) => e.name);
        // three at once: within one 1000 ms window however slow the machine
        expect((await Promise.all([find(), find(), find()])).sort()).to.deep.equal(['ThrottlingException', 'ok', 'ok']);
        const stats = (await (await fetch(`${url}/__fake/quota-stats`)).json()) as { accountQuotaPerSecond: number; seconds: QuotaSecond[] };
        const sum = (k: 'sent' | 'refused') => stats.seconds.reduce((n, s) => n + (s.operations.SearchProfiles?.[k] ?? 0), 0);
        expect([stats.accountQuotaPerSecond, sum('sent'), sum('refused')]).to.deep.equal([2, 3, 1]);
      }, ['--account-quota', '2']);
    });

    it('runs as a separate process seeded with a seed document (calculated attributes, objects, segments)', async function () {
      this.timeout(30_000);
      const id = 'c'.repeat(32);
      await withServerProcess({
        profiles: [{ ProfileId: id, FirstName: 'Doc' }],
        calculatedAttributes: [{ profileId: id, values: { ltv: '9' } }],
        objects: [{ profileId: id, objectTypeName: 'Order', object: { orderId: 'o-9' } }],
        segments: [{ name: 'vip', profileIds: [id] }],
      }, async (c) => {
        const attrs = await c.send(new ListCalculatedAttributesForProfileCommand({ DomainName: DOMAIN, ProfileId: id }));
        expect(attrs.Items?.map((i) => [i.CalculatedAttributeName, i.Value])).to.deep.equal([['ltv', '9']]);
        const objs = await c.send(new ListProfileObjectsCommand({ DomainName: DOMAIN, ObjectTypeName: 'Order', ProfileId: id }));
        expect(objs.Items?.map((i) => i.Object)).to.deep.equal(['{"orderId":"o-9"}']);
        const seg = await c.send(new GetSegmentMembershipCommand({ DomainName: DOMAIN, SegmentDefinitionName: 'vip', ProfileIds: [id] }));
        expect(seg.Profiles?.map((p) => p.QueryResult)).to.deep.equal(['PRESENT']);
      });
    });
  });
});
