import { expect } from 'chai';
import nock from 'nock';
import { localState } from '../support/state.js';
import { ContactResolver } from '../../src/contact/resolve.js';
import { parseContactEvent } from '../../src/contact/event.js';
import { parseAttributeMapping } from '../../src/domain/mapping.js';
import { createHotPathClients } from '../../src/aws/clients.js';
import { AccountQuota, type QuotaObserver } from '../../src/cache/quota.js';
import { bindRequestContext } from '../../src/ops/context.js';
import { CustomerProfilesStore } from '../../src/profiles/customer-profiles.js';
import { useNock } from '../support/nock.js';
import { loadFixture } from '../support/fixtures.js';

const ENDPOINT = 'https://profile.us-east-1.amazonaws.com';
const DOMAIN = 'acme-contacts';
const PROFILE_ID = '0123456789abcdef0123456789abcdef';

/** The hot path's clients and the store as the service builds them (backends/profiles.ts), with the fleet's share. */
function resolver(deadlineMs = 2000, quota = new AccountQuota({ default: 60, perOperation: new Map() })): ContactResolver {
  const { lookup, enrich } = createHotPathClients({
    region: 'us-east-1',
    requestTimeoutMs: deadlineMs,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
  const mapping = parseAttributeMapping({ attributes: { customerTier: 'Attributes.tier' } }).mapping;
  return new ContactResolver({
    store: new CustomerProfilesStore(lookup, DOMAIN, enrich, quota),
    ...localState(mapping),
    mapping,
    defaultCountry: 'US',
    createProfiles: true,
  });
}

async function resolve(fixture: string, deadlineMs = 2000, quota?: AccountQuota, parameters: Record<string, string> = {}) {
  const raw = loadFixture(fixture);
  Object.assign((raw as { Details: { Parameters: Record<string, string> } }).Details.Parameters, parameters);
  // the resolver (its SDK client) and the event are made before the clock starts: `ms` is the resolve
  // call alone, timed from when its deadline's signal is created
  const subject = resolver(deadlineMs, quota);
  const event = parseContactEvent(raw);
  const started = Date.now();
  const signal = AbortSignal.timeout(deadlineMs);
  // as the resolve route does: the request's deadline goes with its signal
  bindRequestContext(signal, { awsCalls: [], deadlineAt: started + deadlineMs });
  const r = await subject.resolve(event, signal);
  return { ...r, ms: Date.now() - started };
}

const awsError = (status: number, type: string) => ({
  status,
  body: { message: `${type} from the test` },
  headers: { 'X-Amzn-Errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.profile/` },
});

describe('Customer Profiles through the real SDK (contract, nock)', () => {
  useNock();

  it('when a voice caller is known, sends one SearchProfiles on _phone with the E.164 value and its legacy spellings', async () => {
    let body: unknown;
    const scope = nock(ENDPOINT)
      .post(`/domains/${DOMAIN}/profiles/search`, (b: unknown) => {
        body = b;
        return true;
      })
      .query({ 'max-results': '100' })
      .matchHeader('content-type', 'application/json')
      .matchHeader('authorization', /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/profile\/aws4_request/)
      .reply(200, {
        Items: [{ ProfileId: PROFILE_ID, FirstName: 'Jane', LastName: 'Doe', AccountNumber: 'A-1', PhoneNumber: '4255550123', Attributes: { tier: 'gold' } }],
      });

    const r = await resolve('voice-national-digits.json');

    expect(body).to.deep.equal({
      KeyName: '_phone',
      Values: ['+14255550123', '14255550123', '4255550123', '(425) 555-0123', '+1 425 555 0123'],
    });
    expect(scope.isDone()).to.equal(true);
    expect(r.answer).to.include({
      customerStatus: 'KNOWN',
      profileId: PROFILE_ID,
      profileMatchCount: '1',
      firstName: 'Jane',
      lastName: 'Doe',
      accountNumber: 'A-1',
      customerTier: 'gold',
      degraded: 'false',
    });
  });

  it('when a chat carries an e-mail attribute, searches _email with the normalised and the original spelling', async () => {
    let body: unknown;
    nock(ENDPOINT)
      .post(`/domains/${DOMAIN}/profiles/search`, (b: unknown) => {
        body = b;
        return true;
      })
      .query(true)
      .reply(200, { Items: [{ ProfileId: PROFILE_ID, EmailAddress: 'jane.doe@example.com' }] });

    const r = await resolve('chat-email-attribute.json');

    expect(body).to.deep.equal({ KeyName: '_email', Values: ['jane.doe@example.com', 'Jane.Doe@Example.COM'] });
    expect(r.answer).to.include({ customerStatus: 'KNOWN', identityType: 'EMAIL', emailAddress: 'jane.doe@example.com' });
  });

  it('when no profile matches, creates one with the E.164 PhoneNumber, PartyTypeString INDIVIDUAL and a source attribute', async () => {
    let created: unknown;
    nock(ENDPOINT).post(`/domains/${DOMAIN}/profiles/search`).query(true).reply(200, { Items: [] });
    nock(ENDPOINT)
      .post(`/domains/${DOMAIN}/profiles`, (b: unknown) => {
        created = b;
        return true;
      })
      .reply(200, { ProfileId: PROFILE_ID });

    const r = await resolve('voice-uk.json');

    expect(created).to.deep.equal({
      PhoneNumber: '+442079460958',
      PartyTypeString: 'INDIVIDUAL',
      Attributes: { createdBy: 'connect-profile-resolver', createdFromContactId: 'a1f0c3d2-6e4b-4f7a-8c9d-0e1f2a3b4c5d' },
    });
    expect(r.answer).to.include({ customerStatus: 'NEW', profileId: PROFILE_ID, profileMatchCount: '0', phoneCountry: 'GB' });
  });

  it('when an e-mail contact is new, creates the profile with EmailAddress', async () => {
    let created: Record<string, unknown> = {};
    nock(ENDPOINT).post(`/domains/${DOMAIN}/profiles/search`).query(true).reply(200, { Items: [] });
    nock(ENDPOINT)
      .post(`/domains/${DOMAIN}/profiles`, (b: Record<string, unknown>) => {
        created = b;
        return true;
      })
      .reply(200, { ProfileId: PROFILE_ID });

    const r = await resolve('email-channel.json');

    expect(created.EmailAddress).to.equal('ravi.k@example.org');
    expect(created).to.not.have.property('PhoneNumber');
    expect(r.answer.customerStatus).to.equal('NEW');
  });

  it('when the flow turns creation off, answers NOT_FOUND without CreateProfile', async () => {
    nock(ENDPOINT).post(`/domains/${DOMAIN}/profiles/search`).query(true).reply(200, { Items: [] });

    const r = await resolve('task-parameters.json');

    expect(r.answer).to.include({ customerStatus: 'NOT_FOUND', profileId: '', contactRecordStatus: 'SKIPPED' });
  });

  it('when several profiles match, answers MULTIPLE with the one holding the exact E.164 PhoneNumber', async () => {
    nock(ENDPOINT)
      .post(`/domains/${DOMAIN}/profiles/search`)
      .query(true)
      .reply(200, {
        Items: [
          { ProfileId: '00000000000000000000000000000001', PhoneNumber: '4255550123' },
          { ProfileId: 'ffffffffffffffffffffffffffffffff', PhoneNumber: '+14255550123' },
          { ProfileId: '00000000000000000000000000000000', MobilePhoneNumber: '+14255550123' },
        ],
      });

    const r = await resolve('voice-e164.json');

    expect(r.answer).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '3', profileId: 'ffffffffffffffffffffffffffffffff' });
  });

  const failures = [
    // the SDK does not retry it: the store tries once more, through the fleet's share (below)
    { status: 429, type: 'ThrottlingException', failure: 'throttled', attempts: 2 },
    { status: 500, type: 'InternalServerException', failure: 'unavailable', attempts: 2 },
    { status: 403, type: 'AccessDeniedException', failure: 'denied', attempts: 1 },
    { status: 404, type: 'ResourceNotFoundException', failure: 'misconfigured', attempts: 1 },
  ] as const;
  for (const f of failures) {
    it(`when SearchProfiles answers ${f.status} ${f.type}, answers 200 UNAVAILABLE, degraded, after ${f.attempts} attempt(s)`, async () => {
      let attempts = 0;
      nock(ENDPOINT)
        .post(`/domains/${DOMAIN}/profiles/search`)
        .query(true)
        .times(f.attempts)
        .reply(() => {
          attempts++;
          const e = awsError(f.status, f.type);
          return [e.status, e.body, e.headers];
        });

      const r = await resolve('voice-e164.json');

      expect(attempts).to.equal(f.attempts);
      expect(r.failure).to.equal(f.failure);
      expect(r.answer).to.include({ customerStatus: 'UNAVAILABLE', profileId: '', degraded: 'true', contactRecordStatus: 'SKIPPED', phoneE164: '+14255550123' });
    });
  }

  it("when SearchProfiles is throttled, backs the fleet off and tries again only in a slot of the fleet's share, not at once", async () => {
    const times: number[] = [];
    nock(ENDPOINT)
      .post(`/domains/${DOMAIN}/profiles/search`)
      .query(true)
      .times(2)
      .reply(() => {
        times.push(Date.now());
        const e = awsError(429, 'ThrottlingException');
        return [e.status, e.body, e.headers];
      });
    const events: string[] = [];
    const observer: QuotaObserver = {
      booked: (op, priority, result) => events.push(`${op} ${priority} ${result}`),
      // the rate climbs back from the cut by the millisecond: 5.001 a second 1 ms after it
      rate: (op, perSecond) => events.push(`${op} at ${Math.round(perSecond)}/s`),
      throttled: (op) => events.push(`${op} throttled`),
    };
    // 10 a second: a slot every 102 ms, 204 ms at the halved rate
    const r = await resolve('voice-e164.json', 2000, new AccountQuota({ default: 10, perOperation: new Map() }, observer));

    expect(r.failure).to.equal('throttled');
    expect(r.answer).to.include({ customerStatus: 'UNAVAILABLE', fallbackReason: 'AWS_THROTTLED' });
    expect(events).to.deep.equal([
      'SearchProfiles at 10/s',
      'SearchProfiles live granted',
      'SearchProfiles throttled',
      'SearchProfiles at 5/s',
      'SearchProfiles live waited',
      'SearchProfiles throttled',
    ]);
    // one gap of the halved rate (204 ms) after the 429, at the soonest
    expect(times[1]! - times[0]!).to.be.at.least(195);
  });

  it("when the fleet's share has no slot before the deadline, answers UNAVAILABLE with fallbackReason QUOTA at once, calling nothing", async () => {
    const quota = new AccountQuota({ default: 1, perOperation: new Map() });
    await quota.acquire('SearchProfiles', 'live'); // the next slot is a second away
    const r = await resolve('voice-e164.json', 500, quota);

    expect(r.failure).to.equal('quota');
    expect(r.answer).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true', fallbackReason: 'QUOTA', contactRecordStatus: 'SKIPPED' });
    expect(r.ms).to.be.below(100);
  });

  it("leaves a new caller's creation its time: a search whose slot would leave none is not made (QUOTA at once), one with creation off waits for it", async () => {
    // 1 a second: the next SearchProfiles slot is ~1020 ms away; a search reserves 250 ms (nothing measured),
    // a creation 850 ms (its calls have taken 400 ms)
    const quota = new AccountQuota({ default: 1, perOperation: new Map() });
    for (let i = 0; i < 100; i++) quota.observeCall('CreateProfile', 400);
    await quota.acquire('SearchProfiles', 'live');
    // deadline 1500 ms: the search, with the creation after it, must start by 400 ms
    const withCreation = await resolve('voice-e164.json', 1500, quota);
    expect(withCreation.failure).to.equal('quota');
    expect(withCreation.answer).to.include({ customerStatus: 'UNAVAILABLE', fallbackReason: 'QUOTA' });
    expect(withCreation.ms).to.be.below(100);

    // without creation the search alone must start by 1250 ms: it waits for its slot
    nock(ENDPOINT).post(`/domains/${DOMAIN}/profiles/search`).query(true).reply(200, { Items: [] });
    const searchOnly = await resolve('voice-e164.json', 1500, quota, { createProfile: 'false' });
    expect(searchOnly.failure).to.equal(undefined);
    expect(searchOnly.answer).to.include({ customerStatus: 'NOT_FOUND', fallbackReason: '' });
    expect(searchOnly.ms).to.be.at.least(400);
  });

  it('when CreateProfile is throttled, answers UNAVAILABLE rather than an error', async () => {
    nock(ENDPOINT).post(`/domains/${DOMAIN}/profiles/search`).query(true).reply(200, { Items: [] });
    const e = awsError(429, 'ThrottlingException');
    nock(ENDPOINT).post(`/domains/${DOMAIN}/profiles`).times(2).reply(e.status, e.body, e.headers);

    const r = await resolve('voice-e164.json');

    expect(r.answer).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true' });
    expect(r.failure).to.equal('throttled');
  });

  it('when SearchProfiles hangs, the call is cancelled and the answer comes at the deadline', async () => {
    nock(ENDPOINT).post(`/domains/${DOMAIN}/profiles/search`).query(true).delay(5000).reply(200, { Items: [] });

    const r = await resolve('voice-e164.json', 300);

    expect(r.answer).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true' });
    expect(r.failure).to.equal('timeout');
    expect(r.ms).to.be.within(290, 400);
  });

  it('when the caller ID is withheld, answers ANONYMOUS without calling Customer Profiles', async () => {
    const r = await resolve('voice-withheld.json');

    expect(r.answer).to.include({ customerStatus: 'ANONYMOUS', identityType: 'NONE', profileId: '' });
  });
});
