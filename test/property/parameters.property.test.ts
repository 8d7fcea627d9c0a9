// Property-based test of the flow parameters as flows send them: a parameter set from an attribute that
// was never set arrives as "", and one typed with blanks around it arrives untrimmed. For any set of
// parameters, blanking any of them reads the event exactly as if they were not given, and padding any
// of them with blanks reads it exactly as the bare values.
import { expect } from 'chai';
import fc from 'fast-check';
import { parseContactEvent } from '../../src/contact/event.js';

const RUNS = 500;

// Valid values of each lookup parameter, in the spellings a flow may send (any letter case where the
// documentation allows it). searchKey and searchValue come together or not at all (a value needs a key).
const VALUES: Record<string, fc.Arbitrary<string>> = {
  phoneNumber: fc.constantFrom('+14255550123', '020 7946 0958', '(425) 555-0199', 'anonymous'),
  emailAddress: fc.constantFrom('jo@example.com', 'Ravi.K@Example.org', 'not an address'),
  countryCode: fc.constantFrom('GB', 'gb', 'Us', 'de', 'FR'),
  createProfile: fc.constantFrom('true', 'false', 'FALSE', 'True'),
  accountNumber: fc.constantFrom('ACME-7781', 'UK-100234', '1'),
  profileId: fc.constantFrom('5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d', 'ABCDEF0123456789ABCDEF0123456789'),
  matchMode: fc.constantFrom('any', 'all', 'ALL', 'Any'),
  operation: fc.constantFrom('resolve', 'Resolve', 'RESOLVE'),
};
const NAMES = [...Object.keys(VALUES), 'searchKey', 'searchValue'];
const blank = fc.stringMatching(/^[ \t\r\n]{0,6}$/);
const padding = fc.stringMatching(/^[ \t]{0,3}$/);

/** A set of valid parameters (a random subset, searchKey/searchValue as a pair). */
const parameters: fc.Arbitrary<Record<string, string>> = fc
  .tuple(
    fc.record(VALUES, { requiredKeys: [] }),
    fc.option(fc.tuple(fc.constantFrom('loyaltyId', 'memberNo'), fc.constantFrom('L-1001', 'M 7')), { nil: undefined }),
  )
  .map(([values, search]) => ({ ...values, ...(search ? { searchKey: search[0], searchValue: search[1] } : {}) }));

function event(params: Record<string, string>): Record<string, unknown> {
  return {
    Name: 'ContactFlowEvent',
    Details: {
      ContactData: {
        ContactId: '11111111-2222-4333-8444-555555555555',
        Channel: 'VOICE',
        CustomerEndpoint: { Address: '+442079460958', Type: 'TELEPHONE_NUMBER' },
        Attributes: {},
      },
      Parameters: params,
    },
  };
}

describe('flow parameters as flows send them (property-based)', () => {
  it(`for ${RUNS} parameter sets, any parameter set to "" or blanks reads as not given`, () => {
    fc.assert(
      fc.property(parameters, fc.subarray(NAMES), fc.array(blank, { minLength: NAMES.length, maxLength: NAMES.length }), (params, blanked, blanks) => {
        // searchKey blanked alone would leave a searchValue without its key (a 400 either way): blank the pair
        const names = new Set(blanked.includes('searchKey') ? [...blanked, 'searchValue'] : blanked);
        const withBlanks = { ...params };
        const without = { ...params };
        for (const [i, name] of NAMES.entries()) {
          if (!names.has(name)) continue;
          withBlanks[name] = blanks[i]!;
          delete without[name];
        }

        expect(parseContactEvent(event(withBlanks))).to.deep.equal(parseContactEvent(event(without)));
      }),
      { numRuns: RUNS },
    );
  });

  it(`for ${RUNS} parameter sets, blanks around any value read as the bare value`, () => {
    fc.assert(
      fc.property(parameters, fc.array(fc.tuple(padding, padding), { minLength: NAMES.length, maxLength: NAMES.length }), (params, pads) => {
        const padded = Object.fromEntries(Object.entries(params).map(([name, v]) => [name, `${pads[NAMES.indexOf(name)]![0]}${v}${pads[NAMES.indexOf(name)]![1]}`]));

        expect(parseContactEvent(event(padded))).to.deep.equal(parseContactEvent(event(params)));
      }),
      { numRuns: RUNS },
    );
  });
});
