// The screen pop (issue 26, part 1): every answer carries `profileSearchKey` / `profileSearchValue`,
// the user-defined contact attributes the agent workspace opens a profile by (Administrator Guide,
// "Automatically populate a customer profile"), and with CONNECT_STAMP the service sets them on the
// contact itself. Two replicas on one Redis, the real SDK against the AWS fake.
import { ConnectClient, UpdateContactAttributesCommand } from '@aws-sdk/client-connect';
import { expect } from 'chai';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { eventFrom } from '../support/fixtures.js';
import { RedisServer } from '../support/redis.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const INSTANCE_ID = '9f1c2b7e-4a52-4c0e-9d3f-2b1f6c0a7e11'; // the fixtures' InstanceARN

let seq = 0;
/** A fresh valid US number (555-01xx is the fictional range) and ContactId for each contact. */
const nextNumber = () => `+1206555${String(100 + (seq++ % 100)).padStart(4, '0')}`;
const nextContact = () => `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;

const voice = (phone: string, contactId = nextContact(), parameters?: Record<string, string>) =>
  eventFrom('voice-e164.json', { address: phone, contactId, ...(parameters && { parameters }) });
const withheld = (parameters: Record<string, string>, contactId = nextContact()) => eventFrom('voice-withheld-account.json', { contactId, parameters });
const contactIdOf = (event: Record<string, unknown>) => (event as { Details: { ContactData: { ContactId: string } } }).Details.ContactData.ContactId;

const pop = (body: Record<string, string>) => [body.profileSearchKey, body.profileSearchValue];

describe('screen pop: the profile the agent workspace opens (profileSearchKey, profileSearchValue), on two replicas', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  let redis: RedisServer;
  let apps: RunningService[] = [];

  const start = (extra: Record<string, string> = {}) =>
    startService({ CUSTOMER_PROFILES_DOMAIN: DOMAIN, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url, REDIS_URL: redis.url, ...extra });

  /**
   * The same caller's answers three ways: a first contact on one replica (Customer Profiles), a second on
   * the other (the cache hit), and Connect's retry of the second on the first (its kept answer, rebuilt from
   * the cached lookup and the contact's keys). Every contact's answer must pop the same.
   */
  async function threeWays(event: (contactId: string) => Record<string, unknown>): Promise<Array<Record<string, string>>> {
    const first = await postEvent(apps[0]!.url, event(nextContact()));
    const second = event(nextContact());
    const hit = await postEvent(apps[1]!.url, second);
    const retry = await postEvent(apps[0]!.url, second);
    for (const r of [first, hit, retry]) expect(r.status).to.equal(200);
    expect(retry.body, 'the retry gets the answer the contact got').to.deep.equal(hit.body);
    return [first.body, hit.body, retry.body];
  }

  before(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
    fake.reset();
  });
  after(() => redis.stop());

  describe('in the answer', () => {
    beforeEach(async () => {
      apps = [await start(), await start()];
    });

    it('when one profile has the number (KNOWN), pops it by _profileId on both replicas and on a retry', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Kim' });

      const answers = await threeWays((id) => voice(phone, id));

      for (const a of answers) expect(a).to.include({ customerStatus: 'KNOWN', profileId: ProfileId, profileSearchKey: '_profileId', profileSearchValue: ProfileId });
    });

    it('when the caller is new (NEW), pops the profile just created; the next contact, on the other replica, pops the same one', async () => {
      const phone = nextNumber();

      const created = await postEvent(apps[0]!.url, voice(phone));
      const next = await postEvent(apps[1]!.url, voice(phone));

      expect(created.body).to.include({ customerStatus: 'NEW', profileSearchKey: '_profileId' });
      expect(created.body.profileSearchValue).to.match(/^[0-9a-f]{32}$/).and.equal(created.body.profileId);
      expect(next.body).to.include({ customerStatus: 'KNOWN', profileSearchKey: '_profileId', profileSearchValue: created.body.profileId });
    });

    it('when several profiles share the number (MULTIPLE), pops the search that lists them: _phone with the E.164 number, not the chosen profile', async () => {
      const phone = nextNumber();
      const home = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Ann' });
      fake.seedProfile({ MobilePhoneNumber: phone, FirstName: 'Ben' });
      // a legacy spelling is found by the service's search, not by the agent's: the pop uses the spelling the service creates
      fake.seedProfile({ PhoneNumber: phone.slice(2), FirstName: 'Cy' });

      const answers = await threeWays((id) => voice(phone, id));

      for (const a of answers) {
        expect(a).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '3', profileId: home.ProfileId, profileSearchKey: '_phone', profileSearchValue: phone });
      }
    });

    it('when several profiles share the e-mail address (MULTIPLE), pops _email with the normalised address', async () => {
      fake.seedProfile({ EmailAddress: 'kai@example.com' });
      fake.seedProfile({ BusinessEmailAddress: 'kai@example.com' });

      const answers = await threeWays((id) => voice('anonymous', id, { emailAddress: '  Kai@Example.COM ' }));

      for (const a of answers) expect(a).to.include({ customerStatus: 'MULTIPLE', identityType: 'EMAIL', profileSearchKey: '_email', profileSearchValue: 'kai@example.com' });
    });

    it('when a withheld caller is found by the account number alone (KNOWN), pops the profile by _profileId', async () => {
      const { ProfileId } = fake.seedProfile({ AccountNumber: 'ACME-3001', FirstName: 'Ravi' });

      const answers = await threeWays((id) => withheld({ accountNumber: 'ACME-3001' }, id));

      for (const a of answers) {
        expect(a).to.include({ customerStatus: 'KNOWN', identityType: 'NONE', matchedBy: '_account', profileSearchKey: '_profileId', profileSearchValue: ProfileId });
      }
    });

    it('when a withheld caller types an account number several profiles hold (MULTIPLE), pops _account with the number typed, on a retry too', async () => {
      fake.seedProfile({ AccountNumber: 'ACME-3002' });
      fake.seedProfile({ AccountNumber: 'ACME-3002' });

      const answers = await threeWays((id) => withheld({ accountNumber: ' ACME-3002 ' }, id));

      for (const a of answers) expect(a).to.include({ customerStatus: 'MULTIPLE', identityType: 'NONE', profileSearchKey: '_account', profileSearchValue: 'ACME-3002' });
    });

    it('when several profiles share the number but the account number narrows them to one (MULTIPLE, VERIFIED), pops that one by _profileId', async () => {
      const phone = nextNumber();
      fake.seedProfile({ PhoneNumber: phone });
      const holder = fake.seedProfile({ MobilePhoneNumber: phone, AccountNumber: 'ACME-3003' });

      const answers = await threeWays((id) => voice(phone, id, { accountNumber: 'ACME-3003' }));

      for (const a of answers) expect(a).to.include({ customerStatus: 'MULTIPLE', verification: 'VERIFIED', profileSearchKey: '_profileId', profileSearchValue: holder.ProfileId });
    });

    it('when ID&V fails (MISMATCH), pops nothing: neither the profile the account number claims, nor the caller\'s, nor a search listing them', async () => {
      const phone = nextNumber();
      const own = fake.seedProfile({ PhoneNumber: phone });
      const claimed = fake.seedProfile({ AccountNumber: 'ACME-3004' });

      const claimedElsewhere = await threeWays((id) => voice(phone, id, { accountNumber: 'ACME-3004' }));
      // another caller with a profile of their own: two failed checks each, under the lockout (3 a caller)
      const phone2 = nextNumber();
      const own2 = fake.seedProfile({ PhoneNumber: phone2 });
      const claimedNobody = await threeWays((id) => voice(phone2, id, { accountNumber: 'NOPE-0000' }));

      for (const a of [...claimedElsewhere, ...claimedNobody]) {
        expect(a).to.include({ verification: 'MISMATCH', profileId: '', profileSearchKey: '', profileSearchValue: '' });
        for (const id of [own.ProfileId, own2.ProfileId, claimed.ProfileId, 'ACME-3004']) expect(JSON.stringify(a)).not.to.include(id);
      }
      // a wrong account number and one nobody has answer alike: what the caller's own number found
      expect(claimedElsewhere[0]!.customerStatus).to.equal('KNOWN');
      expect(claimedNobody[0]!.customerStatus).to.equal('KNOWN');
    });

    it('when there is nothing to look up by (ANONYMOUS) or no profile is found (NOT_FOUND), pops nothing', async () => {
      const anonymous = await postEvent(apps[0]!.url, eventFrom('voice-withheld.json', { contactId: nextContact() }));
      const notFound = await postEvent(apps[1]!.url, voice(nextNumber(), nextContact(), { createProfile: 'false' }));

      expect(anonymous.body).to.include({ customerStatus: 'ANONYMOUS' });
      expect(notFound.body).to.include({ customerStatus: 'NOT_FOUND' });
      for (const a of [anonymous.body, notFound.body]) expect(pop(a)).to.deep.equal(['', '']);
    });

    it('when Customer Profiles fails (UNAVAILABLE), pops nothing', async () => {
      fake.fail({ status: 500, errorType: 'InternalServerException', times: 10 });

      const answer = await postEvent(apps[0]!.url, voice(nextNumber()));

      expect(answer.body).to.include({ customerStatus: 'UNAVAILABLE', profileSearchKey: '', profileSearchValue: '' });
    });
  });

  describe('stamped on the contact (CONNECT_STAMP)', () => {
    const PER_SECOND = 2;

    beforeEach(async () => {
      const stamping = { CONNECT_STAMP: 'true', CONNECT_STAMP_PER_SECOND: String(PER_SECOND), AWS_ENDPOINT_URL_CONNECT: fake.url };
      apps = [await start(stamping), await start(stamping)];
    });

    it('sets profileSearchKey and profileSearchValue in the same UpdateContactAttributes as profileId, one call a contact, paced fleet-wide; never "" over what the flow set', async () => {
      const known = nextNumber();
      const knownProfile = fake.seedProfile({ PhoneNumber: known });
      const shared = nextNumber();
      const chosen = fake.seedProfile({ PhoneNumber: shared });
      fake.seedProfile({ MobilePhoneNumber: shared });
      const byAccount = fake.seedProfile({ AccountNumber: 'ACME-3101' });
      const own = nextNumber();
      const ownProfile = fake.seedProfile({ PhoneNumber: own });
      fake.seedProfile({ AccountNumber: 'ACME-3102' });

      const events = {
        known: voice(known),
        multiple: voice(shared),
        account: withheld({ accountNumber: 'ACME-3101' }),
        // the phone found the caller's own profile and the account number another: the contact is the
        // caller's (its record is written, profileId stamped as before), but nothing pops
        mismatch: voice(own, nextContact(), { accountNumber: 'ACME-3102' }),
        created: voice(nextNumber()),
        anonymous: eventFrom('voice-withheld.json', { contactId: nextContact() }),
      };
      // the flow set a pop of its own on the MISMATCH contact before the service's stamp comes
      const connect = new ConnectClient({ region: 'us-east-1', endpoint: fake.url });
      const flowPop = { profileSearchKey: '_email', profileSearchValue: 'set-by-flow@example.com' };
      await connect.send(new UpdateContactAttributesCommand({ InstanceId: INSTANCE_ID, InitialContactId: contactIdOf(events.mismatch), Attributes: flowPop }));
      connect.destroy();

      const names = Object.keys(events) as Array<keyof typeof events>;
      const answers = Object.fromEntries(
        await Promise.all(names.map(async (name, i) => [name, (await postEvent(apps[i % 2]!.url, events[name])).body] as const)),
      ) as Record<keyof typeof events, Record<string, string>>;
      expect(answers.mismatch).to.include({ verification: 'MISMATCH', contactRecordStatus: 'QUEUED' });
      expect(answers.anonymous).to.include({ customerStatus: 'ANONYMOUS', contactRecordStatus: 'SKIPPED' });

      const stamped = names.filter((n) => n !== 'anonymous');
      const attributes = (name: keyof typeof events) => fake.contactAttributes(contactIdOf(events[name]));
      await until('every contact with a record stamped', () => stamped.every((n) => attributes(n)?.profileId !== undefined), 20_000);
      // the service's stamps (the flow's own call above is not one)
      const stamps = () => fake.callsTo('UpdateContactAttributes').filter((c) => c.status === 200 && (c.body as { Attributes: Record<string, string> }).Attributes.profileId !== undefined);
      expect(stamps()).to.have.length(stamped.length);

      expect(attributes('known')).to.deep.equal({ profileId: knownProfile.ProfileId, customerStatus: 'KNOWN', profileSearchKey: '_profileId', profileSearchValue: knownProfile.ProfileId });
      expect(attributes('multiple')).to.deep.equal({ profileId: chosen.ProfileId, customerStatus: 'MULTIPLE', profileSearchKey: '_phone', profileSearchValue: shared });
      expect(attributes('account')).to.deep.equal({ profileId: byAccount.ProfileId, customerStatus: 'KNOWN', profileSearchKey: '_profileId', profileSearchValue: byAccount.ProfileId });
      expect(attributes('created')).to.deep.equal({ profileId: answers.created.profileId, customerStatus: 'NEW', profileSearchKey: '_profileId', profileSearchValue: answers.created.profileId });
      // no pop keys sent at all: the flow's own values stay
      expect(attributes('mismatch')).to.deep.equal({ profileId: ownProfile.ProfileId, customerStatus: 'KNOWN', ...flowPop });
      expect(attributes('anonymous')).to.equal(undefined);
      // each stamp is what the answer said, in one call a contact
      for (const name of stamped) {
        const sent = stamps().filter((c) => (c.body as { InitialContactId: string }).InitialContactId === contactIdOf(events[name]));
        expect(sent, name).to.have.length(1);
        expect(pop((sent[0]!.body as { Attributes: Record<string, string> }).Attributes), name).to.deep.equal(
          answers[name].profileSearchKey === '' ? [undefined, undefined] : pop(answers[name]),
        );
      }
      // paced by CONNECT_STAMP_PER_SECOND across both replicas: the stamps cannot have gone faster than the slots allow
      // (each goes at or after its slot, the slots 1000 / PER_SECOND ms apart; 100 ms for the first one's lateness)
      const at = stamps().map((c) => c.at).sort((a, b) => a - b);
      expect(at.at(-1)! - at[0]!).to.be.at.least(((stamped.length - 1) * 1000) / PER_SECOND - 100);
    });
  });
});
