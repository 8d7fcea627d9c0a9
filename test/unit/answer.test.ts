import { expect } from 'chai';
import { buildAnswer, clearOutcome, CUSTOMER_STATUSES, outcomeFrom, summarise, type Enriched, type Outcome } from '../../src/domain/answer.js';
import { normaliseEmail, normalisePhone } from '../../src/domain/identity.js';
import { CORE_KEYS, MAX_ANSWER_BYTES, parseAttributeMapping, type AttributeMapping } from '../../src/domain/mapping.js';
import type { Profile } from '../../src/domain/profile.js';

const PROFILE_ID = '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d';
const LAMBDA_LIMIT_BYTES = 32 * 1024;

const phone = normalisePhone('+442079460958', 'US')!;
const email = normaliseEmail('  Ravi.K@Example.org ')!;

const profile: Profile = {
  ProfileId: PROFILE_ID,
  FirstName: 'Amelia',
  LastName: 'Hughes',
  AccountNumber: 'UK-100234',
  Address: { City: 'London' },
  Attributes: { tier: 'gold' },
};

function mappingOf(attributes: Record<string, string>): AttributeMapping {
  const { mapping, problems } = parseAttributeMapping({ attributes });
  expect(problems, 'the mapping is valid').to.deep.equal([]);
  return mapping;
}

/** An outcome as the use case holds it, but with the whole profile: the test summarises it with its mapping. */
type TestOutcome = Omit<Outcome, 'summary'> & { profile: Profile | undefined };

function answerFor(o: TestOutcome, mapping: AttributeMapping): ReturnType<typeof buildAnswer> {
  const { profile: p, ...rest } = o;
  return buildAnswer({ ...rest, summary: p && summarise(p, mapping) }, mapping);
}

function outcome(overrides: Partial<TestOutcome>): TestOutcome {
  return {
    status: 'KNOWN',
    identity: phone,
    profile,
    matchCount: 1,
    degraded: false,
    repeat: { isRepeat: false, lastContactAt: '' },
    recordStatus: 'QUEUED',
    verification: 'NOT_CHECKED',
    matchedBy: ['_phone'],
    enrichment: { status: 'NONE', values: {} },
    ...overrides,
  };
}

/** What each status looks like when the use case produces it. */
const byStatus: Record<(typeof CUSTOMER_STATUSES)[number], TestOutcome> = {
  KNOWN: outcome({ status: 'KNOWN' }),
  NEW: outcome({ status: 'NEW', profile: { ProfileId: PROFILE_ID, PhoneNumber: phone.e164 }, matchCount: 0 }),
  MULTIPLE: outcome({ status: 'MULTIPLE', matchCount: 3 }),
  NOT_FOUND: outcome({ status: 'NOT_FOUND', profile: undefined, matchCount: 0, recordStatus: 'SKIPPED' }),
  ANONYMOUS: outcome({ status: 'ANONYMOUS', identity: undefined, profile: undefined, matchCount: 0, recordStatus: 'SKIPPED' }),
  UNAVAILABLE: outcome({ status: 'UNAVAILABLE', profile: undefined, matchCount: 0, degraded: true, recordStatus: 'SKIPPED' }),
};

