// ID&V that cannot be probed (issue 27): failed checks counted per caller and per claimed key across the
// fleet, locked for a cooling-off period; nothing personal answered for a profile only a claimed key found
// until verified; a wrong account number and one nobody has answer alike. Two replicas on one Redis, the
// real SDK against the AWS fake, and a clock the test moves (the service's, shared by both replicas).
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
const MINUTE = 60_000;

let seq = 0;
const nextNumber = () => `+1206555${String(300 + (seq++ % 100)).padStart(4, '0')}`;
const nextContact = () => `00000000-0000-4000-8000-${String(++seq + 700_000).padStart(12, '0')}`;
const voice = (phone: string, parameters?: Record<string, string>) =>
  eventFrom('voice-e164.json', { address: phone, contactId: nextContact(), ...(parameters && { parameters }) });
const withheld = (parameters: Record<string, string>) => eventFrom('voice-withheld-account.json', { contactId: nextContact(), parameters });

describe('ID&V that cannot be probed, on two replicas', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  let redis: RedisServer;
  let client: Redis;
  let dir: string;
  let apps: RunningService[] = [];
  // the service's clock, shared by both replicas: the test moves it
  let now = Date.now();
  const clock = () => now;

  // replica 0's log lines
  const logs: string[] = [];
  const capture = { write: (line: string) => void logs.push(line) };
  const start = (extra: Record<string, string> = {}, logTo?: typeof capture) =>
    startService(
      {
        CUSTOMER_PROFILES_DOMAIN: DOMAIN,
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
        REDIS_URL: redis.url,
        RECORD_WORKER: 'false',
        // a routing key, two personal ones (by their sources' defaults), one routing key the file marks personal
        ATTRIBUTE_MAPPING_FILE: join(dir, 'mapping.json'),
        ...extra,
      },
      logTo,
      { now: clock },
    );
  const ask = async (i: number, event: Record<string, unknown>) => {
    const r = await postEvent(apps[i % apps.length]!.url, event);
    expect(r.status).to.equal(200);
    return r.body;
  };
  /** how many failed checks Redis holds for callers and for keys, and the locks */
  const counts = async () => {
    const [callerFails, keyFails, locks] = await Promise.all(['{v:caller:*}:fails', '{v:key:*}:fails', '{v:*}:lock'].map((p) => client.keys(`cpr:${DOMAIN}:${p}`)));
    const sum = async (keys: string[]) => (await Promise.all(keys.map((k) => client.zcard(k)))).reduce((a, b) => a + b, 0);
    return { caller: await sum(callerFails!), key: await sum(keyFails!), locks: locks!.length };
  };
  const accountSearches = () => fake.callsTo('SearchProfiles').filter((c) => JSON.stringify(c.body).includes('_account')).length;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cpr-idv-'));
    writeFileSync(
      join(dir, 'mapping.json'),
      JSON.stringify({ attributes: { customerTier: 'Attributes.tier', middleName: 'MiddleName', city: 'Address.City', memberSince: 'Attributes.since' }, personal: ['memberSince'] }),
    );
    redis = await RedisServer.start();
    client = redis.client();
    apps = [await start({}, capture), await start()];
  });
  beforeEach(async () => {
    now += 24 * 60 * MINUTE; // every test on a clean slate: the windows and lockouts of the one before are over
    await client.flushall();
  });
  afterEach(() => fake.reset());
  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    client.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('attempts limited, fleet-wide (defaults: 3 a caller, 5 a key, in 15 minutes; locked 15 minutes)', () => {
    it('locks a caller after 3 failed checks over both replicas: the 4th, even with the right account number, answers LOCKED without looking the key up; 15 minutes later it is checked again', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-9001', FirstName: 'Lena' });
      // verified once: the right account number's lookup is cached (a locked check must not be answered from it)
      expect(await ask(0, voice(phone, { accountNumber: 'ACME-9001' }))).to.include({ verification: 'VERIFIED' });

      for (let i = 0; i < 3; i++) {
        expect(await ask(i, voice(phone, { accountNumber: `WRONG-${i}` }))).to.include({ verification: 'MISMATCH' });
        await until(`failure ${i + 1} counted`, async () => (await counts()).caller === i + 1 || (await counts()).locks > 0);
      }
      await until('the caller is locked', async () => (await counts()).locks === 1);
      const searches = accountSearches();
      const lockedEvent = voice(phone, { accountNumber: 'ACME-9001' });
      const locked = await ask(1, lockedEvent);
      // Connect's retry of the same contact, on the other replica: still LOCKED (nothing was kept for the check)
      const retried = await ask(0, lockedEvent);

      for (const a of [locked, retried]) {
        // answered as the caller's own number alone: that is no check
        expect(a).to.include({ customerStatus: 'KNOWN', profileId: ProfileId, verification: 'LOCKED', firstName: 'Lena' });
      }
      expect(accountSearches(), 'no check sent to Customer Profiles while locked').to.equal(searches);

      now += 15 * MINUTE - 1000;
      expect(await ask(0, voice(phone, { accountNumber: 'ACME-9001' }))).to.include({ verification: 'LOCKED' });
      now += 2000;
      expect(await ask(1, voice(phone, { accountNumber: 'ACME-9001' }))).to.include({ verification: 'VERIFIED', firstName: 'Lena' });
    });

    it('counts within the window only: two failures, then one more after 15 minutes, does not lock', async () => {
      const phone = nextNumber();
      fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-9002' });

      for (let i = 0; i < 2; i++) {
        await ask(i, voice(phone, { accountNumber: `WRONG-${i}` }));
        await until(`failure ${i + 1} counted`, async () => (await counts()).caller === i + 1);
      }
      now += 15 * MINUTE + 1;
      await ask(0, voice(phone, { accountNumber: 'WRONG-2' }));
      await until('the third failure counted', async () => (await counts()).caller === 1);

      expect((await counts()).locks).to.equal(0);
      expect(await ask(1, voice(phone, { accountNumber: 'ACME-9002' }))).to.include({ verification: 'VERIFIED' });
    });

    it('locks a key tried by 5 different callers (spoofed caller IDs): a 6th caller, and the holder too, are answered LOCKED for it', async () => {
      const holderPhone = nextNumber();
      fake.seedProfile({ PhoneNumber: holderPhone, AccountNumber: 'ACME-9003' });
      for (let i = 0; i < 5; i++) {
        const stranger = nextNumber();
        expect(await ask(i, voice(stranger, { accountNumber: 'ACME-9003' }))).to.include({ verification: 'MISMATCH' });
        await until(`failure ${i + 1} counted`, async () => (await counts()).key === i + 1 || (await counts()).locks > 0);
      }
      await until('the key is locked', async () => (await counts()).locks === 1);

      expect(await ask(1, voice(nextNumber(), { accountNumber: 'ACME-9003' }))).to.include({ verification: 'LOCKED', customerStatus: 'NOT_FOUND' });
      expect(await ask(0, voice(holderPhone, { accountNumber: 'ACME-9003' }))).to.include({ verification: 'LOCKED', customerStatus: 'KNOWN' });
      // a withheld caller keying it in alone: nothing to answer by but the locked key
      expect(await ask(1, withheld({ accountNumber: 'ACME-9003' }))).to.include({ verification: 'LOCKED', customerStatus: 'ANONYMOUS', profileId: '' });
    });

    it('counts a withheld caller by the contact: keys that find nobody are failures; a transfer of the same contact keeps the count', async () => {
      const first = withheld({ accountNumber: 'NOPE-1' }) as { Details: { ContactData: Record<string, unknown> } };
      const contactId = first.Details.ContactData.ContactId as string;
      expect(await ask(0, first)).to.include({ customerStatus: 'NOT_FOUND' });
      await until('counted', async () => (await counts()).caller === 1);
      const transfer = withheld({ accountNumber: 'NOPE-2' }) as { Details: { ContactData: Record<string, unknown> } };
      Object.assign(transfer.Details.ContactData, { InitialContactId: contactId, PreviousContactId: contactId, InitiationMethod: 'TRANSFER' });
      await ask(1, transfer);
      await until('counted against the same caller', async () => (await counts()).caller === 2);
    });
  });

  describe('nothing personal before verification', () => {
    it('a profile only a typed account number found (caller ID withheld) answers its routing keys and statuses, none of its personal ones; verified by a second key, all of them', async () => {
      const { ProfileId } = fake.seedProfile({
        AccountNumber: 'ACME-9101',
        FirstName: 'Priya',
        LastName: 'Raman',
        MiddleName: 'K',
        Address: { City: 'Leeds' },
        Attributes: { tier: 'gold', since: '2009' },
      });
      fake.seedKey(ProfileId, 'pin', ['4321']);

      const claimed = await ask(0, withheld({ accountNumber: 'ACME-9101' }));
      const verified = await ask(1, withheld({ accountNumber: 'ACME-9101', searchKey: 'pin', searchValue: '4321' }));

      expect(claimed).to.include({
        customerStatus: 'KNOWN',
        verification: 'NOT_CHECKED',
        matchedBy: '_account',
        profileId: ProfileId,
        customerTier: 'gold',
        firstName: '',
        lastName: '',
        accountNumber: '',
        middleName: '',
        city: '',
        memberSince: '',
      });
      expect(JSON.stringify(claimed)).not.to.match(/Priya|Raman|Leeds|ACME-9101|2009/);
      expect(verified).to.include({ verification: 'VERIFIED', firstName: 'Priya', lastName: 'Raman', accountNumber: 'ACME-9101', middleName: 'K', city: 'Leeds', customerTier: 'gold', memberSince: '2009' });
    });

    it('a profile the caller\'s own number found answers everything, as before', async () => {
      const phone = nextNumber();
      fake.seedProfile({ PhoneNumber: phone, FirstName: 'Tomas', Address: { City: 'Porto' } });
      expect(await ask(0, voice(phone))).to.include({ verification: 'NOT_CHECKED', firstName: 'Tomas', city: 'Porto' });
    });

    it('refuses an update by a contact that only claimed the profile (NOT_VERIFIED), as it refuses a MISMATCH', async () => {
      fake.seedProfile({ AccountNumber: 'ACME-9102', FirstName: 'Ona' });
      const event = withheld({ accountNumber: 'ACME-9102' });
      await ask(0, event);
      const update = structuredClone(event) as { Details: { Parameters: Record<string, string> } };
      update.Details.Parameters = { ...update.Details.Parameters, operation: 'update', 'profile.FirstName': 'Mallory' };

      expect(await ask(1, update)).to.include({ updateStatus: 'NOT_VERIFIED' });
    });
  });

  describe('failures look alike', () => {
    it('a wrong account number (another customer\'s) and one nobody has: the same answer, the same calls', async () => {
      const [a, b] = [nextNumber(), nextNumber()];
      fake.seedProfile({ PhoneNumber: a, FirstName: 'Ana' });
      fake.seedProfile({ PhoneNumber: b, FirstName: 'Ben' });
      fake.seedProfile({ AccountNumber: 'ACME-9201', FirstName: 'Someone' });

      const mark = fake.calls.length;
      const wrong = await ask(0, voice(a, { accountNumber: 'ACME-9201' }));
      const wrongCalls = fake.calls.slice(mark).map((c) => c.operation);
      const mark2 = fake.calls.length;
      const unknown = await ask(1, voice(b, { accountNumber: 'NOPE-9201' }));
      const unknownCalls = fake.calls.slice(mark2).map((c) => c.operation);

      const same = (x: Record<string, string>) => ({ ...x, phoneE164: '' });
      expect(same(wrong)).to.deep.equal(same(unknown));
      expect(wrong).to.include({ customerStatus: 'KNOWN', profileMatchCount: '1', verification: 'MISMATCH', matchedBy: '_phone', profileId: '' });
      expect(wrongCalls).to.deep.equal(unknownCalls);
      expect(JSON.stringify(wrong)).not.to.include('Someone');
    });

    it('a withheld caller\'s wrong second key and an account number nobody has: the same answer', async () => {
      const { ProfileId } = fake.seedProfile({ AccountNumber: 'ACME-9202' });
      fake.seedKey(ProfileId, 'pin', ['1111']);

      const wrongPin = await ask(0, withheld({ accountNumber: 'ACME-9202', searchKey: 'pin', searchValue: '9999' }));
      const noAccount = await ask(1, withheld({ accountNumber: 'NOPE-9202', searchKey: 'pin', searchValue: '9999' }));

      expect(wrongPin).to.deep.equal(noAccount);
      expect(wrongPin).to.include({ customerStatus: 'NOT_FOUND', profileMatchCount: '0', verification: 'MISMATCH', matchedBy: '', profileId: '' });
    });
  });

  describe('step-up signals from the profile\'s history, when the caller verifies (RISK_CHANGE_WINDOW_DAYS 30)', () => {
    const DAY = 24 * 60 * MINUTE;

    it('says which of the phone, e-mail and address changed in the window, whether the profile was merged, and how many checks failed on the keys it verified with', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, EmailAddress: 'ida@example.com', AccountNumber: 'ACME-9301', FirstName: 'Ida', Address: { City: 'Bergen' } });
      const before = { PhoneNumber: '+12065550000', EmailAddress: 'old@example.com', AccountNumber: 'ACME-9301', FirstName: 'Ida', Address: { City: 'Oslo' } };
      fake.seedHistory(ProfileId, [
        { actionType: 'CREATED', createdAt: now - 400 * DAY, content: before },
        // 40 days ago (outside the window): the e-mail address
        { actionType: 'UPDATED', createdAt: now - 40 * DAY, content: { ...before, EmailAddress: 'ida@example.com' } },
        // 3 days ago: the phone number, and the city
        { actionType: 'UPDATED', createdAt: now - 3 * DAY, content: { ...before, EmailAddress: 'ida@example.com', PhoneNumber: phone, Address: { City: 'Bergen' } } },
        { actionType: 'MERGED', createdAt: now - 2 * DAY },
      ]);
      // two strangers try the account number first
      for (let i = 0; i < 2; i++) {
        await ask(i, voice(nextNumber(), { accountNumber: 'ACME-9301' }));
        await until(`failure ${i + 1} counted`, async () => (await counts()).key === i + 1);
      }

      const verified = await ask(0, voice(phone, { accountNumber: 'ACME-9301' }));
      const notVerified = await ask(1, voice(phone));

      expect(verified).to.include({
        verification: 'VERIFIED',
        phoneChangedRecently: 'true',
        emailChangedRecently: 'false',
        addressChangedRecently: 'true',
        mergedRecently: 'true',
        recentFailedChecks: '2',
      });
      // not verified: no signals asked for
      expect(notVerified).to.include({ verification: 'NOT_CHECKED', phoneChangedRecently: '', mergedRecently: '', recentFailedChecks: '' });
    });

    it('a quiet history: every signal false', async () => {
      const phone = nextNumber();
      const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-9302' });
      fake.seedHistory(ProfileId, [{ actionType: 'CREATED', createdAt: now - 400 * DAY, content: { PhoneNumber: phone, AccountNumber: 'ACME-9302' } }]);

      expect(await ask(1, voice(phone, { accountNumber: 'ACME-9302' }))).to.include({
        verification: 'VERIFIED',
        phoneChangedRecently: 'false',
        emailChangedRecently: 'false',
        addressChangedRecently: 'false',
        mergedRecently: 'false',
        recentFailedChecks: '0',
      });
    });

    for (const trouble of ['fails', 'hangs'] as const) {
      it(`the history ${trouble}: the signals are UNKNOWN, the answer is VERIFIED all the same, inside the deadline`, async () => {
        const phone = nextNumber();
        fake.seedProfile({ PhoneNumber: phone, AccountNumber: `ACME-94${trouble.length}`, FirstName: 'Uma' });
        if (trouble === 'fails') fake.fail({ status: 500, errorType: 'InternalServerException', operations: ['ListProfileHistoryRecords'] });
        else fake.hang(true, ['ListProfileHistoryRecords']);
        try {
          const answer = await ask(0, voice(phone, { accountNumber: `ACME-94${trouble.length}` }));
          expect(answer).to.include({
            customerStatus: 'KNOWN',
            verification: 'VERIFIED',
            firstName: 'Uma',
            phoneChangedRecently: 'UNKNOWN',
            emailChangedRecently: 'UNKNOWN',
            addressChangedRecently: 'UNKNOWN',
            mergedRecently: 'UNKNOWN',
            degraded: 'false',
          });
        } finally {
          fake.hang(false);
        }
      });
    }
  });

  it('keeps nothing in clear: the counts and locks are keyed hashes holding times; the lockout\'s log line names the contact, not the caller or the key', async () => {
    logs.length = 0;
    const phone = nextNumber();
    fake.seedProfile({ PhoneNumber: phone });
    for (let i = 0; i < 3; i++) {
      await ask(i, voice(phone, { accountNumber: `ACME-SECRET-${i}` }));
      await until(`failure ${i + 1} counted`, async () => (await counts()).caller === i + 1 || (await counts()).locks > 0);
    }
    await until('locked', async () => (await counts()).locks === 1);

    const keys = await client.keys(`cpr:${DOMAIN}:{v:*`);
    expect(keys.length).to.be.greaterThan(0);
    for (const key of keys) {
      const values = (await client.type(key)) === 'zset' ? await client.zrange(key, 0, -1) : [await client.get(key)];
      for (const text of [key, ...values.map(String)]) {
        expect(text).not.to.include(phone.slice(2));
        expect(text).not.to.include('SECRET');
      }
      expect(await client.pttl(key), key).to.be.greaterThan(0);
    }
    // the third failure went to replica 0, which locked the caller
    const lockout = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'ID&V lockout');
    expect(lockout).to.include({ subject: 'caller' });
    expect(lockout?.contactId).to.match(/^00000000-0000-4000-8000-/);
    for (const line of logs) {
      expect(line).not.to.include(phone.slice(2));
      expect(line).not.to.include('SECRET');
    }
  });
});
