import { LRUCache } from 'lru-cache';
import type { CustomerStatus, Risk, Verification } from '../domain/answer.js';
import type { RedisClient, RedisHealth } from '../redis/client.js';
import type { StateKeys } from './keys.js';

/**
 * What a contact's resolution leaves for the contact's later legs (a transfer, a queue transfer, a
 * callback: Connect gives each a new ContactId and names the earlier ones in `InitialContactId` and
 * `PreviousContactId`). Nothing personal: the profile id, keyed hashes of the keys it was looked up by,
 * the outcome's clear parts and when. Kept CONTACT_LEG_WINDOW_SECONDS, never longer: a verification
 * carried to a later leg never outlives the window.
 */
export interface ContactLeg {
  /** the contact that resolved: where a carried verification came from */
  contactId: string;
  /** epoch ms */
  at: number;
  profileId: string;
  status: Extract<CustomerStatus, 'KNOWN' | 'NEW' | 'MULTIPLE'>;
  matchCount: number;
  verification: Verification;
  matchedBy: string[];
  /** the keyed hash of the contact's phone number or e-mail address; '' when it had none */
  identityTag: string;
  /** the lookup's tag and variant (StateKeys.lookupKey): where its cached lookup lives */
  tag: string;
  variant: string;
  /** a VERIFIED leg's step-up signals (not personal: flags and a count), carried with its verification */
  risk?: Risk | undefined;
}

export interface ContactLegs {
  /** Keeps the contact's resolution for its later legs. Not awaited by the caller; failures only mean a later leg looks up afresh. */
  remember(leg: ContactLeg): Promise<void>;
  /** The resolutions kept for these contacts, in the same order (undefined: none, expired, or unreadable). */
  find(contactIds: readonly string[]): Promise<Array<ContactLeg | undefined>>;
}

/** CONTACT_LEG_WINDOW_SECONDS=0: nothing is kept, every leg is looked up on its own. */
export const NO_CONTACT_LEGS: ContactLegs = {
  remember: () => Promise.resolve(),
  find: (ids) => Promise.resolve(ids.map(() => undefined)),
};

export class MemoryContactLegs implements ContactLegs {
  private readonly legs: LRUCache<string, ContactLeg>;

  constructor(windowMs: number, max = 50_000) {
    this.legs = new LRUCache({ max, ttl: windowMs });
  }
  remember(leg: ContactLeg): Promise<void> {
    this.legs.set(leg.contactId, leg);
    return Promise.resolve();
  }
  find(contactIds: readonly string[]): Promise<Array<ContactLeg | undefined>> {
    return Promise.resolve(contactIds.map((id) => this.legs.get(id)));
  }
  /** erasure: the legs that named these profiles */
  forget(profileIds: readonly string[]): number {
    let removed = 0;
    for (const [id, leg] of this.legs.entries()) {
      if (profileIds.includes(leg.profileId) && this.legs.delete(id)) removed++;
    }
    return removed;
  }
}

/**
 * In Redis, one key per ContactId (its own hash tag: a later leg may have no key of the caller to find
 * the caller's slot by), as clear JSON: nothing in it is personal, as in a kept answer stored by reference
 * (a cache hit's script writes it from the cached lookup's clear head, contact-hit.ts). The earlier legs'
 * keys are read side by side (on a cluster, in different slots).
 */
export class RedisContactLegs implements ContactLegs {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly windowMs: number,
  ) {}

  remember(leg: ContactLeg): Promise<void> {
    return this.health.safely(
      'legs.remember',
      async () => {
        await this.redis.set(this.keys.contactLeg(leg.contactId), JSON.stringify(leg), 'PX', this.windowMs);
      },
      undefined,
    );
  }

  find(contactIds: readonly string[]): Promise<Array<ContactLeg | undefined>> {
    const none = contactIds.map(() => undefined);
    return this.health.safely(
      'legs.find',
      () =>
        Promise.all(
          contactIds.map(async (id) => {
            const raw = await this.redis.get(this.keys.contactLeg(id));
            return raw ? legOf(raw, id) : undefined;
          }),
        ),
      none,
    );
  }
}

const STATUSES: ReadonlySet<string> = new Set(['KNOWN', 'NEW', 'MULTIPLE']);
const VERIFICATIONS: ReadonlySet<string> = new Set(['VERIFIED', 'MISMATCH', 'NOT_CHECKED']);

/** A leg as stored; undefined unless it is whole and the contact's own (a value moved from another contact's key is not). */
function legOf(raw: string, contactId: string): ContactLeg | undefined {
  let v: Partial<Record<keyof ContactLeg, unknown>>;
  try {
    v = JSON.parse(raw) as typeof v;
  } catch {
    return undefined;
  }
  const strings = [v.profileId, v.identityTag, v.tag, v.variant].every((x) => typeof x === 'string');
  const ok =
    strings &&
    v.contactId === contactId &&
    v.profileId !== '' &&
    typeof v.at === 'number' &&
    typeof v.matchCount === 'number' &&
    STATUSES.has(v.status as string) &&
    VERIFICATIONS.has(v.verification as string) &&
    Array.isArray(v.matchedBy) &&
    v.matchedBy.every((m) => typeof m === 'string') &&
    (v.risk === undefined || isRisk(v.risk));
  return ok ? (v as ContactLeg) : undefined;
}

const RISK_VALUES: ReadonlySet<unknown> = new Set(['true', 'false', 'UNKNOWN']);
function isRisk(v: unknown): v is Risk {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<Risk>;
  const signals = r.signals as Record<string, unknown> | undefined;
  return (
    typeof r.recentFailedChecks === 'string' &&
    typeof signals === 'object' &&
    signals !== null &&
    ['phoneChangedRecently', 'emailChangedRecently', 'addressChangedRecently', 'mergedRecently'].every((k) => RISK_VALUES.has(signals[k]))
  );
}