describe('buildAnswer', () => {
  const mapping = mappingOf({ city: 'Address.City', customerTier: 'Attributes.tier' });

  it('when ID&V failed (MISMATCH), names no profile and holds nothing of it: no id, name, account number, mapped or enrichment value', () => {
    const o = outcome({ status: 'MULTIPLE', matchCount: 2, verification: 'MISMATCH', matchedBy: ['_account'], enrichment: { status: 'COMPLETE', values: { customerTier: 'platinum' } } });

    const answer = answerFor(o, mapping);

    expect(answer).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '2', verification: 'MISMATCH', matchedBy: '_account', profileId: '', firstName: '', lastName: '', accountNumber: '', city: '', customerTier: '' });
    for (const value of [PROFILE_ID, 'Amelia', 'Hughes', 'UK-100234', 'London', 'gold', 'platinum']) expect(JSON.stringify(answer)).not.to.include(value);
    // the contact's own identity is not the profile's: it stays
    expect(answer.phoneE164).to.equal(phone.e164);
  });

  for (const status of CUSTOMER_STATUSES) {
    it(`when the status is ${status}, answers every core key and every mapped key, all as strings`, () => {
      // Arrange
      const o = byStatus[status];

      // Act
      const answer = answerFor(o, mapping);

      // Assert
      expect(answer).to.have.all.keys(...CORE_KEYS, 'city', 'customerTier');
      for (const [key, value] of Object.entries(answer)) expect(value, key).to.be.a('string');
      expect(answer.customerStatus).to.equal(status);
      expect(answer.profileMatchCount).to.equal(String(o.matchCount));
      expect(answer.contactRecordStatus).to.equal(o.recordStatus);
      expect(answer.degraded).to.equal(o.degraded ? 'true' : 'false');
    });
  }

  describe('enrichment freshness (enrichmentPartial, enrichmentAsOf)', () => {
    const fresh = mappingOf({ hold: 'CalculatedAttributes.hold', churn: 'CalculatedAttributes.churn', vip: 'Segments.vip', tier: 'Attributes.tier' });
    const OLD_SEGMENT = Date.parse('2026-11-29T06:00:00Z');
    const NEWEST_OBJECT = Date.parse('2026-11-30T21:15:00Z');
    const enriched = (partial: boolean): Outcome['enrichment'] => ({
      status: 'COMPLETE',
      values: { hold: '38', churn: '0.2', vip: 'false' },
      freshness: { hold: { partial: false, asOf: NEWEST_OBJECT }, churn: { partial, asOf: NEWEST_OBJECT + 1000 }, vip: { asOf: OLD_SEGMENT } },
    });

    it('when a mapped calculated attribute was computed from partial data, answers "true", and the oldest time among the values answered (an ABSENT segment counts)', () => {
      const answer = answerFor(outcome({ enrichment: enriched(true) }), fresh);

      expect(answer).to.include({ enrichmentPartial: 'true', enrichmentAsOf: '2026-11-29T06:00:00.000Z', vip: 'false' });
    });

    it('when none is partial, answers "false"; when no source said (segments only say a time, or nothing), ""', () => {
      const whole = answerFor(outcome({ enrichment: enriched(false) }), fresh);
      const segmentOnly = answerFor(outcome({ enrichment: { status: 'COMPLETE', values: { vip: 'true' }, freshness: { vip: { asOf: OLD_SEGMENT } } } }), fresh);
      const unsaid = answerFor(outcome({ enrichment: { status: 'COMPLETE', values: { hold: '38' } } }), fresh);

      expect(whole).to.include({ enrichmentPartial: 'false', enrichmentAsOf: '2026-11-29T06:00:00.000Z' });
      expect(segmentOnly).to.include({ enrichmentPartial: '', enrichmentAsOf: '2026-11-29T06:00:00.000Z' });
      expect(unsaid).to.include({ enrichmentPartial: '', enrichmentAsOf: '' });
    });

    it('counts only the values the answer gives: a key answered "" (not read, or withheld as personal before verification) says nothing', () => {
      const { mapping: personalHold } = parseAttributeMapping({ attributes: { hold: 'CalculatedAttributes.hold', vip: 'Segments.vip' }, personal: ['hold'] });
      const o = outcome({ matchedBy: ['_account'], enrichment: { status: 'PARTIAL', values: { hold: '38' }, freshness: { hold: { partial: true, asOf: OLD_SEGMENT }, vip: { asOf: 0 } } } });

      // found by a key the caller claimed, not verified: the personal calculated attribute is not answered
      const answer = answerFor(o, personalHold);

      expect(answer).to.include({ hold: '', vip: '', enrichmentPartial: '', enrichmentAsOf: '' });
    });

    it('without a profile to show (MISMATCH, none found) or with nothing enriched (NONE), answers "" and ""', () => {
      const mismatch = answerFor(outcome({ verification: 'MISMATCH', enrichment: enriched(true) }), fresh);
      const none = answerFor(byStatus.NOT_FOUND, fresh);
      const created = answerFor(byStatus.NEW, fresh);

      for (const a of [mismatch, none, created]) expect(a).to.include({ enrichmentPartial: '', enrichmentAsOf: '' });
    });

    it('a kept answer rebuilt from the cached lookup (outcomeFrom) answers the same freshness, from the entries the values came from', () => {
      const entries: Enriched = {
        'calculated-attributes': { at: 1, values: { hold: '38', churn: '0.2' }, freshness: { hold: { partial: false, asOf: NEWEST_OBJECT }, churn: { partial: true, asOf: NEWEST_OBJECT + 1000 } } },
        'segment:vip': { at: 1, values: { vip: 'false' }, freshness: { vip: { asOf: OLD_SEGMENT } } },
      };
      const { profile: p, ...base } = outcome({ enrichment: enriched(true) });
      const summary = { ...summarise(p!, fresh), enriched: entries };
      const first: Outcome = { ...base, summary };

      const rebuilt = outcomeFrom(clearOutcome(first), summary, { identity: phone, extra: [] }, fresh);

      expect(buildAnswer(rebuilt, fresh)).to.deep.equal(buildAnswer(first, fresh));
      expect(buildAnswer(rebuilt, fresh)).to.include({ enrichmentPartial: 'true', enrichmentAsOf: '2026-11-29T06:00:00.000Z' });
    });
  });

  describe('screen pop (profileSearchKey, profileSearchValue)', () => {
    const byPhone = { key: '_phone', value: phone.e164 };
    const pop = (o: TestOutcome) => {
      const answer = answerFor(o, mapping);
      return [answer.profileSearchKey, answer.profileSearchValue];
    };

    it('when one profile is resolved (KNOWN, NEW, or a stale KNOWN answered degraded), names it by _profileId', () => {
      expect(pop({ ...byStatus.KNOWN, searchedBy: byPhone })).to.deep.equal(['_profileId', PROFILE_ID]);
      expect(pop({ ...byStatus.NEW, searchedBy: byPhone })).to.deep.equal(['_profileId', PROFILE_ID]);
      expect(pop(outcome({ degraded: true, fallbackReason: 'TIMEOUT', searchedBy: byPhone }))).to.deep.equal(['_profileId', PROFILE_ID]);
    });

    it('when a withheld caller is found by the account number alone, names the profile by _profileId, not the account number', () => {
      expect(pop(outcome({ identity: undefined, matchedBy: ['_account'], searchedBy: { key: '_account', value: 'UK-100234' } }))).to.deep.equal(['_profileId', PROFILE_ID]);
    });

    it('when several profiles matched the one key the contact gave (MULTIPLE), answers that key and its value: the search that lists them', () => {
      expect(pop(outcome({ status: 'MULTIPLE', matchCount: 3, searchedBy: byPhone }))).to.deep.equal(['_phone', '+442079460958']);
      expect(pop(outcome({ status: 'MULTIPLE', matchCount: 2, identity: email, searchedBy: { key: '_email', value: email.address } }))).to.deep.equal(['_email', 'ravi.k@example.org']);
      expect(pop(outcome({ status: 'MULTIPLE', matchCount: 2, identity: undefined, searchedBy: { key: '_account', value: ' ACME\u0007-7781 ' } }))).to.deep.equal(['_account', 'ACME -7781']);
    });

    it('when several profiles matched but the chosen one matched every key the contact gave (VERIFIED), names it by _profileId', () => {
      expect(pop(outcome({ status: 'MULTIPLE', matchCount: 2, verification: 'VERIFIED', matchedBy: ['_phone', '_account'], searchedBy: byPhone }))).to.deep.equal(['_profileId', PROFILE_ID]);
    });

    it('when ID&V failed (MISMATCH), pops nothing: neither the profile nor a search that would list it', () => {
      for (const status of ['KNOWN', 'MULTIPLE'] as const) {
        expect(pop(outcome({ status, matchCount: 2, verification: 'MISMATCH', matchedBy: ['_phone'], searchedBy: byPhone })), status).to.deep.equal(['', '']);
      }
    });

    for (const status of ['NOT_FOUND', 'ANONYMOUS', 'UNAVAILABLE'] as const) {
      it(`when the status is ${status} (no profile), pops nothing`, () => {
        expect(pop({ ...byStatus[status], searchedBy: status === 'ANONYMOUS' ? undefined : byPhone })).to.deep.equal(['', '']);
      });
    }
  });

  it('when a profile matched, answers its id, names, account number and mapped fields', () => {
    // Act
    const answer = answerFor(byStatus.KNOWN, mapping);

    // Assert
    expect(answer).to.include({
      profileId: PROFILE_ID,
      firstName: 'Amelia',
      lastName: 'Hughes',
      accountNumber: 'UK-100234',
      city: 'London',
      customerTier: 'gold',
    });
  });

  for (const status of ['NOT_FOUND', 'ANONYMOUS', 'UNAVAILABLE'] as const) {
    it(`when the status is ${status} (no profile), answers "" for the profile id, profile fields and mapped keys`, () => {
      // Act
      const answer = answerFor(byStatus[status], mapping);

      // Assert
      expect(answer).to.include({ profileId: '', firstName: '', lastName: '', accountNumber: '', city: '', customerTier: '' });
    });
  }

  it('when the identity is a phone number, answers PHONE with the E.164 number and its region and no e-mail', () => {
    // Act
    const answer = answerFor(outcome({ identity: phone }), mapping);

    // Assert
    expect(answer).to.include({ identityType: 'PHONE', phoneE164: '+442079460958', phoneCountry: 'GB', emailAddress: '' });
  });

  it('when the identity is an e-mail address, answers EMAIL with the normalised address and no phone', () => {
    // Act
    const answer = answerFor(outcome({ identity: email }), mapping);

    // Assert
    expect(answer).to.include({ identityType: 'EMAIL', emailAddress: 'ravi.k@example.org', phoneE164: '', phoneCountry: '' });
  });

  it('when there is no identity, answers NONE with no phone and no e-mail', () => {
    // Act
    const answer = answerFor(byStatus.ANONYMOUS, mapping);

    // Assert
    expect(answer).to.include({ identityType: 'NONE', phoneE164: '', phoneCountry: '', emailAddress: '' });
  });

  it('when several profiles matched, answers the match count as a decimal string', () => {
    // Act
    const answer = answerFor(outcome({ status: 'MULTIPLE', matchCount: 12 }), mapping);

    // Assert
    expect(answer.profileMatchCount).to.equal('12');
  });

  it('when the answer came from a stale cache entry, answers degraded "true"', () => {
    // Act
    const answer = answerFor(outcome({ degraded: true }), mapping);

    // Assert
    expect(answer.degraded).to.equal('true');
  });

  it('when the answer is a fallback, answers its fallbackReason; otherwise fallbackReason ""', () => {
    // Act
    const fallback = answerFor(outcome({ status: 'UNAVAILABLE', profile: undefined, degraded: true, fallbackReason: 'AWS_THROTTLED' }), mapping);
    const normal = answerFor(outcome({}), mapping);

    // Assert
    expect(fallback).to.include({ customerStatus: 'UNAVAILABLE', fallbackReason: 'AWS_THROTTLED' });
    expect(normal.fallbackReason).to.equal('');
    expect(CORE_KEYS).to.include('fallbackReason');
  });

  it('when the answer is fresh, answers degraded "false"', () => {
    // Act
    const answer = answerFor(outcome({ degraded: false }), mapping);

    // Assert
    expect(answer.degraded).to.equal('false');
  });

  it('when the customer is a repeat contact, answers isRepeatContact "true" and the previous time', () => {
    // Act
    const answer = answerFor(outcome({ repeat: { isRepeat: true, lastContactAt: '2025-11-21T09:30:00.000Z' } }), mapping);

    // Assert
    expect(answer).to.include({ isRepeatContact: 'true', lastContactAt: '2025-11-21T09:30:00.000Z' });
  });

  it('when the profile names hold newlines and control characters, answers them sanitised', () => {
    // Arrange
    const o = outcome({ profile: { ProfileId: PROFILE_ID, FirstName: ' Amelia\r\n', LastName: 'Hug\u0000hes', AccountNumber: '\tUK-1' } });

    // Act
    const answer = answerFor(o, mapping);

    // Assert
    expect(answer).to.include({ firstName: 'Amelia', lastName: 'Hug hes', accountNumber: 'UK-1' });
  });

  describe('size', () => {
    // Worst case: the most mapped keys, each of the longest name, each value 1 KB that grows when escaped.
    const nasty = ['"'.repeat(1024), '\\'.repeat(1024), '"\\'.repeat(512), '€"'.repeat(256), '😀\\'.repeat(204) + '"\\'];
    const attributes: Record<string, string> = {};
    const values: Record<string, string> = {};
    for (let i = 0; i < 64; i++) {
      attributes[`attr${String(i).padStart(2, '0')}_`.padEnd(64, 'x')] = `Attributes.a${i}`;
      values[`a${i}`] = nasty[i % nasty.length]!;
    }
    const worst = outcome({
      status: 'MULTIPLE',
      matchCount: 64,
      profile: {
        ProfileId: PROFILE_ID,
        FirstName: '"'.repeat(1024),
        LastName: '\\'.repeat(1024),
        AccountNumber: '€"'.repeat(256),
        Attributes: values,
      },
      repeat: { isRepeat: true, lastContactAt: '2025-11-21T09:30:00.000Z' },
    });

    it('when 64 long keys map 1 KB values full of quotes, backslashes and multibyte characters, the JSON answer stays under 32 KB', () => {
      // Arrange
      const bigMapping = mappingOf(attributes);

      // Act
      const answer = answerFor(worst, bigMapping);

      // Assert
      expect(Object.keys(answer)).to.have.lengthOf(CORE_KEYS.length + 64);
      expect(Buffer.byteLength(JSON.stringify(answer))).to.be.below(LAMBDA_LIMIT_BYTES);
    });

    it('when 64 long keys map 1 KB values full of quotes, backslashes and multibyte characters, the JSON answer is at most MAX_ANSWER_BYTES', () => {
      // Arrange
      const bigMapping = mappingOf(attributes);

      // Act
      const answer = answerFor(worst, bigMapping);

      // Assert
      expect(MAX_ANSWER_BYTES).to.be.below(LAMBDA_LIMIT_BYTES);
      expect(Buffer.byteLength(JSON.stringify(answer))).to.be.at.most(MAX_ANSWER_BYTES);
    });

    it('when half the 64 keys are enrichment sources with 1 KB values and 4 long keys found the profile, the JSON answer is at most MAX_ANSWER_BYTES', () => {
      // Arrange: 32 profile attributes and 32 calculated attributes, all of the longest name and the nastiest values
      const mixed: Record<string, string> = {};
      const enrichmentValues: Record<string, string> = {};
      for (let i = 0; i < 64; i++) {
        const key = `attr${String(i).padStart(2, '0')}_`.padEnd(64, 'x');
        mixed[key] = i % 2 === 0 ? `Attributes.a${i}` : `CalculatedAttributes.c${i}`;
        if (i % 2 === 1) enrichmentValues[key] = nasty[i % nasty.length]!;
      }
      const mixedMapping = mappingOf(mixed);
      const longKeys = Array.from({ length: 4 }, (_, i) => `k${i}`.padEnd(64, 'y'));

      // Act
      const answer = answerFor({ ...worst, matchedBy: longKeys, enrichment: { status: 'COMPLETE', values: enrichmentValues } }, mixedMapping);

      // Assert
      expect(Object.keys(answer)).to.have.lengthOf(CORE_KEYS.length + 64);
      expect(answer.matchedBy).to.equal(longKeys.join(','));
      expect(Object.keys(enrichmentValues).some((k) => answer[k] !== ''), 'some enrichment values kept').to.equal(true);
      expect(Buffer.byteLength(JSON.stringify(answer))).to.be.at.most(MAX_ANSWER_BYTES);
    });

    it('when a MULTIPLE pops a search by the longest custom key and a 255-character value full of multibyte characters, the JSON answer is at most MAX_ANSWER_BYTES', () => {
      // Arrange
      const bigMapping = mappingOf(attributes);
      const longKeys = Array.from({ length: 4 }, (_, i) => `k${i}`.padEnd(64, 'y'));
      const searchedBy = { key: 'loyalty'.padEnd(64, 'z'), value: '€'.repeat(255) };

      // Act
      const answer = answerFor({ ...worst, identity: undefined, matchedBy: longKeys, searchedBy, fallbackReason: 'AWS_UNAVAILABLE' }, bigMapping);

      // Assert
      expect(answer).to.include({ profileSearchKey: searchedBy.key, profileSearchValue: searchedBy.value });
      expect(Buffer.byteLength(JSON.stringify(answer))).to.be.at.most(MAX_ANSWER_BYTES);
    });

    it('when 64 short keys map 1 KB values, keeps as many whole values as fit and empties the rest', () => {
      // Arrange
      const shortMapping = mappingOf(Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, `Attributes.a${i}`])));
      const values64 = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`a${i}`, '"'.repeat(1024)]));
      const o = outcome({ profile: { ProfileId: PROFILE_ID, Attributes: values64 } });

      // Act
      const answer = answerFor(o, shortMapping);

      // Assert
      const mapped = Array.from({ length: 64 }, (_, i) => answer[`k${i}`]);
      const kept = mapped.filter((v) => v === '"'.repeat(1024)).length;
      expect(kept, 'some values kept').to.be.above(0);
      expect(mapped.filter((v) => v === '').length, 'the others emptied').to.equal(64 - kept);
      expect(Buffer.byteLength(JSON.stringify(answer))).to.be.at.most(MAX_ANSWER_BYTES);
    });

    it('when the answer is built from the worst-case outcome, every value is still a string without control characters', () => {
      // Arrange
      const bigMapping = mappingOf(attributes);

      // Act
      const answer = answerFor(worst, bigMapping);

      // Assert
      for (const [key, value] of Object.entries(answer)) {
        expect(value, key).to.be.a('string');
        // eslint-disable-next-line no-control-regex
        expect(/[\u0000-\u001f]/.test(value), key).to.equal(false);
      }
    });
  });
});
