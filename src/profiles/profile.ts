import type { EnrichmentCall, EnrichmentResult } from '../domain/mapping.js';
import type { HistoryRecord } from '../domain/history.js';
import type { Identity } from '../domain/identity.js';
import type { MatchMode, SearchKey } from '../domain/keys.js';
import type { Profile } from '../domain/profile.js';

/** Why a call did not succeed; the use case turns it into an answer, never an HTTP error. */
export type StoreFailure = 'timeout' | 'throttled' | 'quota' | 'unavailable' | 'denied' | 'misconfigured';

export class ProfileStoreError extends Error {
  constructor(
    readonly failure: StoreFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'ProfileStoreError';
  }
}

/** An enrichment read that needed another page and was not allowed one (the fleet's allowance was spent). */
export class AllowanceSpent extends Error {
  constructor(operation: string) {
    super(`${operation}: no allowance for another page`);
    this.name = 'AllowanceSpent';
  }
}

/**
 * A profile's history holds more records of a kind than one read pages through. The API documents no order for them, so
 * the records read cannot say that nothing changed lately: the caller answers as for a failure.
 */
export class HistoryTooLong extends Error {
  constructor(actionType: string, limit: number) {
    super(`ListProfileHistoryRecords: more than ${limit} ${actionType} records`);
    this.name = 'HistoryTooLong';
  }
}

export interface CreateContext {
  contactId: string;
}

/** A profile a search found, and the names of the keys that found it (SearchProfiles' `FoundByItems`). */
export interface Match {
  profile: Profile;
  foundBy: string[];
}

export interface SearchOptions {
  /** a creation follows when the search finds nothing: the search leaves it its time before the deadline */
  thenCreate?: boolean;
}

/** Where customer profiles live: Customer Profiles in production, an in-process map for local runs. */
export interface ProfileStore {
  readonly kind: 'customer-profiles' | 'embedded';
  /**
   * Every profile the keys find (one upstream call): with `any`, a profile matched by one key or more;
   * with `all`, only profiles matched by every key. A key matches when one of its values equals the
   * stored string exactly.
   */
  search(keys: readonly SearchKey[], mode: MatchMode, signal: AbortSignal, options?: SearchOptions): Promise<Match[]>;
  /** Creates a profile holding the normalised identity; returns it. */
  create(identity: Identity, context: CreateContext, signal: AbortSignal): Promise<Profile>;
  /**
   * One enrichment read of a profile: calculated attribute values by name, the latest object of a type
   * (undefined: none), or whether the profile is in a segment. A read of several pages asks
   * `anotherPage` before each page after the first (each page is one more call) and throws
   * AllowanceSpent when it answers false.
   */
  enrich(call: EnrichmentCall, profileId: string, signal: AbortSignal, anotherPage?: () => Promise<boolean>): Promise<EnrichmentResult>;
  /**
   * The profile's own changes since `sinceMs` (epoch ms), newest first: its CREATED, UPDATED (with the fields each
   * changed, where known) and MERGED records. Made as enrichment reads; `allow` is asked before each call (each is one
   * more call): a listing page it refuses throws AllowanceSpent, a record's content it refuses is not read (that
   * update's fields are not known). Throws HistoryTooLong when a listing is longer than a read pages through.
   */
  history(profileId: string, sinceMs: number, signal: AbortSignal, allow?: (operation: string) => Promise<boolean>): Promise<HistoryRecord[]>;
}

/**
 * Several profiles matched: pick one the same way every time, on every replica.
 * 1. the profile found by the most keys;
 * 2. a profile whose primary field (`PhoneNumber` / `EmailAddress`) holds exactly the normalised value;
 * 3. else one whose primary field holds any spelling of it (a legacy spelling);
 * 4. else one that matched through another field (mobile, home, business...) or another key;
 * ties broken by the smallest `ProfileId` (ids are immutable, so the choice never flips).
 */
export function chooseProfile(matches: readonly Match[], identity: Identity | undefined): Match | undefined {
  const rank = (p: Profile): number => {
    if (!identity) return 2;
    const primary = identity.type === 'PHONE' ? 'PhoneNumber' : 'EmailAddress';
    const exact = identity.type === 'PHONE' ? identity.e164 : identity.address;
    const value = identity.type === 'EMAIL' ? p[primary]?.trim().toLowerCase() : p[primary]?.trim();
    if (value === exact) return 0;
    if (value !== undefined && identity.searchValues.includes(value)) return 1;
    return 2;
  };
  let best: Match | undefined;
  let bestKeys = -1;
  let bestRank = Infinity;
  for (const m of matches) {
    const keys = m.foundBy.length;
    const r = rank(m.profile);
    const better =
      keys > bestKeys ||
      (keys === bestKeys && (r < bestRank || (r === bestRank && best !== undefined && m.profile.ProfileId < best.profile.ProfileId)));
    if (better) {
      best = m;
      bestKeys = keys;
      bestRank = r;
    }
  }
  return best;
}
