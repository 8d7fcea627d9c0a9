// Property-based tests of the identity normalisers: whatever string (or value) arrives from a
// contact flow, normalisePhone and normaliseEmail answer without throwing, and what they answer is
// canonical (E.164, lower-case trimmed address) and stable when normalised again.
import { expect } from 'chai';
import fc from 'fast-check';
import { getCountries, getExampleNumber, type CountryCode } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { normaliseEmail, normalisePhone } from '../../src/domain/identity.js';

const E164 = /^\+[1-9]\d{6,14}$/;
const COUNTRIES: readonly CountryCode[] = getCountries();

// libphonenumber's own example mobile numbers, one per region: valid by construction.
const EXAMPLES = COUNTRIES.flatMap((country) => {
  const number = getExampleNumber(country, examples);
  return number ? [{ country, number }] : [];
});

const country = fc.constantFrom(...COUNTRIES);
/** Any two upper-case letters: the parser lets only supported regions through, but normalisePhone must not rely on it. */
const anyRegion = fc.oneof(country, fc.stringMatching(/^[A-Z]{2}$/)) as fc.Arbitrary<CountryCode>;

/** Strings of every kind: ASCII, full unicode graphemes, lone surrogates, and phone-ish runs. */
const anyString = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.stringMatching(/^[+(]?\d[\d ().\-/]{4,20}(?:\s*(?:ext\.?|x|#)\s*\d{1,5})?$/),
  fc.string({ unit: fc.constantFrom(...'+0123456789 ()-.x#*,;pPwW\t\n\u00a0\u2007\uff10\uff11\uff0b\u0661'), maxLength: 30 }),
);

/** A valid number written the ways people and PBXs write it. */
const spelledNumber = fc
  .record({
    example: fc.constantFrom(...EXAMPLES),
    style: fc.constantFrom('E.164', 'international', 'national', 'digits', '00', 'tel', 'padded', 'RFC3966'),
  })
  .map(({ example: { country: c, number }, style }) => {
    const spelling: Record<typeof style, string> = {
      'E.164': number.number,
      international: number.formatInternational(),
      national: number.formatNational(),
      digits: number.number.slice(1),
      '00': `00${number.number.slice(1)}`,
      tel: `tel:${number.number}`,
      padded: `  ${number.formatInternational()}\n`,
      RFC3966: number.getURI(),
    };
    return { country: c, e164: number.number, raw: spelling[style], style };
  });

function randomCase(s: string, flips: readonly boolean[]): string {
  return [...s].map((ch, i) => (flips[i % Math.max(1, flips.length)] ? ch.toUpperCase() : ch.toLowerCase())).join('');
}

describe('identity normalisers (property-based)', () => {
  describe('normalisePhone', () => {
    it('for any string and any two-letter region, never throws, and any answer is E.164 led by itself in searchValues', () => {
      fc.assert(
        fc.property(anyString, anyRegion, (raw, region) => {
          const identity = normalisePhone(raw, region);
          if (!identity) return;
          expect(identity.type).to.equal('PHONE');
          expect(identity.e164).to.match(E164);
          expect(identity.searchValues[0]).to.equal(identity.e164);
          expect(new Set(identity.searchValues).size).to.equal(identity.searchValues.length);
          expect(identity.searchValues.length).to.be.within(1, 6);
          for (const v of identity.searchValues) expect(v.length).to.be.within(1, 255);
        }),
        { numRuns: 4000 },
      );
    });

    it('for any value that is not a string (numbers, objects, arrays, null), answers undefined without throwing', () => {
      fc.assert(
        fc.property(
          fc.anything().filter((v) => typeof v !== 'string'),
          country,
          (raw, region) => {
            expect(normalisePhone(raw, region)).to.equal(undefined);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('is idempotent: the E.164 it answers normalises to itself, whatever the default region', () => {
      fc.assert(
        fc.property(fc.oneof(anyString, spelledNumber.map((s) => s.raw)), anyRegion, anyRegion, (raw, region, otherRegion) => {
          const first = normalisePhone(raw, region);
          if (!first) return;
          const again = normalisePhone(first.e164, otherRegion);
          expect(again, `re-normalising ${first.e164}`).to.not.equal(undefined);
          expect(again!.e164).to.equal(first.e164);
          expect(again!.country).to.equal(first.country);
          expect(again!.searchValues).to.deep.equal(first.searchValues);
        }),
        { numRuns: 2000 },
      );
    });

    it("when a region's example number is spelled in E.164, international, national, digits, 00, tel: or padded form, gives that number's E.164", () => {
      fc.assert(
        fc.property(spelledNumber, ({ country: c, e164, raw, style }) => {
          // The national spelling only means that number from inside its own region. Digits without
          // '+' (and after '00') are the integrations' habit the service reads against its default
          // region (US): as international only from 11 digits on, by design, since shorter runs are
          // national numbers far more often, and from inside the number's own region such a run may
          // also be a valid national number (+383 43 201234 typed 38343201234 in Kosovo).
          const withoutPlus = style === 'digits' || style === '00';
          fc.pre(!withoutPlus || e164.length >= 12);
          const region: CountryCode = withoutPlus ? 'US' : c;
          const identity = normalisePhone(raw, region);
          expect(identity, `${JSON.stringify(raw)} from ${region}`).to.not.equal(undefined);
          expect(identity!.e164).to.equal(e164);
          expect(identity!.searchValues[0]).to.equal(e164);
        }),
        { numRuns: 1500 },
      );
    });

    it('when a valid number is buried in more than 64 characters of padding text, refuses it (long input never reaches the parser)', () => {
      fc.assert(
        fc.property(spelledNumber, fc.integer({ min: 65, max: 5000 }), ({ country: c, raw }, length) => {
          const padded = `${raw.trim()} ${'x'.repeat(Math.max(0, length - raw.trim().length - 1))}`;
          expect(padded.length).to.be.above(64);
          expect(normalisePhone(padded, c)).to.equal(undefined);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('normaliseEmail', () => {
    const emailish = fc.oneof(
      fc.emailAddress(),
      fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}@${b}`),
      fc.tuple(fc.string({ unit: 'grapheme', maxLength: 10 }), fc.domain()).map(([a, d]) => `${a}@${d}`),
      fc.tuple(fc.emailAddress(), fc.constantFrom(' ', '\t', '\n', '\u00a0', '\ufeff', '\u2028', '')).map(([e, ws]) => `${ws}${e}${ws}`),
      // Kelvin sign and other letters whose lower case is ASCII
      fc.tuple(fc.constantFrom('\u212a', '\u0130', '\u017f', '\u212b'), fc.domain()).map(([c, d]) => `${c}ate@${d}`),
    );

    it('for any string, never throws, and any answer is lower-case, trimmed, one @, at most 254 characters, first in searchValues', () => {
      fc.assert(
        fc.property(fc.oneof(anyString, emailish), (raw) => {
          const identity = normaliseEmail(raw);
          if (!identity) return;
          expect(identity.type).to.equal('EMAIL');
          expect(identity.address).to.equal(identity.address.trim());
          expect(identity.address).to.equal(identity.address.toLowerCase());
          expect(identity.address.split('@')).to.have.length(2);
          expect(identity.address.length).to.be.at.most(254);
          expect(identity.searchValues[0]).to.equal(identity.address);
          expect(new Set(identity.searchValues).size).to.equal(identity.searchValues.length);
        }),
        { numRuns: 3000 },
      );
    });

    it('for any value that is not a string, answers undefined without throwing', () => {
      fc.assert(
        fc.property(fc.anything().filter((v) => typeof v !== 'string'), (raw) => {
          expect(normaliseEmail(raw)).to.equal(undefined);
        }),
        { numRuns: 500 },
      );
    });

    it('is idempotent: the address it answers normalises to itself', () => {
      fc.assert(
        fc.property(fc.oneof(anyString, emailish), (raw) => {
          const first = normaliseEmail(raw);
          if (!first) return;
          const again = normaliseEmail(first.address);
          expect(again, `re-normalising ${first.address}`).to.not.equal(undefined);
          expect(again!.address).to.equal(first.address);
          expect(again!.searchValues).to.deep.equal([first.address]);
        }),
        { numRuns: 2000 },
      );
    });

    it('ignores case and surrounding whitespace: any re-casing or re-padding of an accepted address gives the same address', () => {
      fc.assert(
        fc.property(
          emailish,
          fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
          fc.constantFrom('', ' ', '  ', '\t', '\n', '\r\n'),
          (raw, flips, ws) => {
            const first = normaliseEmail(raw);
            fc.pre(first !== undefined);
            const respelled = normaliseEmail(`${ws}${randomCase(first.address, flips)}${ws}`);
            expect(respelled?.address).to.equal(first.address);
          },
        ),
        { numRuns: 1000 },
      );
    });
  });
});
