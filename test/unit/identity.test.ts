import { expect } from 'chai';
import type { CountryCode } from 'libphonenumber-js/max';
import { isCountryCode, normaliseEmail, normalisePhone } from '../../src/domain/identity.js';

// Every expectation below was obtained by running libphonenumber-js 1.13.16 (max metadata).
// Numbers are fictional ranges (US 555-01xx, Ofcom 020 7946 0xxx, ACMA 0491 570 xxx) or
// libphonenumber's own example numbers.
interface PhoneRow {
  when: string;
  input: unknown;
  defaultCountry: CountryCode;
  e164: string | undefined;
  country?: string;
}

const US = '+14255550123';
const UK = '+442079460958';

const phoneRows: PhoneRow[] = [
  // US / Canada (NANP) national and international spellings
  { when: 'a US number is written (425) 555-0123', input: '(425) 555-0123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is written with dots', input: '425.555.0123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number has the 1- trunk prefix', input: '1-425-555-0123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is +1 with brackets', input: '+1 (425) 555-0123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is bare 10 digits', input: '4255550123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is 11 digits with the leading 1', input: '14255550123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is already E.164', input: '+14255550123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is +1 with dots', input: '+1.425.555.0123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number has surrounding whitespace and a newline', input: ' +1-425-555-0123\n', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is a tel: URI', input: 'tel:+14255550123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number is dialled 001 from the UK', input: '001 425 555 0123', defaultCountry: 'GB', e164: US, country: 'US' },
  { when: 'a US number is written with the 1- prefix and default CA', input: '1-425-555-0123', defaultCountry: 'CA', e164: US, country: 'US' },
  { when: 'a US 555 number outside 555-01xx is used', input: '425-555-1234', defaultCountry: 'US', e164: '+14255551234', country: 'US' },
  { when: 'a US toll-free number is given in digits', input: '1-800-356-9377', defaultCountry: 'US', e164: '+18003569377', country: 'US' },
  { when: 'a Canadian number is dialled nationally with default CA', input: '416-555-0199', defaultCountry: 'CA', e164: '+14165550199', country: 'CA' },
  { when: 'a Canadian number is dialled nationally with default US', input: '(506) 234-5678', defaultCountry: 'US', e164: '+15062345678', country: 'CA' },
  { when: 'a Canadian number is E.164 with default US', input: '+1 416 555 0199', defaultCountry: 'US', e164: '+14165550199', country: 'CA' },
  { when: 'a US number is dialled nationally with default CA', input: '(212) 555-0100', defaultCountry: 'CA', e164: '+12125550100', country: 'US' },
  { when: 'a Bahamas number is dialled as NANP with default US', input: '(242) 357-1234', defaultCountry: 'US', e164: '+12423571234', country: 'BS' },
  { when: 'a Jamaica +1 876 number is given', input: '+1 876 555 0123', defaultCountry: 'US', e164: '+18765550123', country: 'JM' },
  // United Kingdom
  { when: 'a UK number is international', input: '+44 20 7946 0958', defaultCountry: 'GB', e164: UK, country: 'GB' },
  { when: 'a UK number is national with default GB', input: '020 7946 0958', defaultCountry: 'GB', e164: UK, country: 'GB' },
  { when: 'a UK number uses the 00 prefix with default GB', input: '00442079460958', defaultCountry: 'GB', e164: UK, country: 'GB' },
  { when: 'a UK number uses the 00 prefix with default US', input: '00442079460958', defaultCountry: 'US', e164: UK, country: 'GB' },
  { when: 'a UK number is international without + and default US', input: '442079460958', defaultCountry: 'US', e164: UK, country: 'GB' },
  { when: 'a UK number is dialled 0044 from Germany', input: '0044 20 7946 0958', defaultCountry: 'DE', e164: UK, country: 'GB' },
  { when: 'a UK number is dialled 011 from the US', input: '011 44 20 7946 0958', defaultCountry: 'US', e164: UK, country: 'GB' },
  { when: 'a UK number is E.164 with default US (same number via another default)', input: '+44 20 7946 0958', defaultCountry: 'US', e164: UK, country: 'GB' },
  // Germany
  { when: 'a German Berlin number is international', input: '+49 30 123456', defaultCountry: 'DE', e164: '+4930123456', country: 'DE' },
  { when: 'a German Berlin number is national', input: '030 12345678', defaultCountry: 'DE', e164: '+493012345678', country: 'DE' },
  { when: 'a German mobile is national', input: '01512 3456789', defaultCountry: 'DE', e164: '+4915123456789', country: 'DE' },
  { when: 'a German mobile is E.164 with default US', input: '+49 1512 3456789', defaultCountry: 'US', e164: '+4915123456789', country: 'DE' },
  // France
  { when: 'a French mobile is national', input: '06 12 34 56 78', defaultCountry: 'FR', e164: '+33612345678', country: 'FR' },
  { when: 'a French Paris number is E.164 with default US', input: '+33 1 23 45 67 89', defaultCountry: 'US', e164: '+33123456789', country: 'FR' },
  // India
  { when: 'an Indian mobile is national with trunk 0', input: '081234 56789', defaultCountry: 'IN', e164: '+918123456789', country: 'IN' },
  { when: 'an Indian mobile is bare 10 digits', input: '8123456789', defaultCountry: 'IN', e164: '+918123456789', country: 'IN' },
  { when: 'an Indian mobile is E.164 with default GB', input: '+91 81234 56789', defaultCountry: 'GB', e164: '+918123456789', country: 'IN' },
  { when: 'an Indian mobile is international without + and default US', input: '918123456789', defaultCountry: 'US', e164: '+918123456789', country: 'IN' },
  // Australia
  { when: 'an Australian mobile is national', input: '0412 345 678', defaultCountry: 'AU', e164: '+61412345678', country: 'AU' },
  { when: 'an Australian fictional ACMA mobile is national', input: '0491 570 156', defaultCountry: 'AU', e164: '+61491570156', country: 'AU' },
  { when: 'a Sydney number has the area code in brackets', input: '(02) 9876 5432', defaultCountry: 'AU', e164: '+61298765432', country: 'AU' },
  { when: 'a Sydney number is E.164 with default US', input: '+61 2 9876 5432', defaultCountry: 'US', e164: '+61298765432', country: 'AU' },
  // Brazil
  { when: 'a Brazilian mobile is national', input: '(11) 96123-4567', defaultCountry: 'BR', e164: '+5511961234567', country: 'BR' },
  { when: 'a Brazilian mobile is E.164 with default US', input: '+55 11 96123 4567', defaultCountry: 'US', e164: '+5511961234567', country: 'BR' },
  { when: 'a Brazilian mobile is international without + and default US', input: '5511961234567', defaultCountry: 'US', e164: '+5511961234567', country: 'BR' },
  // Japan
  { when: 'a Japanese mobile is national', input: '090-1234-5678', defaultCountry: 'JP', e164: '+819012345678', country: 'JP' },
  { when: 'a Tokyo number is national', input: '03-1234-5678', defaultCountry: 'JP', e164: '+81312345678', country: 'JP' },
  { when: 'a Tokyo number is E.164 with default US', input: '+81 3-1234-5678', defaultCountry: 'US', e164: '+81312345678', country: 'JP' },
  // Mexico
  { when: 'a Mexican mobile is national', input: '222 123 4567', defaultCountry: 'MX', e164: '+522221234567', country: 'MX' },
  { when: 'a Mexico City number is E.164 with default US', input: '+52 55 1234 5678', defaultCountry: 'US', e164: '+525512345678', country: 'MX' },
  { when: 'a Mexican mobile keeps the legacy +52 1 mobile prefix (retired 2019)', input: '+52 1 222 123 4567', defaultCountry: 'US', e164: undefined },
  { when: 'a Mexican mobile keeps the legacy 044 prefix', input: '044 55 1234 5678', defaultCountry: 'MX', e164: undefined },
  // Singapore
  { when: 'a Singapore mobile is national', input: '8123 4567', defaultCountry: 'SG', e164: '+6581234567', country: 'SG' },
  { when: 'a Singapore fixed line is E.164 with default US', input: '+65 6123 4567', defaultCountry: 'US', e164: '+6561234567', country: 'SG' },
  // South Africa
  { when: 'a South African mobile is national', input: '071 123 4567', defaultCountry: 'ZA', e164: '+27711234567', country: 'ZA' },
  { when: 'a Cape Town number is E.164 with default US', input: '+27 21 123 4567', defaultCountry: 'US', e164: '+27211234567', country: 'ZA' },
  { when: 'a South African mobile is E.164 with default GB', input: '+27 71 123 4567', defaultCountry: 'GB', e164: '+27711234567', country: 'ZA' },
  // Ireland
  { when: 'an Irish mobile is national', input: '085 012 3456', defaultCountry: 'IE', e164: '+353850123456', country: 'IE' },
  { when: 'a Dublin number is national', input: '01 234 5678', defaultCountry: 'IE', e164: '+35312345678', country: 'IE' },
  { when: 'a Dublin number is E.164 with default US', input: '+353 1 234 5678', defaultCountry: 'US', e164: '+35312345678', country: 'IE' },
  // Non-geographic
  { when: 'an international freephone +800 number is given', input: '+800 1234 5678', defaultCountry: 'US', e164: '+80012345678', country: '' },
  // Extensions are dropped
  { when: 'a US number has "ext. 45"', input: '425-555-0123 ext. 45', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number has "x45"', input: '(425) 555-0123 x45', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number has ";ext=45"', input: '+14255550123;ext=45', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a tel: URI has ";ext=45"', input: 'tel:+1-425-555-0123;ext=45', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a US number has "extension 9"', input: '425-555-0123 extension 9', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a UK number has "ext 123"', input: '+44 20 7946 0958 ext 123', defaultCountry: 'US', e164: UK, country: 'GB' },
  { when: 'a UK number has "#123"', input: '020 7946 0958 #123', defaultCountry: 'GB', e164: UK, country: 'GB' },
  // Valid only in another region than the default
  { when: 'a UK national number is read with default US', input: '020 7946 0958', defaultCountry: 'US', e164: undefined },
  { when: 'an Australian national mobile is read with default US', input: '0412 345 678', defaultCountry: 'US', e164: undefined },
  { when: 'a French national mobile is read with default US', input: '0612345678', defaultCountry: 'US', e164: undefined },
  { when: 'a Singapore national number is read with default US', input: '81234567', defaultCountry: 'US', e164: undefined },
  { when: 'a US national number is read with default GB', input: '4255550123', defaultCountry: 'GB', e164: undefined },
  { when: 'a UK-looking national 07400 number is read with default DE (it is a valid German number)', input: '07400 123456', defaultCountry: 'DE', e164: '+497400123456', country: 'DE' },
  { when: 'the UK national 07400 number is read with default US', input: '07400 123456', defaultCountry: 'US', e164: undefined },
  // Ranges libphonenumber rejects
  { when: 'an Ofcom drama mobile 07700 900xxx is given (libphonenumber treats it as invalid)', input: '07700 900123', defaultCountry: 'GB', e164: undefined },
  { when: 'a Bahamas 555-0123 number is given (555 is US-only)', input: '+1 242 555 0123', defaultCountry: 'US', e164: undefined },
  // Vanity numbers: libphonenumber-js does not map letters to digits
  { when: 'a vanity number 1-800-FLOWERS is given', input: '1-800-FLOWERS', defaultCountry: 'US', e164: undefined },
  // Withheld caller ID placeholders, any case
  { when: "the caller ID is withheld as 'Anonymous'", input: 'Anonymous', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as 'ANONYMOUS'", input: 'ANONYMOUS', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as ' Private '", input: ' Private ', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as 'RESTRICTED'", input: 'RESTRICTED', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as 'Unknown'", input: 'Unknown', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as 'unavailable'", input: 'unavailable', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as 'Withheld'", input: 'Withheld', defaultCountry: 'GB', e164: undefined },
  { when: "the caller ID is withheld as 'blocked'", input: 'blocked', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as ' no caller id '", input: ' no caller id ', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as 'CALLER ID WITHHELD'", input: 'CALLER ID WITHHELD', defaultCountry: 'GB', e164: undefined },
  { when: "the caller ID is withheld as 'Not Available'", input: 'Not Available', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as Asterisk's 'P'", input: 'P', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as the keypad spelling '+266696687'", input: '+266696687', defaultCountry: 'US', e164: undefined },
  { when: "the caller ID is withheld as the keypad spelling '266696687'", input: '266696687', defaultCountry: 'US', e164: undefined },
  // Garbage
  { when: 'the input is letters only', input: 'abc', defaultCountry: 'US', e164: undefined },
  { when: 'the input is a lone +', input: '+', defaultCountry: 'US', e164: undefined },
  { when: 'the input is too short', input: '123', defaultCountry: 'US', e164: undefined },
  { when: 'the input is +1 555', input: '+1 555', defaultCountry: 'US', e164: undefined },
  { when: 'the input is a US local 7-digit number', input: '555-0123', defaultCountry: 'US', e164: undefined },
  { when: 'the input is an emergency short code', input: '911', defaultCountry: 'US', e164: undefined },
  { when: 'the input has one digit too many', input: '+1 425 555 01234', defaultCountry: 'US', e164: undefined },
  { when: 'the input is all zeros', input: '+0 000 000 0000', defaultCountry: 'US', e164: undefined },
  { when: 'the input is an emoji', input: '📞', defaultCountry: 'US', e164: undefined },
  { when: 'the input is 200 digits', input: '1'.repeat(200), defaultCountry: 'US', e164: undefined },
  { when: 'the input is empty', input: '', defaultCountry: 'US', e164: undefined },
  { when: 'the input is whitespace', input: '   ', defaultCountry: 'US', e164: undefined },
  { when: 'the input is null', input: null, defaultCountry: 'US', e164: undefined },
  { when: 'the input is undefined', input: undefined, defaultCountry: 'US', e164: undefined },
  { when: 'the input is a JS number', input: 4255550123, defaultCountry: 'US', e164: undefined },
  { when: 'the input is an object holding a number', input: { number: '+14255550123' }, defaultCountry: 'US', e164: undefined },
  { when: 'the input is an array', input: ['+14255550123'], defaultCountry: 'US', e164: undefined },
  // libphonenumber extracts a number from surrounding text; kept as its documented behaviour
  { when: 'a valid number follows an emoji', input: '😀 425 555 0123', defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'a valid number follows words', input: 'abc 425 555 0123', defaultCountry: 'US', e164: US, country: 'US' },
  // Length limit applies after trimming
  { when: 'the trimmed input is exactly 64 characters', input: `+1 425${' '.repeat(50)}555 0123`, defaultCountry: 'US', e164: US, country: 'US' },
  { when: 'the trimmed input is 65 characters', input: `+1 425${' '.repeat(51)}555 0123`, defaultCountry: 'US', e164: undefined },
  { when: 'a valid number is padded with 200 spaces', input: `${' '.repeat(100)}+14255550123${' '.repeat(100)}`, defaultCountry: 'US', e164: US, country: 'US' },
];

describe('normalisePhone', () => {
  it('has a table of at least 45 rows', () => {
    expect(phoneRows.length).to.be.at.least(45);
  });

  for (const row of phoneRows) {
    const outcome = row.e164 === undefined ? 'gives no identity' : `gives ${row.e164} in '${row.country ?? ''}'`;
    it(`when ${row.when} (default ${row.defaultCountry}), ${outcome}`, () => {
      const identity = normalisePhone(row.input, row.defaultCountry);
      if (row.e164 === undefined) {
        expect(identity).to.equal(undefined);
        return;
      }
      expect(identity).to.not.equal(undefined);
      expect(identity!.type).to.equal('PHONE');
      expect(identity!.e164).to.equal(row.e164);
      expect(identity!.country).to.equal(row.country);
      expect(identity!.searchValues[0]).to.equal(row.e164);
      expect(identity!.searchValues.length).to.be.within(1, 6);
      expect(new Set(identity!.searchValues).size).to.equal(identity!.searchValues.length);
      for (const value of identity!.searchValues) expect(value.length).to.be.within(1, 255);
    });
  }

  describe('searchValues', () => {
    it('when a US number is given, lists E.164, digits, national number, national and international formats in that order', () => {
      expect(normalisePhone('(425) 555-0123', 'US')?.searchValues).to.deep.equal([
        '+14255550123',
        '14255550123',
        '4255550123',
        '(425) 555-0123',
        '+1 425 555 0123',
      ]);
    });

    it('when a UK number is given, also lists the national digits with the 0 trunk prefix', () => {
      expect(normalisePhone('+44 20 7946 0958', 'US')?.searchValues).to.deep.equal([
        '+442079460958',
        '442079460958',
        '2079460958',
        '02079460958',
        '020 7946 0958',
        '+44 20 7946 0958',
      ]);
    });

    it('when the number has an extension, no search value mentions the extension', () => {
      const values = normalisePhone('+44 20 7946 0958 ext 123', 'GB')?.searchValues ?? [];
      expect(values).to.have.length(6);
      for (const value of values) expect(value).to.not.match(/ext|123$/);
    });

    it('when a Japanese mobile is given, lists the trunk-prefixed digits and the dashed national form', () => {
      expect(normalisePhone('090-1234-5678', 'JP')?.searchValues).to.deep.equal([
        '+819012345678',
        '819012345678',
        '9012345678',
        '09012345678',
        '090-1234-5678',
        '+81 90 1234 5678',
      ]);
    });
  });
});

interface EmailRow {
  when: string;
  input: unknown;
  address: string | undefined;
  searchValues?: string[];
}

const longLocal = 'a'.repeat(64);
const domainOf = (lastLabel: number): string => ['b'.repeat(63), 'c'.repeat(63), 'd'.repeat(lastLabel)].join('.') + '.com';
const email254 = `${longLocal}@${domainOf(57)}`;

const emailRows: EmailRow[] = [
  { when: 'an address is lower-case', input: 'jane@example.com', address: 'jane@example.com', searchValues: ['jane@example.com'] },
  { when: 'an address has mixed case', input: 'Jane.Doe@Example.COM', address: 'jane.doe@example.com', searchValues: ['jane.doe@example.com', 'Jane.Doe@Example.COM'] },
  { when: 'an address is upper-case', input: 'JANE@EXAMPLE.COM', address: 'jane@example.com', searchValues: ['jane@example.com', 'JANE@EXAMPLE.COM'] },
  { when: 'an address has surrounding spaces', input: '  jane.doe@example.com  ', address: 'jane.doe@example.com', searchValues: ['jane.doe@example.com'] },
  { when: 'the local part has an apostrophe and a plus tag', input: "o'brien+tag@mail.example.co.uk", address: "o'brien+tag@mail.example.co.uk", searchValues: ["o'brien+tag@mail.example.co.uk"] },
  { when: 'the local part uses every RFC 5322 atext symbol', input: '{}!#$%&*+/=?^_`|~-@example.org', address: '{}!#$%&*+/=?^_`|~-@example.org' },
  { when: 'the address is the shortest practical one', input: 'a@b.co', address: 'a@b.co' },
  { when: 'the TLD is long', input: 'jane@sub.example.museum', address: 'jane@sub.example.museum' },
  { when: 'the domain is punycode', input: 'user@xn--bcher-kva.example', address: 'user@xn--bcher-kva.example' },
  { when: 'the local part is exactly 64 characters', input: `${longLocal}@example.com`, address: `${longLocal}@example.com` },
  { when: 'the address is exactly 254 characters', input: email254, address: email254 },
  { when: 'the address is 255 characters', input: `${longLocal}@${domainOf(58)}`, address: undefined },
  { when: 'the local part is 65 characters', input: `a${longLocal}@example.com`, address: undefined },
  { when: 'the domain is unicode (IDN, deliberately rejected)', input: 'user@bücher.example', address: undefined },
  { when: 'the local part is unicode', input: 'jané@example.com', address: undefined },
  { when: 'the domain has no TLD', input: 'jane@example', address: undefined },
  { when: 'the TLD is one letter', input: 'jane@example.c', address: undefined },
  { when: 'the TLD is numeric', input: 'jane@example.123', address: undefined },
  { when: 'there are two @ signs together', input: 'jane@@example.com', address: undefined },
  { when: 'there are two @ signs apart', input: 'jane@ex@ample.com', address: undefined },
  { when: 'the local part starts with a dot', input: '.jane@example.com', address: undefined },
  { when: 'the local part ends with a dot', input: 'jane.@example.com', address: undefined },
  { when: 'the local part has a double dot', input: 'ja..ne@example.com', address: undefined },
  { when: 'the domain has a double dot', input: 'jane@example..com', address: undefined },
  { when: 'the domain starts with a dot', input: 'jane@.example.com', address: undefined },
  { when: 'the domain ends with a dot', input: 'jane@example.com.', address: undefined },
  { when: 'a domain label starts with a hyphen', input: 'jane@-example.com', address: undefined },
  { when: 'a domain label ends with a hyphen', input: 'jane@example-.com', address: undefined },
  { when: 'the domain has an underscore', input: 'jane@exa_mple.com', address: undefined },
  { when: 'the local part is quoted', input: '"jane doe"@example.com', address: undefined },
  { when: 'the local part has a space', input: 'jane doe@example.com', address: undefined },
  { when: 'the domain is an IP literal', input: 'jane@[192.168.0.1]', address: undefined },
  { when: 'the local part is empty', input: '@example.com', address: undefined },
  { when: 'the domain is empty', input: 'jane@', address: undefined },
  { when: 'the input is empty', input: '', address: undefined },
  { when: 'the input is whitespace', input: '   ', address: undefined },
  { when: 'the input is null', input: null, address: undefined },
  { when: 'the input is undefined', input: undefined, address: undefined },
  { when: 'the input is a number', input: 42, address: undefined },
  { when: 'the input is an object', input: { email: 'jane@example.com' }, address: undefined },
];

describe('normaliseEmail', () => {
  it('has a table of at least 12 rows', () => {
    expect(emailRows.length).to.be.at.least(12);
  });

  for (const row of emailRows) {
    const outcome = row.address === undefined ? 'gives no identity' : 'gives the lower-cased address';
    it(`when ${row.when}, ${outcome}`, () => {
      const identity = normaliseEmail(row.input);
      if (row.address === undefined) {
        expect(identity).to.equal(undefined);
        return;
      }
      expect(identity).to.deep.equal({
        type: 'EMAIL',
        address: row.address,
        searchValues: row.searchValues ?? [row.address],
      });
    });
  }
});

describe('isCountryCode', () => {
  for (const value of ['US', 'GB', 'DE', 'AC', 'XK']) {
    it(`when given '${value}', accepts it as a supported region`, () => {
      expect(isCountryCode(value)).to.equal(true);
    });
  }
  for (const value of ['us', 'Gb', 'USA', 'XX', 'ZZ', '', 'U', '001', '44']) {
    it(`when given '${value}', rejects it`, () => {
      expect(isCountryCode(value)).to.equal(false);
    });
  }
});
