// Normalises caller identities (phone numbers, e-mail addresses) into a canonical value plus the
// spellings older integrations may have stored in Customer Profiles, whose searches are exact-match.
// Pure functions: no I/O, no logging.
import { isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { LRUCache } from 'lru-cache';
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';

export interface PhoneIdentity {
  type: 'PHONE';
  e164: string;
  country: string;
  searchValues: string[];
}

export interface EmailIdentity {
  type: 'EMAIL';
  address: string;
  searchValues: string[];
}

export type Identity = PhoneIdentity | EmailIdentity;

// Caller-ID placeholders carriers and PBXs send when the number is withheld. Compared lower-cased.
// '266696687' spells ANONYMOUS on a keypad; 'p' is Asterisk's "private".
const WITHHELD = new Set([
  'anonymous',
  'private',
  'restricted',
  'unknown',
  'unavailable',
  'withheld',
  'blocked',
  'no caller id',
  'caller id withheld',
  'not available',
  'p',
  '+266696687',
  '266696687',
]);

// Longer input is garbage (or hostile); never hand it to the parser.
const MAX_PHONE_INPUT = 64;
const MAX_SEARCH_VALUES = 6;

/** True for upper-case ISO 3166-1 alpha-2 regions that libphonenumber has metadata for. */
export function isCountryCode(value: string): value is CountryCode {
  return /^[A-Z]{2}$/.test(value) && isSupportedCountry(value);
}

function validOrUndefined(number: PhoneNumber | undefined): PhoneNumber | undefined {
  return number?.isValid() ? number : undefined;
}

/**
 * Parses a caller number into E.164 plus its common stored spellings. Extensions are dropped.
 * Vanity letters (1-800-FLOWERS) are not translated by libphonenumber-js, so they give undefined.
 */
// Parsing with the full metadata is the costliest step of a cache hit, and callers repeat: the
// result for a (region, input) pair is kept. Results are frozen, as they are shared.
const parsed = new LRUCache<string, PhoneIdentity | 'none'>({ max: 20_000 });

export function normalisePhone(raw: unknown, defaultCountry: CountryCode): PhoneIdentity | undefined {
  if (typeof raw !== 'string') return undefined;
  const trimmed = raw.trim();
  if (trimmed === '' || trimmed.length > MAX_PHONE_INPUT || WITHHELD.has(trimmed.toLowerCase())) return undefined;
  const key = `${defaultCountry}|${trimmed}`;
  const known = parsed.get(key);
  if (known !== undefined) return known === 'none' ? undefined : known;
  const identity = parsePhone(trimmed, defaultCountry);
  const entry = identity ? Object.freeze({ ...identity, searchValues: Object.freeze(identity.searchValues) as string[] }) : 'none';
  parsed.set(key, entry);
  return entry === 'none' ? undefined : entry;
}

function parsePhone(trimmed: string, defaultCountry: CountryCode): PhoneIdentity | undefined {
  let number = validOrUndefined(parsePhoneNumberFromString(trimmed, { defaultCountry }));
  if (!number && !trimmed.startsWith('+')) {
    // Integrations often store international numbers without the '+' (442079460958) or with the
    // European '00' dialling prefix; these do not parse against a default region such as US.
    const digits = trimmed.replace(/\D/g, '').replace(/^00/, '');
    if (digits.length >= 11 && digits.length <= 15) {
      number = validOrUndefined(parsePhoneNumberFromString(`+${digits}`));
    }
  }
  if (!number) return undefined;

  // Re-parse the E.164 form so the formatted spellings below carry no extension.
  const bare = parsePhoneNumberFromString(number.number) ?? number;
  const national = bare.formatNational();
  const candidates = [
    bare.number, // +442079460958
    bare.number.slice(1), // 442079460958
    bare.nationalNumber, // 2079460958
    national.replace(/\D/g, ''), // 02079460958 (with trunk prefix)
    national, // 020 7946 0958
    bare.formatInternational(), // +44 20 7946 0958
  ];
  const searchValues = [...new Set(candidates)]
    .filter((v) => v.length >= 1 && v.length <= 255)
    .slice(0, MAX_SEARCH_VALUES);

  return { type: 'PHONE', e164: bare.number, country: bare.country ?? '', searchValues };
}

// Practical, not full RFC 5322: dot-atom local part (RFC 5322 atext), LDH domain labels, alphabetic
// TLD. Quoted local parts, IP-literal domains and unicode (IDN) domains are rejected; punycode
// (xn--) domains are accepted because they are plain LDH labels.
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const MAX_EMAIL = 254;
const MAX_LOCAL_PART = 64;

/** Validates and lower-cases an e-mail address; keeps the original casing as a second search value. */
export function normaliseEmail(raw: unknown): EmailIdentity | undefined {
  if (typeof raw !== 'string') return undefined;
  const trimmed = raw.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_EMAIL) return undefined;

  const address = trimmed.toLowerCase();
  const parts = address.split('@');
  if (parts.length !== 2) return undefined;
  const [local = '', domain = ''] = parts;
  if (local.length > MAX_LOCAL_PART || !LOCAL_PART.test(local) || !DOMAIN.test(domain)) return undefined;

  // Customer Profiles' _email search is exact-match: also look up the spelling as received.
  const searchValues = trimmed === address ? [address] : [address, trimmed];
  return { type: 'EMAIL', address, searchValues };
}
