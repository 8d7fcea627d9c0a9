// HTTP component tests of POST /v1/resolve and the operational routes: the real app (buildApp, the
// resolver, recent contacts, the logger) on port 0, real fetch. Only the upstream (ProfileStore port)
// is scripted, to make it slow or failing.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import type { Profile } from '../../src/domain/profile.js';
import { ProfileStoreError } from '../../src/profiles/profile.js';
import { startApp, throttled, ScriptedProfileStore, TEST_TOKENS, type RunningApp, type TestAppOptions } from '../support/app.js';
import { loadFixture } from '../support/fixtures.js';

// The answer keys the contract promises (contract.md, "Response 200").
const CONTRACT_KEYS = [
  'customerStatus',
  'profileId',
  'profileMatchCount',
  'identityType',
  'phoneE164',
  'phoneCountry',
  'emailAddress',
  'firstName',
  'lastName',
  'accountNumber',
  'isRepeatContact',
  'lastContactAt',
  'contactRecordStatus',
  'degraded',
  'fallbackReason',
] as const;

const CALLER = '+14255550123'; // voice-e164.json
const JANE: Profile = {
  ProfileId: '3f2a9c4e8b7d4e1fa0c5b6d7e8f90a1b',
  FirstName: 'Jane',
  LastName: 'Doe',
  AccountNumber: 'ACME-1001',
  PhoneNumber: CALLER,
};
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

type Answer = Record<(typeof CONTRACT_KEYS)[number], string> & Record<string, string>;

/** The parts of a fixture event these tests edit. */
interface FixtureEvent {
  Details: {
    ContactData: {
      ContactId?: string;
      InitialContactId?: string;
      PreviousContactId?: string;
      CustomerEndpoint: { Address: string; Type: string };
      [field: string]: unknown;
    };
    Parameters: Record<string, string>;
  };
  padding?: unknown;
  [field: string]: unknown;
}
const fixture = (name: string): FixtureEvent => loadFixture(name) as FixtureEvent;

/** voice-e164.json with a fresh ContactId (and InitialContactId), optionally another caller number. */
function voiceContact(opts: { address?: string; contactId?: string; initialContactId?: string } = {}): FixtureEvent {
  const event = fixture('voice-e164.json');
  const contactId = opts.contactId ?? randomUUID();
  event.Details.ContactData.ContactId = contactId;
  event.Details.ContactData.InitialContactId = opts.initialContactId ?? contactId;
  event.Details.ContactData.PreviousContactId = contactId;
  if (opts.address !== undefined) event.Details.ContactData.CustomerEndpoint.Address = opts.address;
  return event;
}

/** Asserts the contract's answer shape and returns the answer. */
async function expectAnswer(res: Response): Promise<Answer> {
  const text = await res.text();
  expect(res.status, text).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^application\/json\b/);
  expect(Buffer.byteLength(text)).to.be.below(32 * 1024);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body).to.be.an('object').and.not.be.an('array');
  expect(body).to.include.all.keys(...CONTRACT_KEYS);
  for (const [key, value] of Object.entries(body)) expect(value, `answer key ${key}`).to.be.a('string');
  expect(body.profileId).to.match(/^([0-9a-f]{32})?$/);
  expect(body.profileMatchCount).to.match(/^\d+$/);
  expect(body.contactRecordStatus).to.be.oneOf(['QUEUED', 'SKIPPED', 'FAILED']);
  expect(body.degraded).to.be.oneOf(['true', 'false']);
  expect(body.isRepeatContact).to.be.oneOf(['true', 'false']);
  return body as Answer;
}

/** Asserts the contract's error shape (and no internals) and returns the body. */
async function expectError(res: Response, status: number, code: string): Promise<{ text: string; message: string }> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/json\b/);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(body).to.have.all.keys('error');
  expect(body.error).to.have.all.keys('code', 'message');
  expect(body.error.code).to.equal(code);
  expect(body.error.message).to.be.a('string').and.not.equal('');
  expect(text).not.to.match(/\bat .+:\d+:\d+|node_modules|\/src\/|Error:/);
  return { text, message: body.error.message };
}

