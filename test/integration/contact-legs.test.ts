// A contact's later legs (issue 26, part 3): a transfer, a queue transfer or a callback is a new contact
// whose event names the earlier ones (InitialContactId, PreviousContactId). A later leg of the same caller is
// answered from the earlier leg's resolution, with its verification and without a new lookup; another caller,
// or the same caller asked with other keys, is looked up afresh; nothing is carried past the window.
// Two replicas on one Redis, the real SDK against the AWS fake.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { eventFrom } from '../support/fixtures.js';
import { RedisServer } from '../support/redis.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
/** the calls a contact's record makes in the background; every other call is the answer's */
const RECORD_WRITES = new Set(['AddProfileKey', 'PutProfileObject', 'UpdateProfile', 'UpdateContactAttributes']);

let seq = 0;
const nextNumber = () => `+1206555${String(200 + (seq++ % 100)).padStart(4, '0')}`;
const nextContact = () => `00000000-0000-4000-8000-${String(++seq + 500_000).padStart(12, '0')}`;

type Event = Record<string, unknown> & { Details: { ContactData: Record<string, unknown> } };
const voice = (phone: string, contactId = nextContact(), parameters?: Record<string, string>) =>
  eventFrom('voice-e164.json', { address: phone, contactId, ...(parameters && { parameters }) }) as Event;
/** A later leg: Connect's new ContactId naming the earlier contact, as a transfer (InitialContactId) or a callback (PreviousContactId) does. */
function laterLeg(event: Event, earlier: string, method: 'TRANSFER' | 'QUEUE_TRANSFER' | 'CALLBACK' = 'TRANSFER'): Event {
  const data = event.Details.ContactData;
  data.InitiationMethod = method;
  data.PreviousContactId = earlier;
  // a callback is a contact of its own (its InitialContactId is itself) that names the one it calls back
  data.InitialContactId = method === 'CALLBACK' ? data.ContactId : earlier;
  return event;
}
/** replicas that only answer (their records wait in Redis): they start in milliseconds */
const NO_WORKER = { RECORD_WORKER: 'false' };
const contactIdOf = (event: Event) => event.Details.ContactData.ContactId as string;

