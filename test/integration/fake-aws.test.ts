// The fake must speak the real wire protocol: every check here goes through the real AWS SDK clients.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import {
  AddProfileKeyCommand,
  CreateProfileCommand,
  CustomerProfilesClient,
  DeleteProfileObjectTypeCommand,
  GetDomainCommand,
  GetProfileObjectTypeCommand,
  ListProfileObjectTypesCommand,
  PutProfileObjectCommand,
  PutProfileObjectTypeCommand,
  SearchProfilesCommand,
  UpdateProfileCommand,
  type SearchProfilesCommandInput,
} from '@aws-sdk/client-customer-profiles';
import { ConnectClient, UpdateContactAttributesCommand } from '@aws-sdk/client-connect';
import { FakeAws, OBJECT_THROTTLE_MESSAGE } from '../support/fake-aws.js';

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

  describe('GetDomain', function () {
    it('returns the domain with DefaultExpirationDays 366, Date timestamps and the configured DLQ/key', async function () {
      fake.setDomain(DOMAIN, { deadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/1/dlq', defaultEncryptionKey: 'arn:kms:key' });
      const out = await client.send(new GetDomainCommand({ DomainName: DOMAIN }));
      expect(out.DomainName).to.equal(DOMAIN);
      expect(out.DefaultExpirationDays).to.equal(366);
      expect(out.DeadLetterQueueUrl).to.equal('https://sqs.us-east-1.amazonaws.com/1/dlq');
      expect(out.DefaultEncryptionKey).to.equal('arn:kms:key');
      expect(out.CreatedAt).to.be.instanceOf(Date);
      expect(Math.abs(out.CreatedAt!.getTime() - Date.now())).to.be.below(60_000);
      expect(fake.callsTo('GetDomain')).to.have.length(1);
      expect(fake.calls[0]).to.include({ service: 'profiles', operation: 'GetDomain', domain: DOMAIN, status: 200 });
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
      await new Promise((r) => setTimeout(r, 1050 - (Date.now() - fake.callsTo('PutProfileObject')[0]!.at)));
      await putContact(p.ProfileId, 'c-2');
      expect(fake.objects()).to.have.length(3);
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
      while (local.calls.length === 0) await new Promise((r) => setTimeout(r, 5));
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

    it('runs as a separate process: prints FAKE_AWS_URL, serves seeded profiles, exits 0 on SIGTERM', async function () {
      this.timeout(30_000);
      const seed = join(await mkdtemp(join(tmpdir(), 'fake-aws-')), 'seed.json');
      await writeFile(seed, JSON.stringify([{ FirstName: 'Seeded', PhoneNumber: '+1777' }]));
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/fake-aws-server.ts', '--port', '0', '--latency-ms', '5', '--seed', seed],
        { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const lines = createInterface({ input: child.stdout });
        const [line] = (await once(lines, 'line')) as [string];
        const url = /^FAKE_AWS_URL=(http:\/\/127\.0\.0\.1:\d+)$/.exec(line)?.[1];
        expect(url, line).to.be.a('string');
        const c = new CustomerProfilesClient({ region: 'us-east-1', credentials, endpoint: url, maxAttempts: 1 });
        const out = await c.send(new SearchProfilesCommand({ DomainName: DOMAIN, KeyName: '_phone', Values: ['+1777'] }));
        c.destroy();
        expect(out.Items?.map((i) => i.FirstName)).to.deep.equal(['Seeded']);
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        expect(((await exited) as [number | null])[0]).to.equal(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
});
