// The store's history read against the AWS fake, through the real SDK: what the fake records (or was seeded with)
// comes back as records the step-up signals read.
import { expect } from 'chai';
import { UpdateProfileCommand } from '@aws-sdk/client-customer-profiles';
import { createHotPathClients } from '../../src/aws/clients.js';
import { normaliseEmail } from '../../src/domain/identity.js';
import { riskSignals } from '../../src/domain/risk.js';
import { CustomerProfilesStore } from '../../src/profiles/customer-profiles.js';
import { ProfileStoreError } from '../../src/profiles/profile.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';

const DOMAIN = 'history-domain';
const DAY = 86_400_000;
const WINDOW = { changeWindowDays: 30 };

describe('profile history: CustomerProfilesStore.history against the AWS fake (real SDK)', function () {
  const fake = useFakeAws({ domains: [DOMAIN], objectType: false });
  let clients: ReturnType<typeof createHotPathClients>;
  let store: CustomerProfilesStore;

  before(function () {
    clients = createHotPathClients({ region: 'us-east-1', endpoint: fake.url, requestTimeoutMs: 2000 });
    store = new CustomerProfilesStore(clients.lookup, DOMAIN, clients.enrich);
  });
  after(function () {
    clients.lookup.destroy();
    clients.enrich.destroy();
  });
  beforeEach(function () {
    fake.reset();
  });

  /** A profile whose number changed 3 days ago (and whose contact records keep coming in). */
  function phoneChangedThreeDaysAgo(): string {
    const { ProfileId } = fake.seedProfile({ PhoneNumber: '+442079460958', FirstName: 'Amelia' }, DOMAIN);
    const now = Date.now();
    fake.seedHistory(ProfileId, [
      { actionType: 'CREATED', createdAt: now - 400 * DAY, content: { ProfileId, PhoneNumber: '+442079460000', FirstName: 'Amelia' } },
      { actionType: 'UPDATED', createdAt: now - 3 * DAY, content: { ProfileId, PhoneNumber: '+442079460958', FirstName: 'Amelia' } },
      ...Array.from({ length: 150 }, (_, i) => ({ actionType: 'INGESTED' as const, createdAt: now - i * DAY, objectTypeName: 'ResolvedContact' })),
    ]);
    return ProfileId;
  }

  it('"the phone changed 3 days ago": phoneChangedRecently "true", from three filtered listings and two record reads', async function () {
    const profileId = phoneChangedThreeDaysAgo();
    const now = Date.now();

    const records = await store.history(profileId, now - WINDOW.changeWindowDays * DAY, AbortSignal.timeout(2000));

    expect(records.map((r) => [r.actionType, r.changedFields])).to.deep.equal([['UPDATED', ['PhoneNumber']]]);
    expect(riskSignals(records, now, WINDOW)).to.deep.equal({
      phoneChangedRecently: 'true',
      emailChangedRecently: 'false',
      addressChangedRecently: 'false',
      mergedRecently: 'false',
    });
    // the 150 contact records (INGESTED) are never paged through
    expect(fake.callsTo('ListProfileHistoryRecords').map((c) => (c.body as { ActionType: string }).ActionType).sort()).to.deep.equal(['CREATED', 'MERGED', 'UPDATED']);
    expect(fake.callsTo('GetProfileHistoryRecord')).to.have.length(2);
  });

  it('reads what the fake recorded: a profile created by the store, then its e-mail address updated, says emailChangedRecently', async function () {
    const identity = normaliseEmail('amelia@example.com')!;
    const { ProfileId } = await store.create(identity, { contactId: 'c-1' }, AbortSignal.timeout(2000));
    await clients.lookup.send(new UpdateProfileCommand({ DomainName: DOMAIN, ProfileId, EmailAddress: 'amelia.hughes@example.com' }));
    const now = Date.now();

    const records = await store.history(ProfileId, now - WINDOW.changeWindowDays * DAY, AbortSignal.timeout(2000));

    // the two records may carry the same second (CreatedAt is epoch seconds on the wire): newest first is then
    // either order, and the signals do not depend on it
    expect(records.map((r) => [r.actionType, r.changedFields])).to.have.deep.members([['UPDATED', ['EmailAddress']], ['CREATED', undefined]]);
    expect(riskSignals(records, now, WINDOW)).to.include({ emailChangedRecently: 'true', phoneChangedRecently: 'false' });
  });

  it('when GetProfileHistoryRecord fails, the change signals are "UNKNOWN", not "false"', async function () {
    const profileId = phoneChangedThreeDaysAgo();
    fake.fail({ status: 500, errorType: 'InternalServerException', operations: ['GetProfileHistoryRecord'] });
    const now = Date.now();

    const records = await store.history(profileId, now - WINDOW.changeWindowDays * DAY, AbortSignal.timeout(2000));

    expect(riskSignals(records, now, WINDOW)).to.deep.include({ phoneChangedRecently: 'UNKNOWN', emailChangedRecently: 'UNKNOWN', mergedRecently: 'false' });
  });

  it('when a listing hangs, the read ends with the signal (ProfileStoreError timeout) for the caller to answer UNKNOWN', async function () {
    const profileId = phoneChangedThreeDaysAgo();
    fake.hang(true, ['ListProfileHistoryRecords']);
    try {
      const err = await store.history(profileId, 0, AbortSignal.timeout(200)).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ProfileStoreError);
      expect((err as ProfileStoreError).failure).to.equal('timeout');
    } finally {
      fake.hang(false);
    }
  });
});
