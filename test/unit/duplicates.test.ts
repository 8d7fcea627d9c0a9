import { expect } from 'chai';
import { MemoryDuplicateSets } from '../../src/cache/duplicates.js';
import {
  duplicateSetId,
  fieldSourceProfileIds,
  isMergeField,
  MAX_SET_PROFILES,
  profileDifferences,
  sharedKey,
  sightingOf,
} from '../../src/domain/duplicates.js';
import type { Profile } from '../../src/domain/profile.js';
import { ContactResolver } from '../../src/contact/resolve.js';
import { parseContactEvent } from '../../src/contact/event.js';
import { normalisePhone } from '../../src/domain/identity.js';
import { parseAttributeMapping } from '../../src/domain/mapping.js';
import { EmbeddedProfileStore } from '../../src/profiles/embedded.js';
import { behavesAsDuplicateSets } from '../support/duplicate-sets.js';
import { eventFrom } from '../support/fixtures.js';
import { localState } from '../support/state.js';
import { until } from '../support/until.js';

const id = (c: string) => c.repeat(32);
const match = (profileId: string, ...foundBy: string[]) => ({ profile: { ProfileId: profileId }, foundBy });

describe('duplicate sets in process (MemoryDuplicateSets)', () => {
  behavesAsDuplicateSets((bounds, now) => Promise.resolve(new MemoryDuplicateSets(bounds, now)));
});

describe('duplicate sets noted by the resolver, in process (no Redis)', () => {
  it('every MULTIPLE answer, the fresh one and the cached ones, count in one set; a retry of a ContactId and a KNOWN answer do not', async () => {
    const mapping = parseAttributeMapping({ attributes: {} }).mapping;
    const state = localState(mapping);
    const store = new EmbeddedProfileStore([
      { ProfileId: id('a'), PhoneNumber: '+12065550142' },
      { ProfileId: id('b'), MobilePhoneNumber: '+12065550142' },
      { ProfileId: id('c'), PhoneNumber: '+12065550199' },
    ]);
    const resolver = new ContactResolver({ ...state, store, mapping, defaultCountry: 'US', createProfiles: true });
    const resolve = (phone: string, contactId: string) =>
      resolver.resolve(parseContactEvent(eventFrom('voice-e164.json', { address: phone, contactId })), AbortSignal.timeout(2000));
    const contact = (n: number) => `66666666-0000-4000-8000-${String(n).padStart(12, '0')}`;

    const answers = [await resolve('+12065550142', contact(1)), await resolve('+12065550142', contact(2)), await resolve('+12065550142', contact(1)), await resolve('+12065550199', contact(3))];

    expect(answers.map((r) => [r.status, r.source])).to.deep.equal([
      ['MULTIPLE', 'customer-profiles'],
      ['MULTIPLE', 'cache'],
      ['MULTIPLE', 'idempotent'],
      ['KNOWN', 'customer-profiles'],
    ]);
    await until('both MULTIPLE answers noted', async () => (await state.duplicates.list(10))[0]?.count === 2);
    const [set] = await state.duplicates.list(10);
    expect(set).to.deep.include({ ids: [id('a'), id('b')], key: '_phone', keyHash: state.keys.identityTag(normalisePhone('+12065550142', 'US')!) });
    expect(await state.duplicates.count()).to.equal(1);
  });
});

