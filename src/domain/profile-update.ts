// What a flow may write back to a profile (UpdateProfile's fields), validated and normalised before
// anything is queued. Pure functions: no I/O.
import type { CountryCode } from 'libphonenumber-js/max';
import { normaliseEmail, normalisePhone } from './identity.js';
import {
  ADDRESS_FIELDS,
  ADDRESS_PARTS,
  EMAIL_FIELDS,
  PHONE_FIELDS,
  SCALAR_PROFILE_FIELDS,
  type AddressField,
  type Profile,
  type ProfileAddress,
  type ScalarProfileField,
} from './profile.js';

/** The scalar fields of UpdateProfile a flow may set: the deprecated enum fields PartyType and Gender, and ProfileType, are left out. */
type NotUpdatable = 'PartyType' | 'Gender' | 'ProfileType';
export type UpdatableField = Exclude<ScalarProfileField, NotUpdatable>;
export const UPDATABLE_FIELDS = SCALAR_PROFILE_FIELDS.filter((f): f is UpdatableField => !['PartyType', 'Gender', 'ProfileType'].includes(f));

// UpdateProfile's model: every string 1-255 characters, AdditionalInformation 1-1000; "" clears the field.
const MAX_VALUE = 255;
const MAX_ADDITIONAL_INFORMATION = 1000;
const MAX_ATTRIBUTES = 50;
/** the parameter prefix in the flow: profile.FirstName, profile.Address.City, profile.Attributes.<name> */
export const UPDATE_PREFIX = 'profile.';
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.:-]{1,255}$/;

/** UpdateProfile's body, without the domain and profile id. "" removes a field (or an attribute, or an address part). */
export type ProfileUpdate = Partial<Record<UpdatableField, string>> &
  Partial<Record<AddressField, ProfileAddress>> & { Attributes?: Record<string, string> };

export class InvalidUpdate extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The update in a flow's parameters (`profile.<Field>`, `profile.<Address>.<Part>`,
 * `profile.Attributes.<name>`), trimmed; phone numbers to E.164 (`region` for national ones) and
 * e-mail addresses lower-cased, as for lookups. Throws InvalidUpdate naming the first bad parameter.
 * Undefined when the parameters hold no field.
 */
export function parseProfileUpdate(parameters: Readonly<Record<string, unknown>>, region: CountryCode): ProfileUpdate | undefined {
  const update: ProfileUpdate = {};
  let fields = 0;
  for (const [name, raw] of Object.entries(parameters)) {
    if (!name.startsWith(UPDATE_PREFIX)) continue;
    if (typeof raw !== 'string') throw new InvalidUpdate(name, 'must be a string');
    const value = raw.trim();
    const path = name.slice(UPDATE_PREFIX.length).split('.');
    const [field = '', part, ...rest] = path;
    if ((UPDATABLE_FIELDS as readonly string[]).includes(field) && part === undefined) {
      update[field as UpdatableField] = normaliseField(name, field, value, region);
    } else if ((ADDRESS_FIELDS as readonly string[]).includes(field) && part !== undefined && rest.length === 0 && (ADDRESS_PARTS as readonly string[]).includes(part)) {
      const address = (update[field as AddressField] ??= {});
      address[part as keyof ProfileAddress] = bounded(name, value, MAX_VALUE);
    } else if (field === 'Attributes' && part !== undefined) {
      const attribute = [part, ...rest].join('.');
      if (!ATTRIBUTE_NAME.test(attribute) || attribute === '__proto__') {
        throw new InvalidUpdate(name, "an attribute name is 1-255 letters, digits, '_', '.', ':' or '-'");
      }
      (update.Attributes ??= {})[attribute] = bounded(name, value, MAX_VALUE);
      if (Object.keys(update.Attributes).length > MAX_ATTRIBUTES) throw new InvalidUpdate(name, `at most ${MAX_ATTRIBUTES} attributes in one update`);
    } else {
      throw new InvalidUpdate(
        name,
        `is not a field a flow can update (profile.<${UPDATABLE_FIELDS.join('|')}>, profile.<${ADDRESS_FIELDS.join('|')}>.<${ADDRESS_PARTS.join('|')}> or profile.Attributes.<name>)`,
      );
    }
    fields++;
  }
  return fields === 0 ? undefined : update;
}

function bounded(name: string, value: string, max: number): string {
  if (value.length > max) throw new InvalidUpdate(name, `must be at most ${max} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new InvalidUpdate(name, 'must not hold control characters');
  return value;
}

function normaliseField(name: string, field: string, value: string, region: CountryCode): string {
  if (value === '') return '';
  if ((PHONE_FIELDS as readonly string[]).includes(field)) {
    const phone = normalisePhone(value, region);
    if (!phone) throw new InvalidUpdate(name, 'must be a valid phone number (E.164, or national in the countryCode region)');
    return phone.e164;
  }
  if ((EMAIL_FIELDS as readonly string[]).includes(field)) {
    const email = normaliseEmail(value);
    if (!email) throw new InvalidUpdate(name, 'must be a valid e-mail address');
    return email.address;
  }
  if (field === 'BirthDate' && !isCalendarDate(value)) throw new InvalidUpdate(name, 'must be a calendar date as YYYY-MM-DD');
  return bounded(name, value, field === 'AdditionalInformation' ? MAX_ADDITIONAL_INFORMATION : MAX_VALUE);
}

/** YYYY-MM-DD naming a day that exists (2000-02-29 does, 1981-02-29 and 1980-13-45 do not). */
export function isCalendarDate(value: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // an impossible day rolls over into the next month: a real date comes back unchanged (setUTCFullYear,
  // unlike Date.UTC, takes years 0-99 as they are)
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** The part of an update that sets these fields (names as updatedFieldNames gives them). */
export function pickFields(update: ProfileUpdate, names: readonly string[]): ProfileUpdate {
  const keep = new Set(names);
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(update)) {
    if (typeof value === 'string') {
      if (keep.has(field)) out[field] = value;
      continue;
    }
    const parts = Object.entries(value as Record<string, string>).filter(([part]) => keep.has(`${field}.${part}`));
    if (parts.length > 0) out[field] = Object.fromEntries(parts);
  }
  return out;
}

/** The names of the fields an update sets or clears, for logs (never the values). */
export function updatedFieldNames(update: ProfileUpdate): string[] {
  const names: string[] = [];
  for (const [field, value] of Object.entries(update)) {
    if (typeof value === 'string') names.push(field);
    else for (const part of Object.keys(value)) names.push(`${field}.${part}`);
  }
  return names.sort();
}

/** The profile with the update applied, as Customer Profiles applies it ("" removes). */
export function applyUpdate(profile: Profile, update: ProfileUpdate): Profile {
  const out: Record<string, unknown> = structuredClone(profile);
  for (const [field, value] of Object.entries(update)) {
    if (typeof value === 'string') {
      if (value === '') delete out[field];
      else out[field] = value;
      continue;
    }
    const merged: Record<string, string> = { ...((out[field] as Record<string, string> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(value as Record<string, string>)) {
      if (v === '') delete merged[k];
      else merged[k] = v;
    }
    out[field] = merged;
  }
  return out as Profile;
}