describe('HTTP POST /v1/resolve', function () {
  let app: RunningApp | undefined;
  const start = async (o: TestAppOptions = {}): Promise<RunningApp> => {
    app = await startApp(o);
    return app;
  };
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  describe('customer statuses', function () {
    it('when the caller number is held by one profile, answers KNOWN with that profile', async () => {
      const { resolve } = await start({ seed: [JANE] });

      const answer = await expectAnswer(await resolve(voiceContact()));

      expect(answer).to.include({
        customerStatus: 'KNOWN',
        profileId: JANE.ProfileId,
        profileMatchCount: '1',
        identityType: 'PHONE',
        phoneE164: CALLER,
        phoneCountry: 'US',
        emailAddress: '',
        firstName: 'Jane',
        lastName: 'Doe',
        accountNumber: 'ACME-1001',
        degraded: 'false',
      });
    });

    it('when the caller is unknown, answers NEW with a created profile, and the next contact from that number is KNOWN with the same profileId', async () => {
      const { resolve, store } = await start();

      const first = await expectAnswer(await resolve(voiceContact()));
      const second = await expectAnswer(await resolve(voiceContact()));

      expect(first).to.include({ customerStatus: 'NEW', profileMatchCount: '0', identityType: 'PHONE', phoneE164: CALLER, degraded: 'false' });
      expect(first.profileId).to.match(/^[0-9a-f]{32}$/);
      expect(second).to.include({ customerStatus: 'KNOWN', profileId: first.profileId, profileMatchCount: '1' });
      expect(store.calls.create).to.equal(1);
    });

    it('when Connect retries the same ContactId of a new caller, answers NEW again with the same profileId and creates no second profile', async () => {
      const { resolve, store } = await start();
      const event = voiceContact();

      const first = await expectAnswer(await resolve(event));
      const retry = await expectAnswer(await resolve(event));

      expect(first.customerStatus).to.equal('NEW');
      expect(retry).to.include({ customerStatus: 'NEW', profileId: first.profileId });
      expect(store.calls.create).to.equal(1);
    });

    describe('when several profiles hold spellings of the caller number, answers MULTIPLE with the count and the documented choice', function () {
      it('prefers the profile whose PhoneNumber is exactly the E.164 value over a smaller ProfileId with a legacy spelling', async () => {
        const legacy: Profile = { ProfileId: '00000000000000000000000000000001', PhoneNumber: '(425) 555-0123', FirstName: 'Legacy' };
        const exact: Profile = { ProfileId: 'ffffffffffffffffffffffffffffff01', PhoneNumber: CALLER, FirstName: 'Exact' };
        const { resolve } = await start({ seed: [legacy, exact] });

        const answer = await expectAnswer(await resolve(voiceContact()));

        expect(answer).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '2', profileId: exact.ProfileId, firstName: 'Exact' });
      });

      it('prefers a legacy spelling in PhoneNumber over an exact match in another phone field', async () => {
        const mobile: Profile = { ProfileId: '00000000000000000000000000000002', MobilePhoneNumber: CALLER, FirstName: 'Mobile' };
        const legacy: Profile = { ProfileId: 'ffffffffffffffffffffffffffffff02', PhoneNumber: '4255550123', FirstName: 'Legacy' };
        const { resolve } = await start({ seed: [mobile, legacy] });

        const answer = await expectAnswer(await resolve(voiceContact()));

        expect(answer).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '2', profileId: legacy.ProfileId });
      });

      it('between equally ranked profiles, picks the smallest ProfileId whatever the seed order', async () => {
        const big: Profile = { ProfileId: 'b0000000000000000000000000000003', PhoneNumber: '14255550123' };
        const small: Profile = { ProfileId: 'a0000000000000000000000000000003', PhoneNumber: '4255550123' };
        const { resolve } = await start({ seed: [big, small] });

        const answer = await expectAnswer(await resolve(voiceContact()));

        expect(answer).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '2', profileId: small.ProfileId });
      });
    });

    it('when the flow passes createProfile "false" for an unknown caller, answers NOT_FOUND and creates nothing (the next contact with creation on is NEW)', async () => {
      const { resolve, store } = await start();
      const task = fixture('task-parameters.json'); // phoneNumber (425) 555-0199, createProfile "false"

      const answer = await expectAnswer(await resolve(task));

      expect(answer).to.include({
        customerStatus: 'NOT_FOUND',
        profileId: '',
        profileMatchCount: '0',
        identityType: 'PHONE',
        phoneE164: '+14255550199',
        contactRecordStatus: 'SKIPPED',
        degraded: 'false',
      });
      expect(store.calls.create).to.equal(0);

      const again = fixture('task-parameters.json');
      again.Details.ContactData.ContactId = randomUUID();
      delete again.Details.Parameters.createProfile;
      const next = await expectAnswer(await resolve(again));
      expect(next.customerStatus).to.equal('NEW');
    });

    it('when the service runs with createProfiles off, answers NOT_FOUND for an unknown caller without creating a profile', async () => {
      const { resolve, store } = await start({ createProfiles: false });

      const answer = await expectAnswer(await resolve(voiceContact()));

      expect(answer).to.include({ customerStatus: 'NOT_FOUND', profileId: '', profileMatchCount: '0', phoneE164: CALLER, contactRecordStatus: 'SKIPPED' });
      expect(store.calls.search).to.equal(1);
      expect(store.calls.create).to.equal(0);
    });

    it('when the caller ID is withheld, answers ANONYMOUS without calling Customer Profiles', async () => {
      const { resolve, store } = await start({ seed: [JANE] });

      const answer = await expectAnswer(await resolve(loadFixture('voice-withheld.json')));

      expect(answer).to.include({
        customerStatus: 'ANONYMOUS',
        profileId: '',
        profileMatchCount: '0',
        identityType: 'NONE',
        phoneE164: '',
        emailAddress: '',
        contactRecordStatus: 'SKIPPED',
      });
      expect(store.calls.search).to.equal(0);
    });
  });

  describe('UNAVAILABLE: a failing or slow Customer Profiles', function () {
    it('when the upstream is throttled, answers 200 UNAVAILABLE, degraded, with the caller identity', async () => {
      const store = new ScriptedProfileStore([JANE]);
      store.behaviour = { kind: 'fail', error: throttled() };
      const { resolve } = await start({ store });

      const answer = await expectAnswer(await resolve(voiceContact()));

      expect(answer).to.include({
        customerStatus: 'UNAVAILABLE',
        profileId: '',
        profileMatchCount: '0',
        identityType: 'PHONE',
        phoneE164: CALLER,
        contactRecordStatus: 'SKIPPED',
        degraded: 'true',
        fallbackReason: 'AWS_THROTTLED',
      });
    });

    it('when the upstream throws an unexpected (non-store) error, still answers 200 UNAVAILABLE', async () => {
      const store = new ScriptedProfileStore([JANE]);
      store.behaviour = { kind: 'fail', error: new TypeError('socket hang up') };
      const { resolve } = await start({ store });

      const answer = await expectAnswer(await resolve(voiceContact()));

      expect(answer).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true', fallbackReason: 'AWS_UNAVAILABLE' });
    });

    for (const failure of ['denied', 'misconfigured'] as const) {
      it(`when Customer Profiles refuses the deployment (${failure}), answers UNAVAILABLE with fallbackReason AWS_MISCONFIGURED, not an outage`, async () => {
        const store = new ScriptedProfileStore([JANE]);
        store.behaviour = { kind: 'fail', error: new ProfileStoreError(failure, `SearchProfiles failed: ${failure}`) };
        const { resolve } = await start({ store });

        const answer = await expectAnswer(await resolve(voiceContact()));

        expect(answer).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true', fallbackReason: 'AWS_MISCONFIGURED' });
      });
    }

    for (const respectSignal of [false, true]) {
      it(`when the upstream hangs (${respectSignal ? 'honouring' : 'ignoring'} the abort signal), answers UNAVAILABLE within RESOLVE_DEADLINE_MS + 100 ms`, async () => {
        const store = new ScriptedProfileStore([JANE]);
        store.behaviour = { kind: 'hang', respectSignal };
        const { resolve } = await start({ store, resolveDeadlineMs: 500 });

        const started = performance.now();
        const answer = await expectAnswer(await resolve(voiceContact()));
        const elapsed = performance.now() - started;

        expect(answer).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true', phoneE164: CALLER, fallbackReason: 'TIMEOUT' });
        expect(elapsed).to.be.below(500 + 100);
      });
    }

    it('when the upstream is slow but inside the deadline, waits for it and answers KNOWN', async () => {
      const store = new ScriptedProfileStore([JANE]);
      store.behaviour = { kind: 'delay', ms: 150, respectSignal: true };
      const { resolve } = await start({ store, resolveDeadlineMs: 1000 });

      const started = performance.now();
      const answer = await expectAnswer(await resolve(voiceContact()));

      expect(performance.now() - started).to.be.at.least(140);
      expect(answer).to.include({ customerStatus: 'KNOWN', profileId: JANE.ProfileId, degraded: 'false', fallbackReason: '' });
    });

    it('when the caller sends X-Deadline-Ms: 300, answers UNAVAILABLE within 300 + 100 ms although RESOLVE_DEADLINE_MS is 2000', async () => {
      const store = new ScriptedProfileStore([JANE]);
      store.behaviour = { kind: 'hang', respectSignal: false };
      const { resolve } = await start({ store, resolveDeadlineMs: 2000 });

      const started = performance.now();
      const answer = await expectAnswer(await resolve(voiceContact(), { 'x-deadline-ms': '300' }));
      const elapsed = performance.now() - started;

      expect(answer).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true' });
      expect(elapsed).to.be.below(300 + 100);
    });

    it('when X-Deadline-Ms is not a positive integer (300ms, 300.5, abc, 0, -300), ignores it and waits the configured deadline', async () => {
      const store = new ScriptedProfileStore([JANE]);
      store.behaviour = { kind: 'hang', respectSignal: false };
      const { resolve } = await start({ store, resolveDeadlineMs: 700 });

      const timings = await Promise.all(
        ['300ms', '300.5', 'abc', '0', '-300'].map(async (header) => {
          const started = performance.now();
          const answer = await expectAnswer(await resolve(voiceContact(), { 'x-deadline-ms': header }));
          return { header, status: answer.customerStatus, elapsed: performance.now() - started };
        }),
      );

      for (const t of timings) {
        expect(t.status, t.header).to.equal('UNAVAILABLE');
        expect(t.elapsed, `X-Deadline-Ms: ${t.header}`).to.be.within(600, 700 + 100);
      }
    });
  });

  describe('repeat contacts', function () {
    it('when the same caller makes a second contact, answers isRepeatContact "true" with the ISO time of the first', async () => {
      const { resolve } = await start({ seed: [JANE] });

      const before = Date.now();
      const first = await expectAnswer(await resolve(voiceContact()));
      const after = Date.now();
      const second = await expectAnswer(await resolve(voiceContact()));

      expect(first).to.include({ isRepeatContact: 'false', lastContactAt: '' });
      expect(second.isRepeatContact).to.equal('true');
      expect(second.lastContactAt).to.match(ISO_TIME);
      expect(Date.parse(second.lastContactAt)).to.be.within(before, after);
    });

    it('when Connect retries the same ContactId, does not count it as a repeat contact', async () => {
      const { resolve } = await start({ seed: [JANE] });
      const event = voiceContact();

      await expectAnswer(await resolve(event));
      const retry = await expectAnswer(await resolve(event));

      expect(retry).to.include({ customerStatus: 'KNOWN', isRepeatContact: 'false', lastContactAt: '' });
    });

    it('when the contact is a transfer of an earlier one (same InitialContactId), does not count it as a repeat contact', async () => {
      const { resolve } = await start({ seed: [JANE] });

      await expectAnswer(await resolve(loadFixture('voice-e164.json')));
      const transfer = await expectAnswer(await resolve(loadFixture('voice-transfer.json')));

      expect(transfer).to.include({ customerStatus: 'KNOWN', isRepeatContact: 'false', lastContactAt: '' });
    });

    it('when another caller contacted before, does not count it as a repeat for this caller', async () => {
      const other: Profile = { ProfileId: '9e107d9d372bb6826bd81d3542a419d6', PhoneNumber: '+14255550155' };
      const { resolve } = await start({ seed: [JANE, other] });

      await expectAnswer(await resolve(voiceContact({ address: '+14255550155' })));
      const answer = await expectAnswer(await resolve(voiceContact()));

      expect(answer).to.include({ profileId: JANE.ProfileId, isRepeatContact: 'false' });
    });
  });

  describe('authentication', function () {
    const post = (url: string, authorization?: string): Promise<Response> =>
      fetch(`${url}/v1/resolve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
        body: JSON.stringify(voiceContact()),
      });

    it('when the Authorization header is missing, uses another scheme or an unknown token, answers 401 UNAUTHORIZED with one identical body', async () => {
      const { url, store } = await start({ seed: [JANE] });

      const bodies: string[] = [];
      for (const authorization of [undefined, `Basic ${TEST_TOKENS[0]}`, 'Bearer not-a-configured-token', 'Bearer ', TEST_TOKENS[0]]) {
        const { text } = await expectError(await post(url, authorization), 401, 'UNAUTHORIZED');
        bodies.push(text);
      }

      expect(new Set(bodies).size, bodies.join('\n')).to.equal(1);
      expect(store.calls.search).to.equal(0);
    });

    it('when the second of two configured tokens is presented (rotation), answers 200', async () => {
      const { url } = await start({ seed: [JANE] });

      const answer = await expectAnswer(await post(url, `Bearer ${TEST_TOKENS[1]}`));

      expect(answer.customerStatus).to.equal('KNOWN');
    });

    it('never writes the presented token to the log', async () => {
      const { url, log } = await start({ seed: [JANE] });

      await post(url, 'Bearer a-secret-but-wrong-token');
      await post(url, `Bearer ${TEST_TOKENS[1]}`);

      expect(log.lines.length).to.be.at.least(2);
      expect(log.text()).not.to.include('a-secret-but-wrong-token');
      expect(log.text()).not.to.include(TEST_TOKENS[1]);
    });
  });

  describe('flow parameters as flows send them, and events as Connect sends them', function () {
    const AMELIA: Profile = { ProfileId: '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d', FirstName: 'Amelia', PhoneNumber: '+442079460958' };

    it('when every parameter is "" (attributes never set), answers as if none were given: NEW for an unknown caller', async () => {
      const { resolve } = await start();
      const event = voiceContact();
      event.Details.Parameters = Object.fromEntries(
        ['phoneNumber', 'emailAddress', 'countryCode', 'createProfile', 'accountNumber', 'profileId', 'searchKey', 'searchValue', 'matchMode', 'operation'].map((p) => [p, '']),
      );

      const answer = await expectAnswer(await resolve(event));

      expect(answer).to.include({ customerStatus: 'NEW', phoneE164: CALLER, verification: 'NOT_CHECKED' });
    });

    it('when countryCode is " gb " and the caller number is national, reads it in GB and finds the caller', async () => {
      const { resolve } = await start({ seed: [AMELIA] });
      const event = voiceContact({ address: '020 7946 0958' });
      event.Details.Parameters = { countryCode: ' gb ' };

      const answer = await expectAnswer(await resolve(event));

      expect(answer).to.include({ customerStatus: 'KNOWN', profileId: AMELIA.ProfileId, phoneCountry: 'GB' });
    });

    it('when createProfile is " FALSE ", creates nothing for an unknown caller (NOT_FOUND)', async () => {
      const { resolve, store } = await start();
      const event = voiceContact();
      event.Details.Parameters = { createProfile: ' FALSE ' };

      const answer = await expectAnswer(await resolve(event));

      expect(answer.customerStatus).to.equal('NOT_FOUND');
      expect(store.calls.create).to.equal(0);
    });

    const queues: Array<[string, unknown]> = [
      ['null', null],
      ['a string', 'BasicQueue'],
      ['an object', { ARN: 'arn:aws:connect:us-west-2:111122223333:instance/i/queue/q', Name: 'BasicQueue' }],
      ['a number', 3],
    ];
    for (const [what, queue] of queues) {
      it(`when Queue is ${what}, answers 200 KNOWN`, async () => {
        const { resolve } = await start({ seed: [AMELIA] });
        const event = voiceContact({ address: AMELIA.PhoneNumber! });
        event.Details.ContactData.Queue = queue;

        expect((await expectAnswer(await resolve(event))).customerStatus).to.equal('KNOWN');
      });
    }

    for (const [channel, read] of [['voice', 'VOICE'], ['Voice', 'VOICE'], ['VOICE', 'VOICE'], ['Video', 'OTHER']] as const) {
      it(`when Channel is "${channel}", answers 200 KNOWN and logs the channel as ${read} (a bounded value)`, async () => {
        const { resolve, log } = await start({ seed: [AMELIA] });
        const event = voiceContact({ address: AMELIA.PhoneNumber! });
        event.Details.ContactData.Channel = channel;

        expect((await expectAnswer(await resolve(event))).customerStatus).to.equal('KNOWN');
        expect(log.lines.filter((l) => l.contactId === event.Details.ContactData.ContactId).map((l) => l.channel)).to.include(read);
      });
    }

    it('when the event carries fields the service does not know, and null where a string is usual, answers 200 KNOWN', async () => {
      const { resolve } = await start({ seed: [AMELIA] });
      const event = voiceContact({ address: AMELIA.PhoneNumber! });
      Object.assign(event.Details.ContactData, {
        SegmentAttributes: { 'connect:Subtype': { ValueString: 'connect:Telephony' } },
        Tags: { team: 'billing' },
        Campaign: { CampaignId: null },
        Customer: { Capabilities: null },
        ContactDetails: { Name: null },
        AdditionalEmailRecipients: { ToList: [], CcList: [] },
        InitiationMethod: null,
        InstanceARN: null,
        PreviousContactId: null,
        SystemEndpoint: null,
      });
      event.Name = 'ContactFlowExecution';

      expect((await expectAnswer(await resolve(event))).customerStatus).to.equal('KNOWN');
    });
  });

  describe('request errors', function () {
    it('when the body is over 64 KB, answers 413 PAYLOAD_TOO_LARGE', async () => {
      const { resolve, store } = await start();
      const event = voiceContact();
      event.padding = 'x'.repeat(65 * 1024);

      await expectError(await resolve(event), 413, 'PAYLOAD_TOO_LARGE');
      expect(store.calls.search).to.equal(0);
    });

    it('when the body is just under 64 KB, still answers 200', async () => {
      const { resolve } = await start();
      const event = voiceContact();
      // unknown fields, each string within the 32 KB a Connect attribute can hold
      event.padding = ['x'.repeat(31 * 1024), 'y'.repeat(31 * 1024)];

      await expectAnswer(await resolve(event));
    });

    it('when the Content-Type is text/plain, answers 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const { resolve } = await start();

      await expectError(await resolve(voiceContact(), { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('when the body is not JSON, answers 400 INVALID_EVENT', async () => {
      const { resolve } = await start();

      await expectError(await resolve('{"Name": "ContactFlowEvent", "Details": '), 400, 'INVALID_EVENT');
    });

    it('when the body is a JSON array, answers 400 INVALID_EVENT', async () => {
      const { resolve } = await start();

      await expectError(await resolve('[{"Name":"ContactFlowEvent"}]'), 400, 'INVALID_EVENT');
    });

    it('when ContactId is missing, answers 400 INVALID_EVENT naming the field', async () => {
      const { resolve } = await start();
      const event = voiceContact();
      delete event.Details.ContactData.ContactId;

      const { message } = await expectError(await resolve(event), 400, 'INVALID_EVENT');

      expect(message).to.include('ContactId');
    });

    const badKeys: Array<[string, Record<string, string>, string]> = [
      ['a profileId that is not 32 hex characters', { profileId: 'not-a-profile-id' }, 'profileId'],
      ['an unknown matchMode', { matchMode: 'most' }, 'matchMode'],
      ['a searchKey outside [a-zA-Z0-9_-]', { searchKey: 'loyalty id', searchValue: 'L-1' }, 'searchKey'],
      ['an accountNumber over 255 characters', { accountNumber: '1'.repeat(256) }, 'accountNumber'],
    ];
    for (const [what, parameters, field] of badKeys) {
      it(`when the flow sends ${what}, answers 400 INVALID_EVENT naming it, and asks Customer Profiles nothing`, async () => {
        const { resolve, store } = await start();
        const event = voiceContact();
        event.Details.Parameters = { ...event.Details.Parameters, ...parameters };

        const { message } = await expectError(await resolve(event), 400, 'INVALID_EVENT');

        expect(message).to.include(`Details.Parameters.${field}`);
        expect(store.calls.search).to.equal(0);
      });
    }

    for (const countryCode of ['UK', 'XX', 'gbr']) {
      it(`when the flow sends countryCode "${countryCode}" (no region libphonenumber-js supports), answers 400 INVALID_EVENT naming it rather than ANONYMOUS`, async () => {
        const { resolve, store } = await start();
        const event = voiceContact({ address: '020 7946 0958' });
        event.Details.Parameters = { countryCode };

        const { message } = await expectError(await resolve(event), 400, 'INVALID_EVENT');

        expect(message).to.include('Details.Parameters.countryCode');
        expect(message).to.not.include(countryCode);
        expect(store.calls.search).to.equal(0);
      });
    }

    it('when the path is unknown, answers 404 NOT_FOUND', async () => {
      const { url } = await start();

      await expectError(await fetch(`${url}/v2/nothing-here`), 404, 'NOT_FOUND');
      await expectError(await fetch(`${url}/v2/nothing-here`, { method: 'POST' }), 404, 'NOT_FOUND');
    });

    it('when /v1/resolve is called with GET, answers 404 NOT_FOUND', async () => {
      const { url } = await start();

      await expectError(await fetch(`${url}/v1/resolve`, { headers: { authorization: `Bearer ${TEST_TOKENS[0]}` } }), 404, 'NOT_FOUND');
    });

    it('when the input is malformed in any of many ways, answers a 4xx JSON error, never a 5xx or a stack trace', async () => {
      const { url, log } = await start();
      const auth = { authorization: `Bearer ${TEST_TOKENS[0]}` };
      const json = { ...auth, 'content-type': 'application/json' };
      const cases: Array<[string, RequestInit]> = [
        ['JSON null', { headers: json, body: 'null' }],
        ['an empty body', { headers: json, body: '' }],
        ['a string', { headers: json, body: '"ContactFlowEvent"' }],
        ['deeply nested arrays', { headers: json, body: '['.repeat(20000) + ']'.repeat(20000) }],
        ['Details a string', { headers: json, body: '{"Details":"x"}' }],
        ['a numeric ContactId', { headers: json, body: '{"Details":{"ContactData":{"ContactId":12,"Channel":"VOICE"}}}' }],
        ['a ContactId with slashes', { headers: json, body: '{"Details":{"ContactData":{"ContactId":"../../etc","Channel":"VOICE"}}}' }],
        ['a numeric caller address', { headers: json, body: '{"Details":{"ContactData":{"ContactId":"c-1","CustomerEndpoint":{"Address":1,"Type":"TELEPHONE_NUMBER"}}}}' }],
        ['an unknown countryCode', { headers: json, body: '{"Details":{"ContactData":{"ContactId":"c-1"},"Parameters":{"countryCode":"UK"}}}' }],
        ['a Latin-1 charset', { headers: { ...auth, 'content-type': 'application/json; charset=latin1' }, body: '{}' }],
        ['a corrupt gzip body', { headers: { ...json, 'content-encoding': 'gzip' }, body: 'not gzip' }],
        ['an unknown content encoding', { headers: { ...json, 'content-encoding': 'xyz' }, body: '{}' }],
        ['no Content-Type', { headers: auth, body: '{}' }],
      ];

      for (const [name, init] of cases) {
        const res = await fetch(`${url}/v1/resolve`, { method: 'POST', ...init });
        const text = await res.text();
        expect(res.status, `${name}: ${text}`).to.be.within(400, 499);
        const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        expect(body.error?.code, name).to.be.a('string');
        expect(body.error?.message, name).to.be.a('string');
        expect(text, name).not.to.match(/\bat .+:\d+:\d+|node_modules|\/src\//);
      }
      expect(log.lines.filter((l) => (l.level as number) >= 50), 'error log lines').to.deep.equal([]);
    });
  });
});

describe('HTTP operational routes', function () {
  let app: RunningApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  it('GET /healthz answers 200 while the process serves', async () => {
    app = await startApp();

    const res = await fetch(`${app.url}/healthz`);

    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json\b/);
  });

  it('GET /readyz answers 200 with a JSON body when ready', async () => {
    app = await startApp();

    const res = await fetch(`${app.url}/readyz`);

    expect(res.status).to.equal(200);
    expect(await res.json()).to.be.an('object');
  });

  it('GET /readyz answers 503 while readiness says not ready (starting or draining)', async () => {
    app = await startApp();

    app.setState('draining');
    const res = await fetch(`${app.url}/readyz`);

    expect(res.status).to.equal(503);
    expect(res.headers.get('content-type')).to.match(/^application\/json\b/);
  });

  it('no response carries X-Powered-By', async () => {
    app = await startApp({ seed: [JANE] });

    const responses = [
      await fetch(`${app.url}/healthz`),
      await fetch(`${app.url}/readyz`),
      await fetch(`${app.url}/nothing`),
      await app.resolve(voiceContact()),
      await app.resolve(voiceContact(), { authorization: 'Bearer wrong' }),
    ];

    for (const res of responses) {
      await res.arrayBuffer();
      expect(res.headers.has('x-powered-by'), res.url).to.equal(false);
    }
  });
});
