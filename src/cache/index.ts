import type { Answer } from '../domain/answer.js';
import type { CallerKeys } from '../domain/keys.js';
import type { VerificationAttempts } from './attempts.js';
import type { ContactLegs } from './contact-legs.js';
import type { CallBudget } from './quota.js';
import type { HitPlan, HitWrites } from './contact-hit.js';
import type { CreateOnce } from './create-once.js';
import type { DuplicateSets } from './duplicates.js';
import type { IdempotencyStore } from './idempotency.js';
import type { StateKeys } from './keys.js';
import type { PendingUpdates } from './pending-updates.js';
import type { CachedLookup, ProfileCache } from './profile-cache.js';
import type { RecentContacts } from './recent-contacts.js';

/**
 * What the use cases share across the fleet (or keep in-process): cache, idempotency, recent contacts,
 * creation locks, the enrichment allowance. Built by a state backend (backends/).
 */
export interface SharedState {
  keys: StateKeys;
  cache: ProfileCache;
  /** per profile, the updates queued and not yet written: a fresh lookup of the profile shows them */
  pendingUpdates: PendingUpdates;
  idempotency: IdempotencyStore;
  recentContacts: RecentContacts;
  /** each contact's resolution, for the contact's later legs (transfers, callbacks) */
  legs: ContactLegs;
  /** failed ID&V checks per caller and per claimed key, and their lockouts */
  attempts: VerificationAttempts;
  createOnce: CreateOnce;
  /** the fleet's share of the account quota, as enrichment takes it (cache/quota.ts) */
  budget: CallBudget;
  /** the duplicate sets MULTIPLE answers saw (cache/duplicates.ts) */
  duplicates: DuplicateSets;
  /**
   * What a contact needs first: the answer kept for its ContactId and lookup (a Connect retry) and the
   * caller's cached lookup. `keys`: the contact's (the ones the tag and variant name), for a kept answer stored by reference.
   * `plan`: on a single Redis, a fresh cache hit's writes are made with the reads (ContactReads.written).
   */
  readContact: (tag: string, variant: string, contactId: string, keys: Pick<CallerKeys, 'identity' | 'extra'>, plan?: HitPlan) => Promise<ContactReads>;
}

export interface ContactReads {
  earlier: Answer | undefined;
  cached: CachedLookup | undefined;
  /** with Redis: the cached lookup's value as read (sealed), to keep the answer by reference (IdempotencyStore.put) */
  sealedLookup?: string | undefined;
  /** the writes a fresh cache hit needs were made with the reads (a single Redis, given a plan) */
  written?: HitWrites | undefined;
}