describe('a contact\'s later legs (transfer, queue transfer, callback) on two replicas', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  let redis: RedisServer;
  let client: Redis;
  let apps: RunningService[] = [];
  let dir: string;

  // Profile fields only: an enrichment source is called again once its values are older than
  // ENRICHMENT_TTL_SECONDS (or it failed), on a carried leg as on any cache hit; here every call counted is a lookup.
  const start = (extra: Record<string, string> = {}) =>
    startService({
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis.url,
      ATTRIBUTE_MAPPING_FILE: join(dir, 'fields.json'),
      ...extra,
    });
  /** The Customer Profiles calls the answers made since `mark` (the records' background writes left out). */
  const answerCalls = (mark: number) => fake.calls.slice(mark).filter((c) => !RECORD_WRITES.has(c.operation));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cpr-legs-'));
    writeFileSync(join(dir, 'fields.json'), JSON.stringify({ attributes: { customerTier: 'Attributes.tier' } }));
    redis = await RedisServer.start();
    client = redis.client();
  });
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
    fake.reset();
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('within the window (the default, 900 s)', () => {
    // one fleet for the block (a replica with its record thread takes over a second to start); every test has callers of its own
    let fleet: RunningService[] = [];
    before(async () => {
      fleet = [await start(), await start()];
    });
    beforeEach(() => {
      apps = fleet;
    });
    afterEach(() => {
      apps = [];
    });
    after(() => Promise.all(fleet.map((a) => a.stop())));

    it('a transfer after a VERIFIED first leg answers VERIFIED from it, with no Customer Profiles call, on the other replica; a retry gets the same; its record goes to the profile', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7001', FirstName: 'Noor' });
      const first = voice(phone, nextContact(), { accountNumber: 'ACME-7001' });
      const verified = await postEvent(apps[0]!.url, first);
      expect(verified.body).to.include({ customerStatus: 'KNOWN', verification: 'VERIFIED', carriedFromContactId: '' });

      const mark = fake.calls.length;
      // the transfer's flow asks with the phone number alone: the verification the account number earned carries
      const transfer = laterLeg(voice(phone), contactIdOf(first));
      const carried = await postEvent(apps[1]!.url, transfer);
      const retried = await postEvent(apps[0]!.url, transfer);

      expect(carried.body).to.include({
        customerStatus: 'KNOWN',
        verification: 'VERIFIED',
        profileId: ProfileId,
        firstName: 'Noor',
        matchedBy: verified.body.matchedBy,
        carriedFromContactId: contactIdOf(first),
        profileSearchKey: '_profileId',
        profileSearchValue: ProfileId,
        contactRecordStatus: 'QUEUED',
        isRepeatContact: 'false',
        // the first leg's step-up signals, carried with its verification
        phoneChangedRecently: verified.body.phoneChangedRecently,
        mergedRecently: 'false',
      });
      expect(answerCalls(mark), 'no lookup, no enrichment or history call').to.deep.equal([]);
      expect(retried.body, 'a Connect retry of the transfer').to.deep.equal(carried.body);
      // the transfer is a contact of the profile too: its _ctrContactId is added there
      await until('the transfer\'s _ctrContactId is added', () => fake.calls.some((c) => c.operation === 'AddProfileKey' && JSON.stringify(c.body).includes(contactIdOf(transfer))));
      const added = fake.calls.find((c) => c.operation === 'AddProfileKey' && JSON.stringify(c.body).includes(contactIdOf(transfer)))!;
      expect(added.body).to.include({ ProfileId, KeyName: '_ctrContactId' });
    });

    it('a queue transfer of the same caller carries too, and a third leg (PreviousContactId the second) still finds the first leg\'s verification', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7002' });
      const first = voice(phone, nextContact(), { accountNumber: 'ACME-7002' });
      await postEvent(apps[0]!.url, first);

      const second = laterLeg(voice(phone), contactIdOf(first), 'QUEUE_TRANSFER');
      const third = laterLeg(voice(phone), contactIdOf(first));
      third.Details.ContactData.PreviousContactId = contactIdOf(second);
      const mark = fake.calls.length;
      const answers = [await postEvent(apps[1]!.url, second), await postEvent(apps[0]!.url, third)];

      for (const a of answers) expect(a.body).to.include({ verification: 'VERIFIED', profileId: ProfileId, carriedFromContactId: contactIdOf(first) });
      expect(answerCalls(mark)).to.deep.equal([]);
    });

    it('a transfer with a different caller (another number) is looked up afresh: nothing carried', async () => {
      const phone = nextNumber();
      fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7003' });
      const other = nextNumber();
      const someoneElse = fake.seedProfile({ PhoneNumber: other, FirstName: 'Olu' });
      const first = voice(phone, nextContact(), { accountNumber: 'ACME-7003' });
      await postEvent(apps[0]!.url, first);

      const mark = fake.calls.length;
      const transfer = await postEvent(apps[1]!.url, laterLeg(voice(other), contactIdOf(first)));

      expect(transfer.body).to.include({ customerStatus: 'KNOWN', verification: 'NOT_CHECKED', profileId: someoneElse.ProfileId, carriedFromContactId: '' });
      expect(answerCalls(mark).map((c) => c.operation)).to.include('SearchProfiles');
    });

    it('a transfer of the same caller asked with another account number is asked afresh: the first leg\'s verification does not answer for it', async () => {
      const phone = nextNumber();
      fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7004' });
      fake.seedProfile({ AccountNumber: 'ACME-7005' });
      const first = voice(phone, nextContact(), { accountNumber: 'ACME-7004' });
      await postEvent(apps[0]!.url, first);

      const transfer = await postEvent(apps[1]!.url, laterLeg(voice(phone, nextContact(), { accountNumber: 'ACME-7005' }), contactIdOf(first)));

      expect(transfer.body).to.include({ verification: 'MISMATCH', profileId: '', carriedFromContactId: '' });
    });

    it('a transfer with no number or address of its own takes the first leg\'s profile (not ANONYMOUS), with no call', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Ada' });
      const first = voice(phone);
      await postEvent(apps[0]!.url, first);

      const mark = fake.calls.length;
      const withheld = laterLeg(eventFrom('voice-withheld.json', { contactId: nextContact() }) as Event, contactIdOf(first));
      const transfer = await postEvent(apps[1]!.url, withheld);

      expect(transfer.body).to.include({ customerStatus: 'KNOWN', identityType: 'NONE', profileId: ProfileId, firstName: 'Ada', verification: 'NOT_CHECKED', carriedFromContactId: contactIdOf(first) });
      expect(answerCalls(mark)).to.deep.equal([]);
    });

    it('a first leg that created the profile (NEW) answers the transfer KNOWN, the same profile', async () => {
      const phone = nextNumber();
      const first = voice(phone);
      const created = await postEvent(apps[0]!.url, first);
      expect(created.body.customerStatus).to.equal('NEW');

      const transfer = await postEvent(apps[1]!.url, laterLeg(voice(phone), contactIdOf(first)));

      expect(transfer.body).to.include({ customerStatus: 'KNOWN', profileMatchCount: '1', profileId: created.body.profileId, carriedFromContactId: contactIdOf(first) });
    });

    it('a first leg that failed ID&V (MISMATCH) carries the failure: the transfer names no profile and pops nothing', async () => {
      const phone = nextNumber();
      const own = fake.seedProfile({ PhoneNumber: phone });
      fake.seedProfile({ AccountNumber: 'ACME-7006' });
      const first = voice(phone, nextContact(), { accountNumber: 'ACME-7006' });
      expect((await postEvent(apps[0]!.url, first)).body.verification).to.equal('MISMATCH');

      const transfer = await postEvent(apps[1]!.url, laterLeg(voice(phone), contactIdOf(first)));

      expect(transfer.body).to.include({ verification: 'MISMATCH', profileId: '', profileSearchKey: '', profileSearchValue: '', carriedFromContactId: contactIdOf(first) });
      expect(JSON.stringify(transfer.body)).not.to.include(own.ProfileId);
    });

    it('a resolution kept under another contact\'s key, or not whole, carries nothing; nor does a later leg whose earlier legs were never resolved', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone });
      const first = voice(phone);
      await postEvent(apps[0]!.url, first);
      const kept = await client.get(`cpr:${DOMAIN}:{c:${contactIdOf(first)}}:leg`);
      expect(JSON.parse(kept!)).to.include({ contactId: contactIdOf(first), profileId: ProfileId, verification: 'NOT_CHECKED' });
      // the first leg's resolution copied to another contact's key, and one cut short
      const [moved, broken] = [nextContact(), nextContact()];
      await client.set(`cpr:${DOMAIN}:{c:${moved}}:leg`, kept!, 'PX', 60_000);
      await client.set(`cpr:${DOMAIN}:{c:${broken}}:leg`, kept!.slice(0, -20), 'PX', 60_000);

      const withheld = () => eventFrom('voice-withheld.json', { contactId: nextContact() }) as Event;
      const onMoved = await postEvent(apps[1]!.url, laterLeg(withheld(), moved));
      const onBroken = await postEvent(apps[0]!.url, laterLeg(withheld(), broken));
      const onNothing = await postEvent(apps[1]!.url, laterLeg(voice(phone), nextContact()));

      for (const a of [onMoved, onBroken]) expect(a.body).to.include({ customerStatus: 'ANONYMOUS', profileId: '', carriedFromContactId: '' });
      expect(onNothing.body).to.include({ customerStatus: 'KNOWN', verification: 'NOT_CHECKED', carriedFromContactId: '' });
    });

    it('a first leg answered from the cache (a repeat caller) keeps its resolution in the same script: a transfer with no number of its own takes it', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone });
      await postEvent(apps[0]!.url, voice(phone));
      const first = voice(phone);
      const hit = await postEvent(apps[1]!.url, first);
      expect(hit.body).to.include({ customerStatus: 'KNOWN', isRepeatContact: 'true' });

      const mark = fake.calls.length;
      const transfer = await postEvent(apps[0]!.url, laterLeg(eventFrom('voice-withheld.json', { contactId: nextContact() }) as Event, contactIdOf(first)));

      expect(transfer.body).to.include({ customerStatus: 'KNOWN', profileId: ProfileId, carriedFromContactId: contactIdOf(first) });
      expect(answerCalls(mark)).to.deep.equal([]);
    });

    it('a callback (PreviousContactId the contact that asked for it) within the window carries', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7007' });
      const first = voice(phone, nextContact(), { accountNumber: 'ACME-7007' });
      await postEvent(apps[0]!.url, first);

      const callback = await postEvent(apps[1]!.url, laterLeg(voice(phone), contactIdOf(first), 'CALLBACK'));

      expect(callback.body).to.include({ verification: 'VERIFIED', profileId: ProfileId, carriedFromContactId: contactIdOf(first) });
    });
  });

  it('past the window a callback is looked up afresh (the first leg\'s resolution has expired in Redis)', async () => {
    apps = [await start({ ...NO_WORKER, CONTACT_LEG_WINDOW_SECONDS: '2' }), await start({ ...NO_WORKER, CONTACT_LEG_WINDOW_SECONDS: '2' })];
    const phone = nextNumber();
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7008' });
    const first = voice(phone, nextContact(), { accountNumber: 'ACME-7008' });
    await postEvent(apps[0]!.url, first);
    const within = await postEvent(apps[1]!.url, laterLeg(voice(phone), contactIdOf(first), 'CALLBACK'));
    expect(within.body).to.include({ verification: 'VERIFIED', carriedFromContactId: contactIdOf(first) });

    const legKey = `cpr:${DOMAIN}:{c:${contactIdOf(first)}}:leg`;
    await until('the first leg\'s resolution expires', async () => (await client.exists(legKey)) === 0, 5000);
    const after = await postEvent(apps[1]!.url, laterLeg(voice(phone), contactIdOf(first), 'CALLBACK'));

    expect(after.body).to.include({ customerStatus: 'KNOWN', profileId: ProfileId, verification: 'NOT_CHECKED', carriedFromContactId: '' });
  });

  it('with the first leg\'s lookup past its cache TTL, the profile is read by its id (one SearchProfiles by _profileId), the verification still carried', async () => {
    apps = [await start({ ...NO_WORKER, CACHE_TTL_SECONDS: '0' }), await start({ ...NO_WORKER, CACHE_TTL_SECONDS: '0' })];
    const phone = nextNumber();
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7009', FirstName: 'Ines' });
    const first = voice(phone, nextContact(), { accountNumber: 'ACME-7009' });
    await postEvent(apps[0]!.url, first);

    const mark = fake.calls.length;
    const transfer = await postEvent(apps[1]!.url, laterLeg(voice(phone), contactIdOf(first)));

    expect(transfer.body).to.include({ verification: 'VERIFIED', profileId: ProfileId, firstName: 'Ines', carriedFromContactId: contactIdOf(first) });
    const searches = answerCalls(mark).filter((c) => c.operation === 'SearchProfiles');
    expect(searches).to.have.length(1);
    expect(searches[0]!.body).to.deep.include({ KeyName: '_profileId', Values: [ProfileId] });
  });

  it('without Redis (one replica, the embedded store): the same, kept in the process', async () => {
    apps = [await startService({ AUTH_TOKENS: undefined })];
    const first = eventFrom('voice-idv.json', { contactId: nextContact() }) as Event;
    const verified = await postEvent(apps[0]!.url, first);
    expect(verified.body).to.include({ verification: 'VERIFIED', firstName: 'Amelia' });

    const transfer = await postEvent(apps[0]!.url, laterLeg(eventFrom('voice-uk.json', { contactId: nextContact() }) as Event, contactIdOf(first)));

    expect(transfer.body).to.include({ verification: 'VERIFIED', profileId: verified.body.profileId, carriedFromContactId: contactIdOf(first) });
  });

  it('CONTACT_LEG_WINDOW_SECONDS=0: nothing is carried, a transfer is looked up on its own', async () => {
    apps = [await start({ ...NO_WORKER, CONTACT_LEG_WINDOW_SECONDS: '0' }), await start({ ...NO_WORKER, CONTACT_LEG_WINDOW_SECONDS: '0' })];
    const phone = nextNumber();
    fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-7010' });
    const first = voice(phone, nextContact(), { accountNumber: 'ACME-7010' });
    await postEvent(apps[0]!.url, first);

    const transfer = await postEvent(apps[1]!.url, laterLeg(voice(phone), contactIdOf(first)));

    expect(transfer.body).to.include({ verification: 'NOT_CHECKED', carriedFromContactId: '' });
  });
});