describe('duplicate sets: what a MULTIPLE answer records (domain/duplicates.ts)', () => {
  it('a set id is the same for the same (sorted) profiles, key and key value, 16 hex digits; another key value is another set', () => {
    const one = duplicateSetId({ ids: [id('a'), id('b')], key: '_phone', keyHash: 'h1' });

    expect(one).to.match(/^[0-9a-f]{16}$/);
    expect(duplicateSetId({ ids: [id('a'), id('b')], key: '_phone', keyHash: 'h1' })).to.equal(one);
    expect(duplicateSetId({ ids: [id('a'), id('b')], key: '_phone', keyHash: 'h2' })).not.to.equal(one);
    expect(duplicateSetId({ ids: [id('a'), id('b')], key: '_email', keyHash: 'h1' })).not.to.equal(one);
  });

  it('the shared key is the first, in the search order, that found every match; none when each was found by another key', () => {
    expect(sharedKey([match(id('a'), '_phone', '_account'), match(id('b'), '_phone')], ['_phone', '_account'])).to.equal('_phone');
    expect(sharedKey([match(id('a'), '_phone', '_account'), match(id('b'), '_account', '_phone')], ['_account', '_phone'])).to.equal('_account');
    expect(sharedKey([match(id('a'), '_phone'), match(id('b'), '_account')], ['_phone', '_account'])).to.equal(undefined);
  });

  it('a sighting holds the ids sorted, the key name and the keyed hash of its value; none for one match, for no shared key, or past what one merge takes', () => {
    const digest = (name: string) => `digest-of-${name}`;

    expect(sightingOf([match(id('b'), '_phone'), match(id('a'), '_phone')], ['_phone'], digest)).to.deep.equal({ ids: [id('a'), id('b')], key: '_phone', keyHash: 'digest-of-_phone' });
    expect(sightingOf([match(id('a'), '_phone')], ['_phone'], digest)).to.equal(undefined);
    expect(sightingOf([match(id('a'), '_phone'), match(id('b'), '_account')], ['_phone', '_account'], digest)).to.equal(undefined);
    const many = Array.from({ length: MAX_SET_PROFILES + 1 }, (_, i) => match(i.toString(16).padStart(32, '0'), '_phone'));
    expect(MAX_SET_PROFILES).to.equal(21);
    expect(sightingOf(many.slice(0, MAX_SET_PROFILES), ['_phone'], digest)!.ids).to.have.length(21);
    expect(sightingOf(many, ['_phone'], digest)).to.equal(undefined);
  });

  it('lists the fields whose values differ (a field set in one profile only differs), addresses as their parts, attributes one by one', () => {
    const profiles = [
      { ProfileId: id('a'), FirstName: 'Ann', LastName: 'Lee', PhoneNumber: '+12065550142', Address: { City: 'Leeds', PostalCode: 'LS1' }, Attributes: { tier: 'gold', lang: 'en' } },
      { ProfileId: id('b'), FirstName: 'Anne', LastName: 'Lee', MobilePhoneNumber: '+12065550142', Address: { City: 'York' }, Attributes: { lang: 'en' }, PartyTypeString: 'INDIVIDUAL' },
    ] as Array<Profile & Record<string, unknown>>;

    const differences = profileDifferences(profiles);

    expect(differences).to.deep.equal([
      { field: 'Address', values: { [id('a')]: 'Leeds, LS1', [id('b')]: 'York' } },
      { field: 'Attributes.tier', values: { [id('a')]: 'gold', [id('b')]: undefined } },
      { field: 'FirstName', values: { [id('a')]: 'Ann', [id('b')]: 'Anne' } },
      { field: 'MobilePhoneNumber', values: { [id('a')]: undefined, [id('b')]: '+12065550142' } },
      { field: 'PartyType', values: { [id('a')]: undefined, [id('b')]: 'INDIVIDUAL' } },
      { field: 'PhoneNumber', values: { [id('a')]: '+12065550142', [id('b')]: undefined } },
    ]);
  });

  it('takes for a merge the fields FieldSourceProfileIds has and Attributes.<name>; builds its Attributes map', () => {
    for (const f of ['FirstName', 'Address', 'BillingAddress', 'EngagementPreferences', 'Attributes.tier']) expect(isMergeField(f), f).to.equal(true);
    for (const f of ['Nickname', 'Attributes', 'Attributes.', 'ProfileId', 'PartyTypeString', `Attributes.${'x'.repeat(256)}`]) expect(isMergeField(f), f).to.equal(false);

    expect(fieldSourceProfileIds({ FirstName: id('b'), 'Attributes.tier': id('c'), 'Attributes.lang': id('b') })).to.deep.equal({
      FirstName: id('b'),
      Attributes: { tier: id('c'), lang: id('b') },
    });
    expect(fieldSourceProfileIds({})).to.deep.equal({});
  });
});
