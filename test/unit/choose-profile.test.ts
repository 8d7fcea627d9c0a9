import { expect } from 'chai';
import { normaliseEmail, normalisePhone, type Identity } from '../../src/domain/identity.js';
import type { Profile } from '../../src/domain/profile.js';
import { chooseProfile } from '../../src/profiles/profile.js';

const US = normalisePhone('+14255550123', 'US')!;
const UK = normalisePhone('+442079460958', 'US')!;
const JANE = normaliseEmail('jane.doe@example.com')!;

const id = (digit: string): string => digit.repeat(32);

/** The profiles as one search by the identity's own key found them; the chosen profile. */
const choose = (profiles: readonly Profile[], identity: Identity): Profile | undefined =>
  chooseProfile(
    profiles.map((profile) => ({ profile, foundBy: [identity.type === 'PHONE' ? '_phone' : '_email'] })),
    identity,
  )?.profile;

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('chooseProfile', () => {
  it('when no profile matched, chooses none', () => {
    // Act / Assert
    expect(choose([], US)).to.equal(undefined);
  });

  it('when one profile matched, chooses it', () => {
    // Arrange
    const only: Profile = { ProfileId: id('7'), MobilePhoneNumber: '+14255550123' };

    // Act / Assert
    expect(choose([only], US)).to.equal(only);
  });

  it('when one PhoneNumber holds the exact E.164 value, it beats a legacy spelling and another field with smaller ids', () => {
    // Arrange
    const exact: Profile = { ProfileId: id('f'), PhoneNumber: '+14255550123' };
    const legacy: Profile = { ProfileId: id('1'), PhoneNumber: '(425) 555-0123' };
    const other: Profile = { ProfileId: id('0'), MobilePhoneNumber: '+14255550123' };

    // Act
    const chosen = choose([other, legacy, exact], US);

    // Assert
    expect(chosen?.ProfileId).to.equal(id('f'));
  });

  it('when no PhoneNumber is exact, a legacy spelling in PhoneNumber beats a match through another field with a smaller id', () => {
    // Arrange
    const legacy: Profile = { ProfileId: id('e'), PhoneNumber: '020 7946 0958' };
    const other: Profile = { ProfileId: id('0'), BusinessPhoneNumber: '+442079460958', PhoneNumber: '+442079460000' };

    // Act
    const chosen = choose([other, legacy], UK);

    // Assert
    expect(chosen?.ProfileId).to.equal(id('e'));
  });

  for (const spelling of ['14255550123', '4255550123', '(425) 555-0123', '+1 425 555 0123']) {
    it(`when PhoneNumber holds the legacy spelling "${spelling}", ranks it above a match through another field`, () => {
      // Arrange
      const legacy: Profile = { ProfileId: id('9'), PhoneNumber: spelling };
      const other: Profile = { ProfileId: id('1'), HomePhoneNumber: '+14255550123' };

      // Act
      const chosen = choose([other, legacy], US);

      // Assert
      expect(chosen?.ProfileId).to.equal(id('9'));
    });
  }

  it('when PhoneNumber has surrounding spaces around the E.164 value, still counts as exact', () => {
    // Arrange
    const padded: Profile = { ProfileId: id('9'), PhoneNumber: ' +14255550123 ' };
    const legacy: Profile = { ProfileId: id('1'), PhoneNumber: '4255550123' };

    // Act
    const chosen = choose([legacy, padded], US);

    // Assert
    expect(chosen?.ProfileId).to.equal(id('9'));
  });

  it('when two profiles are equally good, chooses the smallest ProfileId', () => {
    // Arrange
    const a: Profile = { ProfileId: '0a000000000000000000000000000000', PhoneNumber: '+14255550123' };
    const b: Profile = { ProfileId: '0b000000000000000000000000000000', PhoneNumber: '+14255550123' };
    const c: Profile = { ProfileId: '00ffffffffffffffffffffffffffffff', PhoneNumber: '+14255550123' };

    // Act
    const chosen = choose([a, b, c], US);

    // Assert
    expect(chosen?.ProfileId).to.equal('00ffffffffffffffffffffffffffffff');
  });

  it('when only other fields matched, chooses the smallest ProfileId among them', () => {
    // Arrange
    const profiles: Profile[] = [
      { ProfileId: id('5'), MobilePhoneNumber: '+14255550123' },
      { ProfileId: id('3'), HomePhoneNumber: '4255550123' },
      { ProfileId: id('8'), BusinessPhoneNumber: '+14255550123' },
    ];

    // Act
    const chosen = choose(profiles, US);

    // Assert
    expect(chosen?.ProfileId).to.equal(id('3'));
  });

  it('when the same profiles arrive in any order, always chooses the same one', () => {
    // Arrange: two exact (the larger id first in the input), a legacy one, two other-field ones with small ids
    const profiles: Profile[] = [
      { ProfileId: id('c'), PhoneNumber: '+14255550123' },
      { ProfileId: id('a'), PhoneNumber: '+14255550123' },
      { ProfileId: id('2'), PhoneNumber: '(425) 555-0123' },
      { ProfileId: id('1'), MobilePhoneNumber: '+14255550123' },
      { ProfileId: id('0'), HomePhoneNumber: '+14255550123' },
    ];

    // Act
    const chosen = new Set(permutations(profiles).map((order) => choose(order, US)?.ProfileId));

    // Assert
    expect([...chosen]).to.deep.equal([id('a')]);
  });

  describe('e-mail', () => {
    it('when EmailAddress differs from the address only in case and spaces, counts as exact and beats another field', () => {
      // Arrange
      const upper: Profile = { ProfileId: id('f'), EmailAddress: ' JANE.DOE@EXAMPLE.COM ' };
      const other: Profile = { ProfileId: id('0'), PersonalEmailAddress: 'jane.doe@example.com' };

      // Act
      const chosen = choose([other, upper], JANE);

      // Assert
      expect(chosen?.ProfileId).to.equal(id('f'));
    });

    it('when the identity was received in mixed case, a lower-case EmailAddress is exact', () => {
      // Arrange
      const mixed = normaliseEmail('Jane.Doe@Example.COM')!;
      const lower: Profile = { ProfileId: id('f'), EmailAddress: 'jane.doe@example.com' };
      const other: Profile = { ProfileId: id('0'), BusinessEmailAddress: 'Jane.Doe@Example.COM' };

      // Act
      const chosen = choose([other, lower], mixed);

      // Assert
      expect(chosen?.ProfileId).to.equal(id('f'));
    });

    it('when two EmailAddress values differ only in case, breaks the tie by the smallest ProfileId', () => {
      // Arrange
      const a: Profile = { ProfileId: id('b'), EmailAddress: 'jane.doe@example.com' };
      const b: Profile = { ProfileId: id('a'), EmailAddress: 'Jane.Doe@Example.com' };

      // Act
      const forward = choose([a, b], JANE);
      const backward = choose([b, a], JANE);

      // Assert
      expect(forward?.ProfileId).to.equal(id('a'));
      expect(backward?.ProfileId).to.equal(id('a'));
    });

    it('when EmailAddress holds a different address, ranks it with the other-field matches', () => {
      // Arrange
      const different: Profile = { ProfileId: id('0'), EmailAddress: 'someone.else@example.com', PersonalEmailAddress: 'jane.doe@example.com' };
      const exact: Profile = { ProfileId: id('9'), EmailAddress: 'jane.doe@example.com' };

      // Act
      const chosen = choose([different, exact], JANE);

      // Assert
      expect(chosen?.ProfileId).to.equal(id('9'));
    });
  });
});

