// Duplicate profiles as the service sees them live: a caller's key that finds several profiles (MULTIPLE),
// and what an operator needs to merge them with Customer Profiles' MergeProfiles.
import { createHash } from 'node:crypto';
import { ADDRESS_FIELDS, ADDRESS_PARTS, type Profile, type ProfileAddress } from './profile.js';

/**
 * The most profiles one set may hold: MergeProfiles merges at most 20 profiles into the main one
 * (ProfileIdToBeMergedList, length 1-20, customer-profiles 2020-08-15). A key shared by more profiles than
 * one merge can take (a company's switchboard number) is not recorded.
 */
export const MAX_SET_PROFILES = 21;

/** One MULTIPLE answer's matches: the profile ids and the key they all share, its value as a keyed hash only. */
export interface DuplicateSighting {
  /** the matching profile ids, sorted */
  ids: string[];
  /** the search key's name (`_phone`, `_email`, `_account`, a custom key) */
  key: string;
  /** StateKeys.digest of the key's value: never the value */
  keyHash: string;
}

/** A set's id: the same profiles found by the same key value have the same id on every replica. 16 hex digits. */
export function duplicateSetId(s: DuplicateSighting): string {
  return createHash('sha256').update(`${s.key}\u0000${s.keyHash}\u0000${s.ids.join(',')}`).digest('hex').slice(0, 16);
}

/**
 * The first key, in the search's order, that found every one of the matches; undefined when they share none
 * (each was found by another key of an `any` search: not duplicates of one another by any key).
 */
export function sharedKey(matches: ReadonlyArray<{ foundBy: readonly string[] }>, order: readonly string[]): string | undefined {
  return order.find((name) => matches.every((m) => m.foundBy.includes(name)));
}

/**
 * The sighting of several matches, when they make a set that can be merged: 2 to MAX_SET_PROFILES profiles
 * sharing a key. `digest`: the keyed hash of that key's value.
 */
export function sightingOf(
  matches: ReadonlyArray<{ profile: { ProfileId: string }; foundBy: readonly string[] }>,
  order: readonly string[],
  digest: (key: string) => string,
): DuplicateSighting | undefined {
  if (matches.length < 2 || matches.length > MAX_SET_PROFILES) return undefined;
  const key = sharedKey(matches, order);
  if (key === undefined) return undefined;
  return { ids: matches.map((m) => m.profile.ProfileId).sort(), key, keyHash: digest(key) };
}

/**
 * The fields MergeProfiles takes a source profile for (FieldSourceProfileIds, customer-profiles 2020-08-15):
 * each whole (an address is one field), `Attributes` one attribute at a time (`Attributes.<name>`).
 */
export const MERGE_FIELDS = [
  'AccountNumber',
  'AdditionalInformation',
  'PartyType',
  'BusinessName',
  'FirstName',
  'MiddleName',
  'LastName',
  'BirthDate',
  'Gender',
  'PhoneNumber',
  'MobilePhoneNumber',
  'HomePhoneNumber',
  'BusinessPhoneNumber',
  'EmailAddress',
  'PersonalEmailAddress',
  'BusinessEmailAddress',
  'Address',
  'ShippingAddress',
  'MailingAddress',
  'BillingAddress',
  'ProfileType',
  'EngagementPreferences',
] as const;

/** What a merge takes from which profile: field (`FirstName`, `Attributes.tier`) -> profile id. */
export type FieldSources = Record<string, string>;

/** A field a merge may take from another profile: one of MERGE_FIELDS or `Attributes.<name>` (1-255 characters). */
export function isMergeField(field: string): boolean {
  if (field.startsWith('Attributes.')) return field.length > 'Attributes.'.length && field.length - 'Attributes.'.length <= 255;
  return (MERGE_FIELDS as readonly string[]).includes(field);
}

/** MergeProfiles' FieldSourceProfileIds for the sources chosen: `Attributes.<name>` go into its Attributes map. */
export function fieldSourceProfileIds(sources: FieldSources): Record<string, string | Record<string, string>> {
  const out: Record<string, string | Record<string, string>> = {};
  const attributes: Record<string, string> = {};
  for (const [field, id] of Object.entries(sources)) {
    if (field.startsWith('Attributes.')) attributes[field.slice('Attributes.'.length)] = id;
    else out[field] = id;
  }
  if (Object.keys(attributes).length > 0) out.Attributes = attributes;
  return out;
}

/** One field whose values differ between the profiles of a set: its value in each (undefined: not set). */
export interface FieldDifference {
  /** as a merge names it: `FirstName`, `Address`, `Attributes.tier` */
  field: string;
  values: Record<string, string | undefined>;
}

const addressText = (a: ProfileAddress | undefined): string | undefined => {
  const parts = ADDRESS_PARTS.map((p) => a?.[p]).filter((v): v is string => typeof v === 'string' && v !== '');
  return parts.length === 0 ? undefined : parts.join(', ');
};

/** A profile's fields as a merge names them, each as text. */
function fieldsOf(p: Profile & Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const field of MERGE_FIELDS) {
    const raw = p[field];
    // an address as its parts; any other structure (EngagementPreferences) as its JSON
    const value = (ADDRESS_FIELDS as readonly string[]).includes(field)
      ? addressText(raw as ProfileAddress | undefined)
      : typeof raw === 'object' && raw !== null
        ? JSON.stringify(raw)
        : raw;
    if (typeof value === 'string' && value !== '') out.set(field, value);
  }
  // the free-text forms Customer Profiles answers beside the enums: shown under the field a merge takes
  for (const [field, text] of [['PartyType', 'PartyTypeString'], ['Gender', 'GenderString']] as const) {
    if (!out.has(field) && typeof p[text] === 'string' && p[text] !== '') out.set(field, p[text]);
  }
  for (const [name, value] of Object.entries(p.Attributes ?? {})) if (typeof value === 'string' && value !== '') out.set(`Attributes.${name}`, value);
  return out;
}

/** The fields whose values are not the same in every profile (a field set in one and not in another differs), by name. */
export function profileDifferences(profiles: ReadonlyArray<Profile & Record<string, unknown>>): FieldDifference[] {
  const fields = profiles.map((p) => ({ id: p.ProfileId, fields: fieldsOf(p) }));
  const names = [...new Set(fields.flatMap((f) => [...f.fields.keys()]))].sort();
  return names.flatMap((field) => {
    const values = Object.fromEntries(fields.map((f) => [f.id, f.fields.get(field)]));
    return new Set(Object.values(values)).size > 1 ? [{ field, values }] : [];
  });
}
