import type { Identity } from '../domain/identity.js';
import type { Profile } from '../domain/profile.js';

/** Why a lookup or creation did not succeed; the use case turns it into an answer, never an HTTP error. */
export type StoreFailure = 'timeout' | 'throttled' | 'unavailable' | 'denied' | 'misconfigured';

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

export interface CreateContext {
  contactId: string;
}

/** Where customer profiles live: Customer Profiles in production, an in-process map for local runs. */
export interface ProfileStore {
  readonly kind: 'customer-profiles' | 'embedded';
  /** Every profile whose search key matches one of the identity's spellings (one upstream call). */
  search(identity: Identity, signal: AbortSignal): Promise<Profile[]>;
  /** Creates a profile holding the normalised identity; returns it. */
  create(identity: Identity, context: CreateContext, signal: AbortSignal): Promise<Profile>;
}

/**
 * Several profiles matched: pick one the same way every time, on every replica.
 * 1. a profile whose primary field (`PhoneNumber` / `EmailAddress`) holds exactly the normalised value;
 * 2. else one whose primary field holds any spelling of it (a legacy spelling);
 * 3. else one that matched through another field (mobile, home, business...);
 * ties broken by the smallest `ProfileId` (ids are immutable, so the choice never flips).
 */
export function chooseProfile(profiles: readonly Profile[], identity: Identity): Profile | undefined {
  const primary = identity.type === 'PHONE' ? 'PhoneNumber' : 'EmailAddress';
  const exact = identity.type === 'PHONE' ? identity.e164 : identity.address;
  const rank = (p: Profile): number => {
    const value = identity.type === 'EMAIL' ? p[primary]?.trim().toLowerCase() : p[primary]?.trim();
    if (value === exact) return 0;
    if (value !== undefined && identity.searchValues.includes(value)) return 1;
    return 2;
  };
  let best: Profile | undefined;
  let bestRank = Infinity;
  for (const p of profiles) {
    const r = rank(p);
    if (r < bestRank || (r === bestRank && best !== undefined && p.ProfileId < best.ProfileId)) {
      best = p;
      bestRank = r;
    }
  }
  return best;
}