describe('chooseProfile with several keys', () => {
  const match = (digit: string, foundBy: string[], fields: Partial<Profile> = {}) => ({ profile: { ProfileId: id(digit), ...fields }, foundBy });

  it('prefers the profile found by more keys over an exact PhoneNumber with a smaller id', () => {
    // Arrange: the phone alone finds profile 0 (exact E.164); phone and account find profile f
    const byPhone = match('0', ['_phone'], { PhoneNumber: '+14255550123' });
    const byBoth = match('f', ['_phone', '_account'], { MobilePhoneNumber: '+14255550123', AccountNumber: 'A-1' });

    // Act / Assert: whatever the order
    expect(chooseProfile([byPhone, byBoth], US)?.profile.ProfileId).to.equal(id('f'));
    expect(chooseProfile([byBoth, byPhone], US)?.profile.ProfileId).to.equal(id('f'));
  });

  it('without a phone or e-mail (found by account number alone), breaks ties by the smallest id', () => {
    // Arrange
    const a = match('b', ['_account']);
    const b = match('a', ['_account']);

    // Act / Assert
    expect(chooseProfile([a, b], undefined)?.profile.ProfileId).to.equal(id('a'));
    expect(chooseProfile([b, a], undefined)?.profile.ProfileId).to.equal(id('a'));
  });
});
