import { expect } from 'chai';
import nock from 'nock';
import { ConnectClient } from '@aws-sdk/client-connect';
import type { CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import { createCustomerProfilesClient } from '../../src/aws/clients.js';
import { classify, RecordError } from '../../src/records/errors.js';
import type { RecordJob, RecordProgress } from '../../src/records/job.js';
import { LocalRecordQueue } from '../../src/records/local-queue.js';
import { Pacer } from '../../src/records/pacer.js';
import type { QueueHooks } from '../../src/records/queue.js';
import { AwsRecordTarget } from '../../src/profiles/customer-profiles-records.js';
import { RecordWriter } from '../../src/records/writer.js';
import { createLogger } from '../../src/ops/logger.js';
import { useNock } from '../support/nock.js';

const PROFILES = 'https://profile.us-east-1.amazonaws.com';
const CONNECT = 'https://connect.us-east-1.amazonaws.com';
const DOMAIN = 'acme-contacts';
const OBJECT_TYPE = 'ResolvedContact';
const PROFILE_ID = '0123456789abcdef0123456789abcdef';
const PHONE = '+14255550123';
const INSTANCE_ID = '11111111-2222-3333-4444-555555555555';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

function job(contactId = 'c0000000-0000-4000-8000-000000000001'): RecordJob {
  return {
    contactId,
    initialContactId: 'c0000000-0000-4000-8000-000000000000',
    previousContactId: 'c0000000-0000-4000-8000-00000000000f',
    channel: 'VOICE',
    initiationMethod: 'TRANSFER',
    instanceArn: `arn:aws:connect:us-east-1:123456789012:instance/${INSTANCE_ID}`,
    queueName: 'Support',
    systemEndpoint: '+18005550100',
    identityType: 'PHONE',
    identity: PHONE,
    identityTag: 'tag-of-the-identity',
    profileId: PROFILE_ID,
    customerStatus: 'KNOWN',
    receivedAt: '2025-03-04T05:06:07.890Z',
    attributes: { tier: 'gold', language: 'en-US' },
  };
}

/** The contact-record object as Customer Profiles must receive it, written out rather than derived from recordObject(). */
function expectedRecord(contactId = 'c0000000-0000-4000-8000-000000000001'): Record<string, unknown> {
  return {
    ContactId: contactId,
    InitialContactId: 'c0000000-0000-4000-8000-000000000000',
    PreviousContactId: 'c0000000-0000-4000-8000-00000000000f',
    Channel: 'VOICE',
    InitiationMethod: 'TRANSFER',
    InstanceARN: `arn:aws:connect:us-east-1:123456789012:instance/${INSTANCE_ID}`,
    QueueName: 'Support',
    SystemEndpoint: '+18005550100',
    CustomerIdentityType: 'PHONE',
    CustomerIdentity: PHONE,
    ProfileId: PROFILE_ID,
    CustomerStatus: 'KNOWN',
    ReceivedAt: '2025-03-04T05:06:07.890Z',
    Attributes: { tier: 'gold', language: 'en-US' },
  };
}

type Reply = readonly [number, unknown, Record<string, string>?];

const awsError = (status: number, type: string, message = `${type} from the test`, headers: Record<string, string> = {}): Reply => [
  status,
  { message },
  { 'X-Amzn-Errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.profile/`, ...headers },
];

const throttled = (retryAfterSeconds: string): Reply =>
  awsError(429, 'ThrottlingException', 'Too many objects ingested on the profile per second', { 'Retry-After': retryAfterSeconds });

/** The background client as the service builds it: one attempt per call, the queue decides about retries. */
function profilesClient(): CustomerProfilesClient {
  return createCustomerProfilesClient({ region: 'us-east-1', requestTimeoutMs: 5000, maxAttempts: 1, credentials });
}

function target(o: { connect?: ConnectClient; timeoutMs?: number } = {}): AwsRecordTarget {
  return new AwsRecordTarget({ profiles: profilesClient(), domain: DOMAIN, objectTypeName: OBJECT_TYPE, ...o });
}

function writer(t: AwsRecordTarget = target()): RecordWriter {
  return new RecordWriter(t, new Pacer({ keyPrefix: 'test', connectPerSecond: 10 }));
}

interface Seen {
  operation: string;
  body: Record<string, unknown>;
  at: number;
}

/** Intercepts AddProfileKey and records each call in `seen`. */
function addProfileKey(seen: Seen[], reply: () => Reply = () => [200, { KeyName: '_ctrContactId', Values: [] }]) {
  return nock(PROFILES)
    .post(`/domains/${DOMAIN}/profiles/keys`, (b: Record<string, unknown>) => {
      seen.push({ operation: 'AddProfileKey', body: b, at: Date.now() });
      return true;
    })
    .reply(() => {
      const [status, body, headers] = reply();
      return [status, body, headers ?? {}];
    });
}

/** Intercepts PutProfileObject and records each call in `seen`. */
function putProfileObject(seen: Seen[], reply: () => Reply = () => [200, { ProfileObjectUniqueKey: 'k1' }]) {
  return nock(PROFILES)
    .put(`/domains/${DOMAIN}/profiles/objects`, (b: Record<string, unknown>) => {
      seen.push({ operation: 'PutProfileObject', body: b, at: Date.now() });
      return true;
    })
    .reply(() => {
      const [status, body, headers] = reply();
      return [status, body, headers ?? {}];
    });
}

type Outcome = Parameters<NonNullable<QueueHooks['onOutcome']>>[0];

/** A started in-process queue over the real writer and target, with a promise per final outcome. */
function queue(maxAttempts = 5) {
  const outcomes: Outcome[] = [];
  let settle: (o: Outcome) => void = () => undefined;
  let finished = new Promise<Outcome>((resolve) => (settle = resolve));
  const q = new LocalRecordQueue(writer(), {
    ratePerSecond: 50,
    maxAttempts,
    logger: createLogger('silent'),
    hooks: {
      onOutcome: (o) => {
        outcomes.push(o);
        if (o === 'written' || o === 'dead-lettered') settle(o);
      },
    },
  });
  q.start();
  return {
    q,
    outcomes,
    /** resolves with the next 'written' or 'dead-lettered' */
    next: () => finished,
    rearm: () => {
      finished = new Promise<Outcome>((resolve) => (settle = resolve));
    },
  };
}

const parseObject = (b: Record<string, unknown>) => JSON.parse(b.Object as string) as Record<string, unknown>;

describe('contact records through the real SDK (contract, nock)', () => {
  useNock();

  describe('the requests a record makes', () => {
    it('when a record is written, sends AddProfileKey _ctrContactId = ContactId on the profile, then PutProfileObject of the contact record', async () => {
      const seen: Seen[] = [];
      addProfileKey(seen);
      putProfileObject(seen);
      const progress: RecordProgress = {};

      const outcome = await writer().run(job(), progress);

      expect(outcome).to.deep.equal({ done: true });
      expect(seen.map((s) => s.operation)).to.deep.equal(['AddProfileKey', 'PutProfileObject']);
      expect(seen[0]!.body).to.deep.equal({ ProfileId: PROFILE_ID, KeyName: '_ctrContactId', Values: ['c0000000-0000-4000-8000-000000000001'] });
      expect(Object.keys(seen[1]!.body).sort()).to.deep.equal(['Object', 'ObjectTypeName']);
      expect(seen[1]!.body.ObjectTypeName).to.equal(OBJECT_TYPE);
      expect(parseObject(seen[1]!.body)).to.deep.equal(expectedRecord());
      expect(progress).to.deep.equal({ keyAdded: true, objectWritten: true });
    });

    it('when stamping is on, then sends UpdateContactAttributes with the instance id from the ARN, the InitialContactId, profileId and customerStatus', async () => {
      const seen: Seen[] = [];
      addProfileKey(seen);
      putProfileObject(seen);
      nock(CONNECT)
        .post('/contact/attributes', (b: Record<string, unknown>) => {
          seen.push({ operation: 'UpdateContactAttributes', body: b, at: Date.now() });
          return true;
        })
        .reply(200, {});
      const connect = new ConnectClient({ region: 'us-east-1', credentials, maxAttempts: 1 });
      const progress: RecordProgress = {};

      const outcome = await writer(target({ connect })).run(job(), progress);

      expect(outcome).to.deep.equal({ done: true });
      expect(seen.map((s) => s.operation)).to.deep.equal(['AddProfileKey', 'PutProfileObject', 'UpdateContactAttributes']);
      expect(seen[2]!.body).to.deep.equal({
        InstanceId: INSTANCE_ID,
        InitialContactId: 'c0000000-0000-4000-8000-000000000000',
        Attributes: { profileId: PROFILE_ID, customerStatus: 'KNOWN' },
      });
      expect(progress).to.deep.equal({ keyAdded: true, objectWritten: true, stamped: true });
    });

    it('when AddProfileKey is already done, sends only PutProfileObject', async () => {
      const seen: Seen[] = [];
      putProfileObject(seen);

      await writer().run(job(), { keyAdded: true });

      expect(seen.map((s) => s.operation)).to.deep.equal(['PutProfileObject']);
    });

    it('when PutProfileObject answers 429 with Retry-After: 3, fails throttled with retryAfterMs 3000 naming the operation', async () => {
      putProfileObject([], () => throttled('3'));

      const err = await target().putRecord(job()).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(err).to.be.instanceOf(RecordError);
      expect(err).to.include({ kind: 'throttled', retryAfterMs: 3000, message: 'PutProfileObject: ThrottlingException (429)' });
    });

    it('when PutProfileObject hangs past the target timeout, fails retryable', async () => {
      nock(PROFILES).put(`/domains/${DOMAIN}/profiles/objects`).delay(2000).reply(200, {});

      const started = Date.now();
      const err = await target({ timeoutMs: 200 }).putRecord(job()).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(err).to.be.instanceOf(RecordError);
      expect((err as RecordError).kind).to.equal('retryable');
      expect(Date.now() - started).to.be.below(1500);
    });
  });

  describe('through the in-process queue', () => {
    it('when PutProfileObject is throttled (429, Retry-After: 1), waits about a second, writes once and does not repeat AddProfileKey', async () => {
      const seen: Seen[] = [];
      const { q, outcomes, next } = queue();
      addProfileKey(seen);
      putProfileObject(seen, () => throttled('1'));
      putProfileObject(seen);

      expect(await q.enqueue(job())).to.equal('QUEUED');
      const result = await next();
      await q.close();

      expect(result).to.equal('written');
      expect(outcomes[0]).to.equal('throttled');
      expect(outcomes).to.not.include('retried');
      expect(seen.filter((s) => s.operation === 'AddProfileKey')).to.have.length(1);
      const puts = seen.filter((s) => s.operation === 'PutProfileObject');
      expect(puts).to.have.length(2);
      expect(puts[1]!.at - puts[0]!.at).to.be.at.least(950);
      expect(parseObject(puts[1]!.body)).to.deep.equal(expectedRecord());
      expect(await q.deadLetters.count()).to.equal(0);
    });

    it('when PutProfileObject answers 500 InternalServerException twice, retries with backoff and writes it, AddProfileKey sent once', async () => {
      const seen: Seen[] = [];
      const { q, outcomes, next } = queue(5);
      addProfileKey(seen);
      putProfileObject(seen, () => awsError(500, 'InternalServerException'));
      putProfileObject(seen, () => awsError(500, 'InternalServerException'));
      putProfileObject(seen);

      await q.enqueue(job());
      const result = await next();
      await q.close();

      expect(result).to.equal('written');
      expect(outcomes.filter((o) => o === 'retried')).to.have.length(2);
      expect(seen.map((s) => s.operation)).to.deep.equal(['AddProfileKey', 'PutProfileObject', 'PutProfileObject', 'PutProfileObject']);
      const puts = seen.filter((s) => s.operation === 'PutProfileObject');
      // backoff: 0.5-1 s after the first failure, 1-2 s after the second
      expect(puts[1]!.at - puts[0]!.at).to.be.at.least(450);
      expect(puts[2]!.at - puts[1]!.at).to.be.at.least(950);
      expect(await q.deadLetters.count()).to.equal(0);
    });

    it('when AddProfileKey answers 403 AccessDeniedException, dead-letters at once after one call, naming the operation and error but not the phone number', async () => {
      const seen: Seen[] = [];
      const { q, outcomes, next } = queue(5);
      // the service's message echoes a request value, as AWS messages can
      addProfileKey(seen, () => awsError(403, 'AccessDeniedException', `User is not authorized to add key for ${PHONE}`));

      await q.enqueue(job());
      const result = await next();

      expect(result).to.equal('dead-lettered');
      expect(outcomes).to.deep.equal(['dead-lettered']);
      expect(seen.map((s) => s.operation)).to.deep.equal(['AddProfileKey']);
      const letters = await q.deadLetters.list();
      expect(letters).to.have.length(1);
      expect(letters[0]).to.include({ contactId: 'c0000000-0000-4000-8000-000000000001', profileId: PROFILE_ID, attempts: 1 });
      expect(letters[0]!.error).to.contain('AddProfileKey').and.to.contain('AccessDeniedException');
      expect(letters[0]!.error).to.not.contain('4255550123');
      expect(JSON.stringify(letters)).to.not.contain('4255550123');
      await q.close();
    });

    it('when a dead letter is replayed and Customer Profiles now answers 200, the record is written and the letter is gone', async () => {
      const seen: Seen[] = [];
      const { q, next, rearm } = queue(5);
      addProfileKey(seen, () => awsError(403, 'AccessDeniedException'));
      await q.enqueue(job());
      expect(await next()).to.equal('dead-lettered');
      rearm();
      addProfileKey(seen);
      putProfileObject(seen);

      const replayed = await q.deadLetters.replay({ contactIds: ['c0000000-0000-4000-8000-000000000001'] });
      const result = await next();
      await q.close();

      expect(replayed).to.equal(1);
      expect(result).to.equal('written');
      expect(seen.map((s) => s.operation)).to.deep.equal(['AddProfileKey', 'AddProfileKey', 'PutProfileObject']);
      expect(parseObject(seen[2]!.body)).to.deep.equal(expectedRecord());
      expect(await q.deadLetters.count()).to.equal(0);
      expect(await q.deadLetters.list()).to.deep.equal([]);
    });
  });

  describe('classify()', () => {
    const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
      Object.assign(new Error(`${name} for ${PHONE}`), { name, ...(status !== undefined && { $metadata: { httpStatusCode: status } }), ...extra });

    const table = [
      { name: 'ThrottlingException', status: 429, kind: 'throttled' },
      { name: 'TooManyRequestsException', status: 429, kind: 'throttled' },
      { name: 'SomethingElse', status: 429, kind: 'throttled' },
      { name: 'ThrottlingException', status: 400, kind: 'throttled' },
      { name: 'InternalServerException', status: 500, kind: 'retryable' },
      { name: 'ServiceUnavailableException', status: 503, kind: 'retryable' },
      { name: 'TimeoutError', status: undefined, kind: 'retryable' },
      { name: 'AbortError', status: undefined, kind: 'retryable' },
      { name: 'AccessDeniedException', status: 403, kind: 'permanent' },
      { name: 'BadRequestException', status: 400, kind: 'permanent' },
      { name: 'ResourceNotFoundException', status: 404, kind: 'permanent' },
    ] as const;
    for (const row of table) {
      it(`when the error is ${row.name}${row.status ? ` (${row.status})` : ' without a status'}, classifies it ${row.kind}`, () => {
        const e = classify('PutProfileObject', sdkError(row.name, row.status));

        expect(e).to.be.instanceOf(RecordError);
        expect(e.kind).to.equal(row.kind);
        expect(e.message).to.equal(`PutProfileObject: ${row.name}${row.status ? ` (${row.status})` : ''}`);
      });
    }

    it('when the SDK marks a 400 as throttling, classifies it throttled', () => {
      const e = classify('UpdateContactAttributes', sdkError('LimitExceeded', 400, { $retryable: { throttling: true } }));

      expect(e.kind).to.equal('throttled');
    });

    it('when a non-SDK error (a socket reset) is thrown, classifies it retryable', () => {
      const e = classify('AddProfileKey', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));

      expect(e.kind).to.equal('retryable');
      expect(e.message).to.equal('AddProfileKey: Error');
    });

    const retryAfter = [
      { header: '1', ms: 1000 },
      { header: '2', ms: 2000 },
      { header: '0', ms: 0 },
      { header: 'Wed, 21 Oct 2015 07:28:00 GMT', ms: undefined },
      { header: '-5', ms: undefined },
      { header: undefined, ms: undefined },
    ] as const;
    for (const row of retryAfter) {
      it(`when a throttle carries Retry-After ${row.header === undefined ? '(none)' : JSON.stringify(row.header)}, retryAfterMs is ${String(row.ms)}`, () => {
        const headers = row.header === undefined ? {} : { 'retry-after': row.header };
        const e = classify('PutProfileObject', sdkError('ThrottlingException', 429, { $response: { headers } }));

        expect(e.kind).to.equal('throttled');
        expect(e.retryAfterMs).to.equal(row.ms);
      });
    }

    it('when the error message echoes a phone number, the RecordError message does not, and keeps the error as cause', () => {
      const original = sdkError('AccessDeniedException', 403);

      const e = classify('AddProfileKey', original);

      expect(e.message).to.not.contain('4255550123');
      expect(e.cause).to.equal(original);
    });
  });
});
