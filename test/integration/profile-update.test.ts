// Profile updates asked for by a flow (operation "update"), through the real service composition, the
// real SDK against the Customer Profiles fake, and a real Redis: durable, paced with the records,
// read-your-writes on every replica.
import { expect } from 'chai';
import { eventFrom } from '../support/fixtures.js';
import type { FakeCall } from '../support/fake-aws.js';
import { ServiceProcess } from '../support/process.js';
import { useRedisServer } from '../support/redis.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDTESTFAKE', AWS_SECRET_ACCESS_KEY: 'fake-secret' };

let seq = 0;
const contactId = () => `33333333-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
const callerNumber = (i: number) => `+1206555${String(300 + i).padStart(4, '0')}`;

const resolveEvent = (phone: string, id: string) => eventFrom('voice-e164.json', { address: phone, contactId: id });
const updateEvent = (phone: string, id: string, fields: Record<string, string>) =>
  eventFrom('voice-e164.json', { address: phone, contactId: id, parameters: { operation: 'update', ...fields } });

/** The profile id a successful object write (UpdateProfile or PutProfileObject) went to. */
function writtenProfile(c: FakeCall): string | undefined {
  if (c.status !== 200) return undefined;
  if (c.operation === 'UpdateProfile') return (c.body as { ProfileId: string }).ProfileId;
  if (c.operation === 'PutProfileObject') return (JSON.parse((c.body as { Object: string }).Object) as { ProfileId: string }).ProfileId;
  return undefined;
}

describe('profile updates (service + SDK + fake + Redis)', function () {
  this.timeout(90_000);
  const fake = useFakeAws({ domains: [DOMAIN], latencyMs: 5 });
  /** the profile as the fake holds it now */
  const stored = (profileId: string) => fake.profiles().find((p) => p.ProfileId === profileId);
  const redis = useRedisServer();
  let env: Record<string, string>;
  let apps: RunningService[] = [];
  const start = async (extra: Record<string, string> = {}) => {
    const app = await startService({ ...env, ...extra });
    apps.push(app);
    return app;
  };
  const post = async (app: { url: string }, event: Record<string, unknown>) => {
    const r = await postEvent(app.url, event);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body;
  };

  before(() => {
    env = {
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis().url,
      RECORD_MAX_ATTEMPTS: '3',
    };
  });
  beforeEach(async () => {
    fake.reset();
    await redis().flush();
  });
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
  });

  it('an update on one replica is read by a resolve on the other at once, from the cache, and is written to the profile', async () => {
    const phone = callerNumber(0);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Amelia', Attributes: { tier: 'gold' } });
    const [a, b] = [await start(), await start()];
    const id = contactId();
    await post(a, resolveEvent(phone, id));

    const updated = await post(a, updateEvent(phone, id, { 'profile.FirstName': 'Amy', 'profile.Attributes.preferredLanguage': 'cy-GB', 'profile.Address.City': 'Cardiff' }));
    expect(updated).to.deep.equal({ updateStatus: 'QUEUED', profileId: ProfileId, updatedFields: 'Address.City,Attributes.preferredLanguage,FirstName' });

    const searches = fake.callsTo('SearchProfiles').length;
    const next = await post(b, resolveEvent(phone, contactId()));
    expect(next).to.include({ customerStatus: 'KNOWN', firstName: 'Amy', city: 'Cardiff', preferredLanguage: 'cy-GB', customerTier: 'gold' });
    expect(fake.callsTo('SearchProfiles').length, 'answered from the updated cache').to.equal(searches);
    // a Connect retry of the resolve in the same contact reads the new values too
    expect(await post(b, resolveEvent(phone, id))).to.include({ firstName: 'Amy' });

    await until('the update written', () => stored(ProfileId)?.FirstName === 'Amy');
    expect(stored(ProfileId)).to.deep.include({ Address: { City: 'Cardiff' }, Attributes: { tier: 'gold', preferredLanguage: 'cy-GB' } });
  });

  it('a Connect retry of the update writes it once; a bad field is a 400 and queues nothing; no resolved profile is NO_PROFILE', async () => {
    const phone = callerNumber(1);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone });
    const app = await start();
    const id = contactId();
    await post(app, resolveEvent(phone, id));

    const event = updateEvent(phone, id, { 'profile.LastName': 'Hughes' });
    const [first, retry] = [await post(app, event), await post(app, event)];
    expect(retry).to.deep.equal(first);
    await until('the update written', () => fake.callsTo('UpdateProfile').some((c) => c.status === 200));
    // every job queued is done: a second write of the update would have been made by now
    await until('the queue to be empty', async () => (await app.service.records.depth()) === 0);
    expect(fake.callsTo('UpdateProfile').filter((c) => c.status === 200), 'written once').to.have.length(1);

    const depth = await app.service.records.depth();
    const bad = await postEvent(app.url, updateEvent(phone, id, { 'profile.LastName': 'Jones', 'profile.Nickname': 'Jo' }));
    const error = (bad.body as unknown as { error: { code: string; message: string } }).error;
    expect(bad.status).to.equal(400);
    expect(error.code).to.equal('INVALID_EVENT');
    expect(error.message).to.include('profile.Nickname');
    expect(JSON.stringify(bad.body), 'the value is not echoed').not.to.include('Jones');
    expect(await app.service.records.depth()).to.equal(depth);
    await until('the queue to be empty', async () => (await app.service.records.depth()) === 0);
    expect(fake.callsTo('UpdateProfile')).to.have.length(1);

    const stranger = await post(app, updateEvent(callerNumber(2), contactId(), { 'profile.LastName': 'Nobody' }));
    expect(stranger).to.deep.equal({ updateStatus: 'NO_PROFILE', profileId: '', updatedFields: 'LastName' });
    // a profile the flow names is not a way round it: the contact never resolved (it used to be QUEUED)
    const named = await post(app, updateEvent(callerNumber(2), contactId(), { profileId: ProfileId, 'profile.MiddleName': 'J' }));
    expect(named).to.deep.equal({ updateStatus: 'NO_PROFILE', profileId: '', updatedFields: 'MiddleName' });
    expect(await app.service.records.depth()).to.equal(depth);
  });

  it('records and updates of one profile are written with every object write at least a second apart, none refused', async () => {
    const phone = callerNumber(3);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone });
    const [a, b] = [await start(), await start()];
    for (let i = 0; i < 3; i++) {
      const id = contactId();
      await post(i % 2 ? a : b, resolveEvent(phone, id));
      // a field of its own each: an update of a field a newer update already wrote would be left out (by design)
      await post(i % 2 ? b : a, updateEvent(phone, id, { [`profile.Attributes.visit${i}`]: String(i) }));
    }

    await until('3 records and 3 updates', () => fake.calls.filter((c) => writtenProfile(c) === ProfileId).length >= 6, 30_000);
    const at = fake.calls.filter((c) => writtenProfile(c) === ProfileId).map((c) => c.at).sort((x, y) => x - y);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(Math.min(...gaps)).to.be.at.least(1000);
    expect(fake.calls.filter((c) => ['UpdateProfile', 'PutProfileObject'].includes(c.operation) && c.status === 429), 'no write refused as too fast').to.have.length(0);
  });

  it('throttling then recovery loses nothing: the update is written once Customer Profiles takes writes again', async () => {
    const phone = callerNumber(4);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone });
    const app = await start();
    const id = contactId();
    await post(app, resolveEvent(phone, id));
    fake.fail({ status: 429, errorType: 'ThrottlingException', operations: ['UpdateProfile'], times: 3 });

    expect(await post(app, updateEvent(phone, id, { 'profile.GenderString': 'female' }))).to.include({ updateStatus: 'QUEUED' });

    await until('the update written', () => stored(ProfileId)?.GenderString === 'female', 30_000);
    expect(fake.callsTo('UpdateProfile').map((c) => c.status)).to.deep.equal([429, 429, 429, 200]);
  });

  it('a new phone number: its cached lookups are dropped, not guessed; once written it finds the profile, a repeat contact of the same customer', async () => {
    const phone = callerNumber(11);
    const shared = callerNumber(12);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Amelia' });
    // someone else already holds the number the caller gives (a family's phone)
    const other = fake.seedProfile({ PhoneNumber: shared, FirstName: 'Other' });
    const [a, b] = [await start(), await start()];
    expect(await post(b, resolveEvent(shared, contactId()))).to.include({ profileId: other.ProfileId });
    const id = contactId();
    await post(a, resolveEvent(phone, id));
    expect(await post(a, updateEvent(phone, id, { 'profile.MobilePhoneNumber': shared }))).to.include({ updateStatus: 'QUEUED' });
    await until('the update written', () => stored(ProfileId)?.MobilePhoneNumber === shared);

    const searches = fake.callsTo('SearchProfiles').length;
    const fromShared = await post(b, resolveEvent(shared, contactId()));
    expect(fake.callsTo('SearchProfiles').length, 'the shared number searched again').to.equal(searches + 1);
    expect(fromShared).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '2' });
    // the caller's own number still answers from its updated lookup
    expect(await post(b, resolveEvent(phone, contactId()))).to.include({ profileId: ProfileId, firstName: 'Amelia', isRepeatContact: 'true' });
  });

  it('A, then B, then A again in one contact are three updates (the profile ends at A); a retry of the last is not', async () => {
    const phone = callerNumber(14);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone });
    const app = await start();
    const id = contactId();
    await post(app, resolveEvent(phone, id));
    for (const consent of ['true', 'false', 'true', 'true']) await post(app, updateEvent(phone, id, { 'profile.Attributes.consent': consent }));

    // the third A was queued (deduplicated against the first, the profile would end at B), the retry was not
    await until('every job written', async () => fake.callsTo('UpdateProfile').length > 0 && (await app.service.records.depth()) === 0, 20_000);
    const attributes = stored(ProfileId)?.Attributes as Record<string, string> | undefined;
    expect(attributes).to.deep.include({ consent: 'true' });
    // at most the three updates were written (one that came after a newer write of the field is left out)
    expect(fake.callsTo('UpdateProfile').filter((c) => c.status === 200).length).to.be.within(2, 3);
  });

  it('a contact whose ID&V failed (a typed account number found a stranger) cannot update that profile: NOT_VERIFIED', async () => {
    const stranger = fake.seedProfile({ PhoneNumber: callerNumber(15), AccountNumber: 'ACME-4242' });
    const app = await start();
    const id = contactId();
    const resolved = await post(app, eventFrom('voice-e164.json', { address: callerNumber(16), contactId: id, parameters: { accountNumber: 'ACME-4242' } }));
    // a MISMATCH names no profile (it used to name the stranger's)
    expect(resolved).to.include({ profileId: '', verification: 'MISMATCH' });

    const update = eventFrom('voice-e164.json', { address: callerNumber(16), contactId: id, parameters: { accountNumber: 'ACME-4242', operation: 'update', 'profile.MobilePhoneNumber': callerNumber(16) } });
    expect(await post(app, update)).to.include({ updateStatus: 'NOT_VERIFIED', profileId: '' });
    // every job queued is done: an update queued by mistake would have been written by now
    await until('the queue to be empty', async () => (await app.service.records.depth()) === 0);
    expect(fake.callsTo('UpdateProfile')).to.have.length(0);
    expect(stored(stranger.ProfileId)).not.to.have.property('MobilePhoneNumber');
  });

  describe('who may write to which profile (ID&V, OWASP API1), on two replicas', () => {
    const ADMIN = 'an-admin-token-of-some-length';
    const AMELIA_PHONE = callerNumber(20);
    const AMELIA_EMAIL = 'amelia.hughes@example.com';
    const RAVI_PHONE = callerNumber(21);
    let amelia: string;
    let ravi: string;
    /** a withheld caller (caller ID "anonymous") with the keys the flow collected */
    const withheld = (id: string, parameters: Record<string, string>) => eventFrom('voice-withheld.json', { contactId: id, parameters });
    const byPhone = (phone: string, id: string, parameters: Record<string, string> = {}) => eventFrom('voice-e164.json', { address: phone, contactId: id, parameters });
    /** what a MISMATCH answer must not carry: any value of either profile */
    const personal = ['Amelia', 'Hughes', 'Ravi', 'Patel', 'ACME-7781', 'ACME-1001', 'L-1001', 'gold', 'silver', 'Cardiff', AMELIA_PHONE, AMELIA_EMAIL];
    const expectNothingPersonal = (answer: Record<string, string>) => {
      expect(answer).to.include({ profileId: '', firstName: '', lastName: '', accountNumber: '', customerTier: '', city: '' });
      for (const value of personal) expect(JSON.stringify(answer), `holds ${value}`).not.to.include(value);
    };
    const adminUpdate = (app: { url: string }, body: Record<string, unknown>, token = ADMIN) =>
      fetch(`${app.url}/v1/admin/update`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

    // Nothing queued for either profile: an update is recorded as pending (in Redis) before it is queued,
    // so this counts every update queued for them, and unlike the queue's depth it is not moved by the
    // contacts' own records draining (or counted twice while moving from the inbox to the queue).
    const queuedFor = async (...profileIds: string[]): Promise<number> => {
      const client = redis().client();
      try {
        let n = 0;
        for (const id of profileIds) n += await client.hlen(`cpr:${DOMAIN}:{p:${id}}:pending`);
        return n;
      } finally {
        client.disconnect();
      }
    };

    beforeEach(() => {
      amelia = fake.seedProfile({ FirstName: 'Amelia', LastName: 'Hughes', PhoneNumber: AMELIA_PHONE, EmailAddress: AMELIA_EMAIL, AccountNumber: 'ACME-1001', Address: { City: 'Cardiff' }, Attributes: { tier: 'gold' } }).ProfileId;
      fake.seedKey(amelia, 'loyaltyId', ['L-1001']);
      ravi = fake.seedProfile({ FirstName: 'Ravi', LastName: 'Patel', PhoneNumber: RAVI_PHONE, AccountNumber: 'ACME-7781', Attributes: { tier: 'silver' } }).ProfileId;
    });

    it("a withheld caller with Ravi's account number and Amelia's loyaltyId: MISMATCH with nothing of either; an update naming Amelia's profile is NOT_VERIFIED and writes nothing", async () => {
      const [a, b] = [await start({ ADMIN_TOKENS: ADMIN }), await start({ ADMIN_TOKENS: ADMIN })];
      const keys = { accountNumber: 'ACME-7781', searchKey: 'loyaltyId', searchValue: 'L-1001' };
      const id = contactId();
      const resolved = await post(a, withheld(id, keys));
      // the keys found two profiles, but a failed check says nothing of what the claimed keys found: a withheld
      // caller's own number found nobody (issue 27: a wrong key and an unknown one answer alike)
      expect(resolved).to.include({ customerStatus: 'NOT_FOUND', profileMatchCount: '0', verification: 'MISMATCH' });
      expectNothingPersonal(resolved);
      // nor on a Connect retry (the kept answer), on the other replica
      expectNothingPersonal(await post(b, withheld(id, keys)));
      // nor from the cache, for the next contact with the same keys
      const searches = fake.callsTo('SearchProfiles').length;
      const cached = await post(b, withheld(contactId(), keys));
      expect(fake.callsTo('SearchProfiles').length, 'a cache hit').to.equal(searches);
      expect(cached).to.include({ verification: 'MISMATCH' });
      expectNothingPersonal(cached);

      // the README's wiring with the victim's id (as the MISMATCH answer used to give it), and without
      for (const named of [{ profileId: amelia }, { profileId: ravi }, {}] as Array<Record<string, string>>) {
        const update = await post(b, withheld(id, { ...keys, ...named, operation: 'update', 'profile.FirstName': 'Hacker' }));
        expect(update, JSON.stringify(named)).to.deep.equal({ updateStatus: 'NOT_VERIFIED', profileId: '', updatedFields: 'FirstName' });
      }
      expect(await queuedFor(amelia, ravi), 'nothing queued').to.equal(0);
      // the profile named alone, without the keys the contact resolved with: this contact resolved nothing by it
      expect(await post(a, withheld(id, { profileId: amelia, operation: 'update', 'profile.FirstName': 'Hacker' }))).to.include({ updateStatus: 'NO_PROFILE' });
      expect(await queuedFor(amelia, ravi), 'nothing queued').to.equal(0);
      expect(stored(amelia)?.FirstName).to.equal('Amelia');
      expect(fake.callsTo('UpdateProfile')).to.have.length(0);
    });

    it("a stranger's phone with Ravi's account number: MISMATCH, no name; the update naming Ravi is NOT_VERIFIED", async () => {
      const [a, b] = [await start(), await start()];
      const id = contactId();
      const resolved = await post(a, byPhone(callerNumber(22), id, { accountNumber: 'ACME-7781' }));
      // what the stranger's own number found: nobody
      expect(resolved).to.include({ customerStatus: 'NOT_FOUND', verification: 'MISMATCH', contactRecordStatus: 'SKIPPED' });
      expectNothingPersonal(resolved);
      const update = await post(b, byPhone(callerNumber(22), id, { accountNumber: 'ACME-7781', profileId: ravi, operation: 'update', 'profile.MobilePhoneNumber': callerNumber(22) }));
      expect(update).to.include({ updateStatus: 'NOT_VERIFIED', profileId: '' });
      expect(await queuedFor(ravi), 'nothing queued').to.equal(0);
    });

    it("Ravi's contact naming Amelia's profile is NOT_VERIFIED; naming his own (the README's wiring) is QUEUED; keys that ask for verification need VERIFIED", async () => {
      const [a, b] = [await start(), await start()];
      const id = contactId();
      expect(await post(a, byPhone(RAVI_PHONE, id))).to.include({ customerStatus: 'KNOWN', profileId: ravi, firstName: 'Ravi' });

      const other = await post(b, byPhone(RAVI_PHONE, id, { profileId: amelia, operation: 'update', 'profile.FirstName': 'Hacker' }));
      expect(other).to.include({ updateStatus: 'NOT_VERIFIED', profileId: '' });
      // the phone and Amelia's account number: a verification that was never made
      const unverified = await post(b, byPhone(RAVI_PHONE, id, { accountNumber: 'ACME-1001', operation: 'update', 'profile.FirstName': 'Hacker' }));
      expect(unverified).to.include({ updateStatus: 'NOT_VERIFIED', profileId: '' });
      expect(await queuedFor(amelia, ravi), 'nothing queued').to.equal(0);

      const own = await post(b, byPhone(RAVI_PHONE, id, { profileId: ravi, operation: 'update', 'profile.MiddleName': 'K' }));
      expect(own).to.include({ updateStatus: 'QUEUED', profileId: ravi });
      await until('the update written', () => stored(ravi)?.MiddleName === 'K');
      expect(stored(amelia)?.FirstName).to.equal('Amelia');
    });

    it("after a verified update on one replica, Amelia's phone, e-mail and account number answer the new name on the other at once, from the cache", async () => {
      const [a, b] = [await start(), await start()];
      // the owner's lookups, cached on B: her phone, her e-mail, her account number with her e-mail (VERIFIED)
      const lookups = () => [
        byPhone(AMELIA_PHONE, contactId()),
        withheld(contactId(), { emailAddress: AMELIA_EMAIL }),
        withheld(contactId(), { emailAddress: AMELIA_EMAIL, accountNumber: 'ACME-1001' }),
      ];
      for (const event of lookups()) expect(await post(b, event)).to.include({ profileId: amelia, firstName: 'Amelia' });
      // her account number alone: the profile and its routing values, none of its personal ones (issue 27)
      const claimed = () => withheld(contactId(), { accountNumber: 'ACME-1001' });
      expect(await post(b, claimed())).to.include({ profileId: amelia, firstName: '', city: '', customerTier: 'gold' });

      // a withheld caller who proves both keys, on A
      const id = contactId();
      const keys = { accountNumber: 'ACME-1001', searchKey: 'loyaltyId', searchValue: 'L-1001' };
      expect(await post(a, withheld(id, keys))).to.include({ verification: 'VERIFIED', profileId: amelia });
      fake.hang(true, ['UpdateProfile']); // not written yet: what follows is the service's own doing
      const updated = await post(a, withheld(id, { ...keys, profileId: amelia, operation: 'update', 'profile.FirstName': 'Amy', 'profile.Address.City': 'Swansea' }));
      expect(updated).to.include({ updateStatus: 'QUEUED', profileId: amelia });

      const searches = fake.callsTo('SearchProfiles').length;
      for (const event of lookups()) expect(await post(b, event)).to.include({ profileId: amelia, firstName: 'Amy', city: 'Swansea', customerTier: 'gold' });
      expect(await post(b, claimed())).to.include({ profileId: amelia, firstName: '', city: '', customerTier: 'gold' });
      expect(fake.callsTo('SearchProfiles').length, 'answered from the cache').to.equal(searches);
      fake.hang(false);
      await until('the update written', () => stored(amelia)?.FirstName === 'Amy');
    });

    it("with the write held back, her account number and e-mail, never looked up before, answer the new name on the other replica; once written the pending entry is gone", async () => {
      const client = redis().client();
      try {
        const [a, b] = [await start(), await start()];
        const id = contactId();
        const keys = { accountNumber: 'ACME-1001', searchKey: 'loyaltyId', searchValue: 'L-1001' };
        expect(await post(a, withheld(id, keys))).to.include({ verification: 'VERIFIED', profileId: amelia });
        fake.hang(true, ['UpdateProfile']); // held back: Customer Profiles still says Amelia
        const updated = await post(a, withheld(id, { ...keys, profileId: amelia, operation: 'update', 'profile.FirstName': 'Amy' }));
        expect(updated).to.include({ updateStatus: 'QUEUED', profileId: amelia });
        const pendingKey = `cpr:${DOMAIN}:{p:${amelia}}:pending`;
        expect(await client.hlen(pendingKey), 'one pending update').to.equal(1);
        expect(JSON.stringify(await client.hgetall(pendingKey)), 'sealed').not.to.include('Amy');

        // keys with no cached lookup: searched in Customer Profiles, the pending update laid over it
        const searches = fake.callsTo('SearchProfiles').length;
        // (her account number with her e-mail: VERIFIED, so its answer holds her name; alone it would not)
        expect(await post(b, withheld(contactId(), { emailAddress: AMELIA_EMAIL, accountNumber: 'ACME-1001' }))).to.include({ customerStatus: 'KNOWN', profileId: amelia, firstName: 'Amy', lastName: 'Hughes' });
        expect(await post(b, withheld(contactId(), { emailAddress: AMELIA_EMAIL }))).to.include({ customerStatus: 'KNOWN', profileId: amelia, firstName: 'Amy', lastName: 'Hughes' });
        expect(fake.callsTo('SearchProfiles').length, 'both searched afresh').to.equal(searches + 2);
        expect(stored(amelia)?.FirstName, 'not written yet').to.equal('Amelia');
        // and cached as answered: the next contact with the same keys, on A, is a cache hit with the new name
        expect(await post(a, withheld(contactId(), { emailAddress: AMELIA_EMAIL, accountNumber: 'ACME-1001' }))).to.include({ firstName: 'Amy' });
        expect(fake.callsTo('SearchProfiles').length, 'a cache hit').to.equal(searches + 2);

        fake.hang(false);
        await until('the update written', () => stored(amelia)?.FirstName === 'Amy');
        await until('the pending update removed once written', async () => (await client.exists(pendingKey)) === 0);
        // a key never looked up (her phone) reads Customer Profiles, which has it now
        expect(await post(b, byPhone(AMELIA_PHONE, contactId()))).to.include({ profileId: amelia, firstName: 'Amy' });
      } finally {
        client.disconnect();
      }
    });

    it('when the pending updates cannot be read (a Redis error reply), a fresh lookup answers without them, counts the error and is not cached', async () => {
      const client = redis().client();
      try {
        const [a, b] = [await start(), await start()];
        const id = contactId();
        expect(await post(a, byPhone(AMELIA_PHONE, id))).to.include({ profileId: amelia });
        fake.hang(true, ['UpdateProfile']);
        expect(await post(a, byPhone(AMELIA_PHONE, id, { operation: 'update', 'profile.FirstName': 'Amy' }))).to.include({ updateStatus: 'QUEUED' });
        // the profile's pending key turned into a string: HGETALL answers WRONGTYPE
        const pendingKey = `cpr:${DOMAIN}:{p:${amelia}}:pending`;
        await client.set(pendingKey, 'not a hash', 'PX', 60_000);

        const searches = fake.callsTo('SearchProfiles').length;
        const answer = await post(b, withheld(contactId(), { emailAddress: AMELIA_EMAIL, accountNumber: 'ACME-1001' }));
        expect(answer).to.include({ customerStatus: 'KNOWN', profileId: amelia, firstName: 'Amelia', degraded: 'false' });
        const metrics = await (await fetch(`${b.metricsUrl}/metrics`)).text();
        expect(metrics).to.match(/cpr_redis_errors_total\{operation="pending\.read"\} 1/);
        // not cached without them: the next contact with the same keys searches again
        await post(b, withheld(contactId(), { emailAddress: AMELIA_EMAIL, accountNumber: 'ACME-1001' }));
        expect(fake.callsTo('SearchProfiles').length, 'searched each time').to.equal(searches + 2);
      } finally {
        fake.hang(false);
        client.disconnect();
      }
    });

    it('POST /v1/admin/update writes any profile, behind ADMIN_TOKENS, and its cached lookups follow', async () => {
      const [a, b] = [await start({ ADMIN_TOKENS: ADMIN }), await start({ ADMIN_TOKENS: ADMIN })];
      expect(await post(b, byPhone(AMELIA_PHONE, contactId()))).to.include({ firstName: 'Amelia' });

      expect((await adminUpdate(a, { profileId: amelia, 'profile.FirstName': 'Amy' }, 'not-the-admin-token-at-all')).status).to.equal(401);
      const bad = await adminUpdate(a, { profileId: 'nope', 'profile.FirstName': 'Amy' });
      expect(bad.status).to.equal(400);
      expect((await adminUpdate(a, { profileId: amelia, 'profile.BirthDate': '1981-02-29' })).status).to.equal(400);

      const res = await adminUpdate(a, { profileId: amelia.toUpperCase(), 'profile.FirstName': 'Amy' });
      expect(res.status).to.equal(202);
      expect(await res.json()).to.deep.equal({ updateStatus: 'QUEUED', profileId: amelia, updatedFields: 'FirstName' });
      expect(await post(b, byPhone(AMELIA_PHONE, contactId()))).to.include({ firstName: 'Amy' });
      await until('the update written', () => stored(amelia)?.FirstName === 'Amy');

      // without ADMIN_TOKENS there is no admin route
      const plain = await start();
      expect((await adminUpdate(plain, { profileId: amelia, 'profile.FirstName': 'Hacker' })).status).to.equal(404);
    });
  });

  it('an update that fails for good is a dead letter (kind update) that replays', async () => {
    const phone = callerNumber(13);
    const { ProfileId } = fake.seedProfile({ PhoneNumber: phone });
    const app = await start();
    const id = contactId();
    await post(app, resolveEvent(phone, id));
    // held until it is pending and its write under way, then refused: AccessDenied is permanent, a dead letter at the first attempt
    fake.hang(true, ['UpdateProfile']);
    await post(app, updateEvent(phone, id, { 'profile.BusinessName': 'Hughes Ltd' }));
    await until('the write under way', () => fake.callsTo('UpdateProfile').length === 1, 20_000);
    const client = redis().client();
    const pendingKey = `cpr:${DOMAIN}:{p:${ProfileId}}:pending`;
    expect(await client.hlen(pendingKey), 'pending').to.equal(1);
    fake.fail({ status: 403, errorType: 'AccessDeniedException', operations: ['UpdateProfile'], times: 1 });
    fake.hang(false);

    await until('the dead letter', async () => (await app.service.records.deadLetters.list()).some((d) => d.kind === 'update'), 20_000);
    // dead-lettered: no longer pending (a replay shows once written)
    await until('no longer pending', async () => (await client.exists(pendingKey)) === 0);
    client.disconnect();
    const [letter] = (await app.service.records.deadLetters.list()).filter((d) => d.kind === 'update');
    expect(letter).to.include({ contactId: id, profileId: ProfileId });
    expect(letter!.id).to.match(new RegExp(`^u:${id}:`));
    expect(await app.service.records.deadLetters.replay({ contactIds: [id] })).to.be.at.least(1);
    await until('the replayed update written', () => stored(ProfileId)?.BusinessName === 'Hughes Ltd', 20_000);
  });

  it('an erasure of the caller removes the updates still queued, and its profile\'s pending updates', async () => {
    const phone = callerNumber(5);
    fake.seedProfile({ PhoneNumber: phone });
    const app = await start({ RECORD_WORKER: 'false', ADMIN_TOKENS: 'an-admin-token-of-some-length' });
    const id = contactId();
    await post(app, resolveEvent(phone, id));
    await post(app, updateEvent(phone, id, { 'profile.FirstName': 'Erased' }));
    const client = redis().client();
    const pending = () => client.keys(`cpr:${DOMAIN}:{p:*}:pending`);
    expect(await pending(), 'the update is pending').to.have.length(1);

    const res = await fetch(`${app.url}/v1/admin/erase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer an-admin-token-of-some-length' },
      body: JSON.stringify({ phoneNumber: phone }),
    });
    const report = (await res.json()) as { erased: { records: number } };
    // the contact record and the update
    expect(report.erased.records).to.equal(2);
    expect(await app.service.records.depth()).to.equal(0);
    // and the profile's pending update (its new values, sealed)
    expect(await pending()).to.deep.equal([]);
    client.disconnect();
  });

  it('on the embedded store (npm start without AWS), the round trip: update, then the profile and the next resolve hold it', async () => {
    const app = await startService({});
    apps.push(app);
    const uk = eventFrom('voice-uk.json', {});
    await post(app, uk);
    const update = eventFrom('voice-uk.json', { parameters: { operation: 'update', 'profile.FirstName': 'Amy', 'profile.Attributes.preferredLanguage': 'cy-GB' } });

    expect(await post(app, update)).to.include({ updateStatus: 'QUEUED', profileId: '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d' });
    expect(await post(app, eventFrom('voice-uk.json', { contactId: contactId() }))).to.include({ firstName: 'Amy', preferredLanguage: 'cy-GB' });
    await until('the embedded profile updated', async () => {
      const found = await app.service.store.search([{ name: '_phone', values: ['020 7946 0958'] }], 'any', AbortSignal.timeout(1000));
      return found[0]?.profile.FirstName === 'Amy';
    });
  });

  it('a replica killed with SIGKILL with updates in flight: another takes them over and every update is in the profile', async () => {
    const processEnv = { ...env, ...CREDENTIALS, RECORD_JOB_LOCK_MS: '2000' };
    const phones = [6, 7, 8, 9, 10].map(callerNumber);
    const ids = phones.map((phone) => fake.seedProfile({ PhoneNumber: phone }).ProfileId);
    const a = await ServiceProcess.start(processEnv);
    let b: ServiceProcess | undefined;
    try {
      fake.hang(true, ['UpdateProfile']);
      for (const phone of phones) {
        const id = contactId();
        await postEvent(a.url, resolveEvent(phone, id));
        const r = await postEvent(a.url, updateEvent(phone, id, { 'profile.BusinessName': `Firm of ${phone}` }));
        expect(r.body.updateStatus).to.equal('QUEUED');
      }
      await until('A to be mid-write', () => fake.callsTo('UpdateProfile').length >= 2);
      await a.kill();
      fake.hang(false);
      b = await ServiceProcess.start(processEnv);
      await until(
        'every update in its profile',
        () => ids.every((pid, i) => stored(pid)?.BusinessName === `Firm of ${phones[i]}`),
        40_000,
      );
      const perProfile = new Map<string, number>();
      for (const c of fake.callsTo('UpdateProfile')) if (c.status === 200) perProfile.set(writtenProfile(c)!, (perProfile.get(writtenProfile(c)!) ?? 0) + 1);
      console.log(`        crash test: updates written per profile ${JSON.stringify([...perProfile.values()])} (an update in flight when A died is written again by B: the same values)`);
      expect([...perProfile.keys()].sort()).to.deep.equal([...ids].sort());
    } finally {
      await a.kill();
      await b?.kill();
    }
  });
});
