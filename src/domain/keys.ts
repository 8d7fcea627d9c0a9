// What a contact is looked up by: its phone number or e-mail address and the keys the flow collected
// (account number, profile id, a custom search key of the domain), joined by any or all.
import type { Verification } from './answer.js';
import type { Identity } from './identity.js';

export const MATCH_MODES = ['any', 'all'] as const;
export type MatchMode = (typeof MATCH_MODES)[number];

/** One Customer Profiles search key and the values that find it (exact strings). */
export interface SearchKey {
  name: string;
  values: readonly string[];
}

/** The standard keys the service fills itself; a flow's `searchKey` may not name them. */
export const STANDARD_KEYS = { phone: '_phone', email: '_email', account: '_account', profileId: '_profileId' } as const;

export interface CallerKeys {
  /** the phone number or e-mail address, when the contact has a usable one */
  identity: Identity | undefined;
  /** the other keys the flow gave, in this order: `_account`, `_profileId`, the custom key */
  extra: readonly SearchKey[];
  mode: MatchMode;
}

/** A search key and one value, as the agent workspace searches with it (`profileSearchKey`/`profileSearchValue`). */
export interface SearchPair {
  key: string;
  value: string;
}

/**
 * The contact's first key with the one value a search that lists its matches should use: the phone
 * number in E.164 and the e-mail address lower-cased (the spellings this service creates profiles
 * with: one search finds one spelling, as Customer Profiles matches exact strings), else the first
 * key the flow gave, as given. Only a contact with one key can answer MULTIPLE unverified, so this is
 * the key its matches were found by (see screenPop).
 */
export function searchedByOf(keys: Pick<CallerKeys, 'identity' | 'extra'>): SearchPair | undefined {
  const { identity } = keys;
  if (identity) return { key: identityKey(identity), value: identity.type === 'PHONE' ? identity.e164 : identity.address };
  const first = keys.extra[0];
  return first && first.values[0] !== undefined ? { key: first.name, value: first.values[0] } : undefined;
}

/** The search key of a phone number or e-mail address. */
export function identityKey(identity: Identity): string {
  return identity.type === 'PHONE' ? STANDARD_KEYS.phone : STANDARD_KEYS.email;
}

/**
 * Whether a contact is written to its lookup's profile, and counted as one of its contacts. Not when only
 * what the caller typed found the profile, against the phone or e-mail the contact came from (MISMATCH,
 * and `identityKeyName` not among the keys that found it): a typo or a stranger's account number leaves
 * no trace on someone else's profile.
 */
export function attaches(lookup: { verification?: Verification | undefined; matchedBy?: readonly string[] | undefined }, identityKeyName: string | undefined): boolean {
  return !(lookup.verification === 'MISMATCH' && !(identityKeyName !== undefined && (lookup.matchedBy ?? []).includes(identityKeyName)));
}

/**
 * Whether an answer may hold the profile's personal values (names, account number, the mapping's personal
 * keys): the contact's own phone number or e-mail address found the profile (or it was created for it),
 * or every key the contact gave matched it (VERIFIED). A profile that only keys the caller claimed found
 * (an account number a withheld caller typed, a profile id, a custom key) answers its routing values
 * and the statuses until a second key verifies: anyone can type an account number. `_phone` and `_email`
 * among the keys that found it are the contact's own: a flow cannot name them as a custom key.
 */
export function disclosesPersonal(o: { status: string; verification: Verification; matchedBy: readonly string[] }): boolean {
  if (o.verification === 'VERIFIED' || o.status === 'NEW') return true;
  return o.verification !== 'MISMATCH' && o.matchedBy.some((k) => k === STANDARD_KEYS.phone || k === STANDARD_KEYS.email);
}

/** Every key of one search, the identity's first. At most 4 (SearchProfiles takes 1 + 4 AdditionalSearchKeys). */
export function searchKeysOf(keys: CallerKeys): SearchKey[] {
  const { identity } = keys;
  return [...(identity ? [{ name: identityKey(identity), values: identity.searchValues }] : []), ...keys.extra];
}

/** Two keys or more: the answer says whether the profile matched all of them (ID&V). */
export function isVerifying(keys: CallerKeys): boolean {
  return searchKeysOf(keys).length >= 2;
}

/**
 * A profile is created only for a phone number or e-mail address given alone: a new profile could not
 * prove an account number, a profile id or a custom key, and holding them unproven would let the next
 * caller "verify" against what a stranger typed.
 */
export function mayCreateFrom(keys: CallerKeys): boolean {
  return keys.identity !== undefined && keys.extra.length === 0;
}

/** The keys as one canonical string (order fixed above): what the cache entry of a lookup is keyed by. */
export function canonicalKeys(keys: readonly SearchKey[], mode: MatchMode): string {
  return JSON.stringify([mode, keys.map((k) => [k.name, ...k.values])]);
}
