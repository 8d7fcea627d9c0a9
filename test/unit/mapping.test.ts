import { expect } from 'chai';
import {
  CORE_KEYS,
  jsonBytes,
  enrichmentCalls,
  fitMapped,
  latestObject,
  parseAttributeMapping,
  timeOf,
  readProfile,
  sanitiseValue,
  type AttributeMapping,
} from '../../src/domain/mapping.js';
import { SCALAR_PROFILE_FIELDS, type Profile } from '../../src/domain/profile.js';

const PROFILE_ID = '0123456789abcdef0123456789abcdef';

function mappingOf(attributes: Record<string, string>): AttributeMapping {
  const { mapping, problems } = parseAttributeMapping({ attributes });
  expect(problems, 'the mapping is valid').to.deep.equal([]);
  return mapping;
}

/** A profile's mapped keys within a budget, the way buildAnswer reads them. */
const readMapped = (profile: Profile | undefined, mapping: AttributeMapping, budget: number): Record<string, string> =>
  fitMapped(mapping, profile ? readProfile(profile, mapping) : {}, budget);

/** Has a lone UTF-16 surrogate or a replacement character: a character was cut in half. */
function hasBrokenCharacter(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\uFFFD/.test(s);
}

describe('attribute mapping', () => {
  describe('parseAttributeMapping, reading fields', () => {
    for (const field of SCALAR_PROFILE_FIELDS) {
      it(`when a key maps to ${field}, reads that field of the profile`, () => {
        // Arrange
        const mapping = mappingOf({ extra: field });
        const profile = { ProfileId: PROFILE_ID, [field]: `value of ${field}` } as Profile;

        // Act
        const answer = readMapped(profile, mapping, 10_000);

        // Assert
        expect(answer).to.deep.equal({ extra: `value of ${field}` });
      });
    }

    it('when keys map to address parts, reads the part of the right address', () => {
      // Arrange
      const mapping = mappingOf({ city: 'Address.City', billingZip: 'BillingAddress.PostalCode', shipCountry: 'ShippingAddress.Country' });
      const profile: Profile = {
        ProfileId: PROFILE_ID,
        Address: { City: 'London', PostalCode: 'EC1A 1BB' },
        BillingAddress: { City: 'Leeds', PostalCode: 'LS1 4AP' },
        ShippingAddress: { Country: 'GB' },
      };

      // Act
      const answer = readMapped(profile, mapping, 10_000);

      // Assert
      expect(answer).to.deep.equal({ city: 'London', billingZip: 'LS1 4AP', shipCountry: 'GB' });
    });

    it('when an address part is mapped and the profile has no such address, gives ""', () => {
      // Arrange
      const mapping = mappingOf({ city: 'MailingAddress.City' });

      // Act
      const answer = readMapped({ ProfileId: PROFILE_ID, Address: { City: 'London' } }, mapping, 10_000);

      // Assert
      expect(answer).to.deep.equal({ city: '' });
    });

    it('when a key maps to Attributes.<name>, reads that custom attribute (names may hold . : - _)', () => {
      // Arrange
      const mapping = mappingOf({ tier: 'Attributes.tier', segment: 'Attributes.crm.segment:v2', lang: 'Attributes.preferred-language_code' });
      const profile: Profile = {
        ProfileId: PROFILE_ID,
        Attributes: { tier: 'gold', 'crm.segment:v2': 'smb', 'preferred-language_code': 'en-GB' },
      };

      // Act
      const answer = readMapped(profile, mapping, 10_000);

      // Assert
      expect(answer).to.deep.equal({ tier: 'gold', segment: 'smb', lang: 'en-GB' });
    });

    it('when the mapped field is absent from the profile, gives ""', () => {
      // Arrange
      const mapping = mappingOf({ middle: 'MiddleName', tier: 'Attributes.tier' });

      // Act
      const answer = readMapped({ ProfileId: PROFILE_ID }, mapping, 10_000);

      // Assert
      expect(answer).to.deep.equal({ middle: '', tier: '' });
    });

    it('when there is no profile, gives "" for every mapped key', () => {
      // Arrange
      const mapping = mappingOf({ middle: 'MiddleName', city: 'Address.City' });

      // Act
      const answer = readMapped(undefined, mapping, 10_000);

      // Assert
      expect(answer).to.deep.equal({ middle: '', city: '' });
    });

    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      it(`when Attributes.${name} is mapped and the profile has no such attribute, gives "" (nothing inherited leaks)`, () => {
        // Arrange
        const mapping = mappingOf({ inherited: `Attributes.${name}` });
        const profile: Profile = { ProfileId: PROFILE_ID, Attributes: { tier: 'gold' } };

        // Act
        const answer = readMapped(profile, mapping, 10_000);

        // Assert
        expect(answer).to.deep.equal({ inherited: '' });
      });
    }

    it('when a profile really holds an attribute named constructor (from JSON), reads its value', () => {
      // Arrange
      const mapping = mappingOf({ ctor: 'Attributes.constructor' });
      const profile = JSON.parse(`{"ProfileId":"${PROFILE_ID}","Attributes":{"constructor":"builder"}}`) as Profile;

      // Act
      const answer = readMapped(profile, mapping, 10_000);

      // Assert
      expect(answer).to.deep.equal({ ctor: 'builder' });
    });

    it('when the file has no attributes object, gives an empty mapping without problems', () => {
      // Act
      const { mapping, problems } = parseAttributeMapping({});

      // Assert
      expect(problems).to.deep.equal([]);
      expect(mapping).to.deep.equal([]);
    });
  });

  describe('parseAttributeMapping, rejecting', () => {
    const unknownSources = ['Nickname', 'firstName', 'Address', 'Address.Street', 'Address.City.Name', 'Attributes.', 'Attributes.a b', 'ProfileId'];
    for (const source of unknownSources) {
      it(`when a key maps to "${source}" (not a profile field), reports the key and the field`, () => {
        // Act
        const { problems } = parseAttributeMapping({ attributes: { extra: source } });

        // Assert
        expect(problems).to.have.lengthOf(1);
        expect(problems[0]).to.include('"extra"').and.include(`"${source}"`);
      });
    }

    for (const key of CORE_KEYS) {
      it(`when the mapping reuses the core key ${key}, reports it`, () => {
        // Act
        const { problems } = parseAttributeMapping({ attributes: { [key]: 'FirstName' } });

        // Assert
        expect(problems).to.deep.equal([`"${key}": is a core answer key`]);
      });
    }

    const badKeys = ['', '1tier', '_tier', 'tier level', 'tier.level', 'tier$', 'ünïcode', 'a'.repeat(65)];
    for (const key of badKeys) {
      it(`when an answer key is ${JSON.stringify(key.length > 20 ? `${key.length} letters` : key)}, reports the bad key name`, () => {
        // Act
        const { problems } = parseAttributeMapping({ attributes: { [key]: 'FirstName' } });

        // Assert
        expect(problems).to.have.lengthOf(1);
        expect(problems[0]).to.include(`"${key}"`).and.include('an answer key is');
      });
    }

    it('when a key is 64 characters, accepts it (the longest allowed)', () => {
      // Act
      const { problems } = parseAttributeMapping({ attributes: { ['a'.repeat(64)]: 'FirstName' } });

      // Assert
      expect(problems).to.deep.equal([]);
    });

    it('when the mapping has 65 entries, reports the limit of 64', () => {
      // Arrange
      const attributes = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`key${i}`, 'FirstName']));

      // Act
      const { problems } = parseAttributeMapping({ attributes });

      // Assert
      expect(problems).to.deep.equal(['at most 64 mapped attributes (got 65)']);
    });

    it('when the mapping has exactly 64 entries, accepts them all', () => {
      // Arrange
      const attributes = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`key${i}`, `Attributes.a${i}`]));

      // Act
      const { mapping, problems } = parseAttributeMapping({ attributes });

      // Assert
      expect(problems).to.deep.equal([]);
      expect(mapping).to.have.lengthOf(64);
    });

    const notMappings: Array<[string, unknown]> = [
      ['an array', [{ extra: 'FirstName' }]],
      ['a string', 'FirstName'],
      ['null', null],
      ['undefined (an unreadable file)', undefined],
      ['attributes as an array', { attributes: ['FirstName'] }],
      ['an attribute source that is not a string', { attributes: { extra: 5 } }],
    ];
    for (const [what, raw] of notMappings) {
      it(`when the file content is ${what}, reports the expected shape and maps nothing`, () => {
        // Act
        const { mapping, problems } = parseAttributeMapping(raw);

        // Assert
        expect(mapping).to.deep.equal([]);
        expect(problems).to.have.length(1);
        expect(problems[0]).to.match(/the file must be \{"attributes": \{"answerKey": "source"\}, "objects": \{"ObjectTypeName": \{"latestBy": "field"\}\}, "personal": \["answerKey"\], "routing": \["answerKey"\]\}$/);
      });
    }
  });

  describe('sanitiseValue', () => {
    it('when the value holds newlines, tabs and control characters, replaces them so none is left', () => {
      // Act
      const out = sanitiseValue('Jane\r\nDoe\tSmith\u0000\u0007x\u007f\u0085y\u2028z\u2029');

      // Assert
      expect(out).to.equal('Jane Doe Smith x y z');
    });

    it('when the value has surrounding spaces and control characters, trims them', () => {
      // Act
      const out = sanitiseValue('  \n\t gold \r\n ');

      // Assert
      expect(out).to.equal('gold');
    });

    it('when the value is undefined, gives ""', () => {
      // Act / Assert
      expect(sanitiseValue(undefined)).to.equal('');
    });

    it('when the value is exactly 1024 bytes, keeps it whole', () => {
      // Arrange
      const value = 'é'.repeat(512);

      // Act
      const out = sanitiseValue(value);

      // Assert
      expect(out).to.equal(value);
    });

    const multibyte: Array<[string, string]> = [
      ['2-byte characters cut mid-character', 'a' + 'é'.repeat(600)],
      ['3-byte characters cut mid-character', '€'.repeat(400)],
      ['3-byte characters cut after one byte', 'ab' + '€'.repeat(400)],
      ['4-byte emoji cut mid-character', 'a' + '😀'.repeat(300)],
      ['4-byte emoji cut after three bytes', 'abc' + '😀'.repeat(300)],
    ];
    for (const [what, value] of multibyte) {
      it(`when the value is over 1024 bytes of ${what}, keeps the longest whole-character prefix within 1024 bytes`, () => {
        // Act
        const out = sanitiseValue(value);

        // Assert
        const bytes = Buffer.byteLength(out);
        expect(bytes).to.be.at.most(1024);
        expect(bytes, 'no more than one character was dropped').to.be.above(1024 - 4);
        expect(value.startsWith(out), 'a prefix of the input').to.equal(true);
        expect(hasBrokenCharacter(out), 'no broken character').to.equal(false);
      });
    }
  });

  describe('readMapped byte budget', () => {
    it('when a value does not fit in what is left of the budget, empties it and keeps the key', () => {
      // Arrange
      const mapping = mappingOf({ a: 'Attributes.a', b: 'Attributes.b', c: 'Attributes.c' });
      const profile: Profile = { ProfileId: PROFILE_ID, Attributes: { a: 'x'.repeat(100), b: 'y'.repeat(100), c: 'z' } };
      const budget = jsonBytes('a', 'x'.repeat(100)) + jsonBytes('b', '') + jsonBytes('c', 'z');

      // Act
      const answer = readMapped(profile, mapping, budget);

      // Assert
      expect(answer).to.deep.equal({ a: 'x'.repeat(100), b: '', c: 'z' });
    });

    it('when escaping makes a value larger in JSON than in the profile, counts the escaped size', () => {
      // Arrange: 10 quotes take 20 bytes once escaped
      const mapping = mappingOf({ q: 'Attributes.q' });
      const profile: Profile = { ProfileId: PROFILE_ID, Attributes: { q: '"'.repeat(10) } };
      const budget = jsonBytes('q', '"'.repeat(10)) - 1;

      // Act
      const answer = readMapped(profile, mapping, budget);

      // Assert
      expect(answer).to.deep.equal({ q: '' });
    });

    it('when the values are read, they are sanitised', () => {
      // Arrange
      const mapping = mappingOf({ note: 'AdditionalInformation' });

      // Act
      const answer = readMapped({ ProfileId: PROFILE_ID, AdditionalInformation: ' VIP\ncaller ' }, mapping, 10_000);

      // Assert
      expect(answer).to.deep.equal({ note: 'VIP caller' });
    });

    it('when many long keys exceed the budget, the pairs written never take more bytes than the budget', () => {
      // Arrange: 64 keys of 64 characters, each value 1024 bytes of quotes (2 KB once escaped)
      const attributes: Record<string, string> = {};
      const values: Record<string, string> = {};
      for (let i = 0; i < 64; i++) {
        attributes[`k${String(i).padStart(2, '0')}`.padEnd(64, 'x')] = `Attributes.a${i}`;
        values[`a${i}`] = '"'.repeat(1024);
      }
      const mapping = mappingOf(attributes);
      const budget = 16_000;

      // Act
      const answer = readMapped({ ProfileId: PROFILE_ID, Attributes: values }, mapping, budget);

      // Assert
      const used = Object.entries(answer).reduce((n, [k, v]) => n + jsonBytes(k, v), 0);
      expect(used).to.be.at.most(budget);
    });
  });

  describe('jsonBytes', () => {
    it('when given a pair, counts the escaped key, value, colon and comma', () => {
      // Act
      const bytes = jsonBytes('k', 'é"');

      // Assert: "k" (3) + "é\"" (2 + 2 + 2) + : and , (2)
      expect(bytes).to.equal(Buffer.byteLength(`"k":"é\\"",`));
    });
  });

  describe('enrichment sources', () => {
    it('reads CalculatedAttributes, Objects (with their latestBy and where) and Segments into calls, one per source', () => {
      // Act
      const { mapping, problems } = parseAttributeMapping({
        attributes: {
          hold: 'CalculatedAttributes._average_hold_time',
          count: 'CalculatedAttributes.contacts_30d',
          orderStatus: 'Objects.Orders.status',
          orderCity: 'Objects.Orders.shipping.city',
          vip: 'Segments.vip-customers',
        },
        objects: { Orders: { latestBy: 'updatedAt', where: { key: 'status', values: ['OPEN'] } } },
      });

      // Assert
      expect(problems).to.deep.equal([]);
      expect(enrichmentCalls(mapping)).to.deep.equal([
        { id: 'calculated-attributes', kind: 'calculated' },
        { id: 'object:Orders', kind: 'object', objectType: 'Orders', latestBy: ['updatedAt'], where: { key: 'status', values: ['OPEN'] } },
        { id: 'segment:vip-customers', kind: 'segment', segment: 'vip-customers' },
      ]);
      const pick = (key: string, result: unknown) => mapping.find((m) => m.key === key)!.pick!(result as never);
      expect(pick('count', { contacts_30d: { value: '3' } })).to.equal('3');
      expect(pick('count', { other: { value: '1' } })).to.equal(undefined);
      expect(pick('orderCity', { shipping: { city: 'Leeds' } })).to.equal('Leeds');
      expect(pick('orderCity', { shipping: 'Leeds' })).to.equal(undefined);
      expect(pick('vip', { member: true })).to.equal('true');
      expect(pick('vip', { member: false })).to.equal('false');
    });

    it('reads the freshness of a calculated attribute (its own item) and of a segment (its computation), and none of an object', () => {
      // Arrange
      const { mapping } = parseAttributeMapping({
        attributes: { count: 'CalculatedAttributes.contacts_30d', orderStatus: 'Objects.Orders.status', vip: 'Segments.vip-customers' },
        objects: { Orders: { latestBy: 'updatedAt' } },
      });
      const freshness = (key: string, result: unknown) => mapping.find((m) => m.key === key)!.freshness?.(result as never);

      // Act, Assert
      const calculated = { contacts_30d: { value: '3', partial: true, asOf: 1_764_000_000_000 }, other: { value: '1', partial: false, asOf: 1 } };
      expect(freshness('count', calculated)).to.deep.equal({ partial: true, asOf: 1_764_000_000_000 });
      expect(freshness('count', { contacts_30d: { value: '3' } })).to.deep.equal({});
      expect(freshness('count', { other: { value: '1', partial: true } }), 'an attribute not mapped says nothing').to.equal(undefined);
      expect(freshness('vip', { member: false, computedAt: 1_700_000_000_000 })).to.deep.equal({ asOf: 1_700_000_000_000 });
      expect(freshness('vip', { member: true })).to.equal(undefined);
      expect(freshness('orderStatus', { status: 'SHIPPED', updatedAt: '2026-11-28T00:00:00Z' })).to.equal(undefined);
    });

    const wrong: Array<[string, unknown, RegExp]> = [
      ['an object type the objects section does not describe', { attributes: { s: 'Objects.Orders.status' } }, /"s": "Objects\.Orders\.status" needs "objects": \{"Orders": \{"latestBy"/],
      ['an objects entry no attribute reads', { attributes: {}, objects: { Cases: { latestBy: 'at' } } }, /objects\.Cases: no attribute reads Objects\.Cases\.<field>/],
      ['a latestBy that is not a field path', { attributes: { s: 'Objects.Orders.status' }, objects: { Orders: { latestBy: 'a..b' } } }, /objects\.Orders\.latestBy/],
      ['a calculated attribute name starting with a digit', { attributes: { c: 'CalculatedAttributes.1st' } }, /"c": "CalculatedAttributes\.1st" is not/],
      ['a segment name with a dot', { attributes: { v: 'Segments.vip.gold' } }, /"v": "Segments\.vip\.gold" is not/],
    ];
    for (const [what, file, problem] of wrong) {
      it(`rejects ${what}, naming it`, () => {
        // Act
        const { problems } = parseAttributeMapping(file);

        // Assert
        expect(problems.some((p) => problem.test(p)), problems.join('; ')).to.equal(true);
      });
    }

    it('rejects more than 10 enrichment calls a lookup', () => {
      // Arrange: 11 segments
      const attributes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`s${i}`, `Segments.segment-${i}`]));

      // Act
      const { problems } = parseAttributeMapping({ attributes });

      // Assert
      expect(problems).to.deep.equal(['at most 10 enrichment calls a lookup (calculated attributes, object types and segments together; got 11)']);
    });
  });

  describe('latestObject', () => {
    it('chooses by the timestamp field, whatever the order: ISO text and epoch seconds or milliseconds compare as times', () => {
      // Arrange
      const objects = [
        { uniqueKey: 'a', object: { s: 'iso', at: '2026-11-28T09:00:00Z' } },
        { uniqueKey: 'b', object: { s: 'seconds', at: Date.parse('2026-11-29T09:00:00Z') / 1000 } },
        { uniqueKey: 'c', object: { s: 'millis', at: Date.parse('2026-11-27T09:00:00Z') } },
        { uniqueKey: 'd', object: { s: 'no time' } },
        { uniqueKey: 'e', object: { s: 'not a time', at: 'yesterday' } },
      ];

      // Act / Assert: every rotation of the list gives the same object
      for (let i = 0; i < objects.length; i++) {
        const rotated = [...objects.slice(i), ...objects.slice(0, i)];
        expect(latestObject(rotated, ['at'])?.s).to.equal('seconds');
      }
      expect(timeOf('1764406800')).to.equal(1764406800 * 1000);
    });

    it('gives none when no object has a readable time, and breaks a tie by the greater unique key', () => {
      expect(latestObject([{ uniqueKey: 'a', object: { s: 'x' } }], ['at'])).to.equal(undefined);
      const tie = [
        { uniqueKey: 'k2', object: { s: 'two', at: '2026-01-01T00:00:00Z' } },
        { uniqueKey: 'k1', object: { s: 'one', at: '2026-01-01T00:00:00Z' } },
      ];
      expect(latestObject(tie, ['at'])?.s).to.equal('two');
      expect(latestObject([...tie].reverse(), ['at'])?.s).to.equal('two');
    });
  });
});
