import { LRUCache } from 'lru-cache';
import { buildAnswer, clearOutcome, outcomeFrom, type Answer, type ClearOutcome, type Outcome } from '../domain/answer.js';
import type { CallerKeys } from '../domain/keys.js';
import type { AttributeMapping } from '../domain/mapping.js';
import type { StateKeys } from './keys.js';
import type { RedisProfileCache } from './profile-cache.js';
import type { RedisClient, RedisHealth } from '../redis/client.js';
import type { Sealer } from '../redis/seal.js';

/**
 * The answer given for a ContactId, kept for Connect's retry window: a flow retries a failing
 * Lambda up to 3 times, and a retry must get the same answer (NEW stays NEW) without calling AWS.
 * Keyed by the caller's identity tag too, so it lives in the caller's cluster slot. It is read
 * together with the caller's cached lookup (SharedState.readContact).
 */
export interface IdempotencyStore {
  /**
   * `variant`: the lookup's (see StateKeys.lookupKey); '' for the phone or e-mail alone. `from`: the
   * answer is `buildAnswer(from.outcome)`, all of whose personal values came from the cached lookup as
   * it was read (sealed) and from the contact's keys: then the lookup's sealed value is kept with
   * the outcome's clear parts, and the answer is not sealed again (see RedisIdempotencyStore).
   */
  put(tag: string, contactId: string, answer: Answer, variant?: string, from?: KeptFrom): Promise<void>;
  /**
   * Records `digest` as the contact's last update; returns the one before (undefined: none, or Redis
   * failing). The same digest twice in a row is a retry of one update; A, B, A are three updates.
   */
  swapLastUpdate(tag: string, contactId: string, digest: string): Promise<string | undefined>;
}

/** A cache hit's answer: the cached lookup's value as read from Redis (sealed), and the outcome built from it. */
export interface KeptFrom {
  sealedLookup: string;
  outcome: Outcome;
}

/** A kept answer stored by reference. JSON, so it starts with '{': a sealed value starts with its key id. */
interface KeptByReference {
  /** not personal, in clear for erasure (the profile's contact history goes with the caller) */
  profileId: string;
  /** the cached lookup's sealed value, bound to the lookup's key */
  lookup: string;
  outcome: ClearOutcome;
}

const memoryKey = (tag: string, contactId: string, variant = '') => `${tag}|${contactId}${variant === '' ? '' : `|${variant}`}`;

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly answers: LRUCache<string, Answer>;
  private readonly updates: LRUCache<string, string>;

  constructor(ttlMs: number, max = 50_000) {
    this.answers = new LRUCache({ max, ttl: ttlMs });
    this.updates = new LRUCache({ max, ttl: ttlMs });
  }
  get(tag: string, contactId: string, variant?: string): Promise<Answer | undefined> {
    return Promise.resolve(this.answers.get(memoryKey(tag, contactId, variant)));
  }
  put(tag: string, contactId: string, answer: Answer, variant?: string): Promise<void> {
    this.answers.set(memoryKey(tag, contactId, variant), answer);
    return Promise.resolve();
  }
  swapLastUpdate(tag: string, contactId: string, digest: string): Promise<string | undefined> {
    const key = `${tag}|${contactId}|update`;
    const previous = this.updates.get(key);
    this.updates.set(key, digest);
    return Promise.resolve(previous);
  }
  /** erasure: drops the caller's answers; returns how many and the profiles they named */
  forget(tag: string): { removed: number; profileIds: string[] } {
    const profileIds: string[] = [];
    let removed = 0;
    for (const [key, answer] of this.answers.entries()) {
      if (!key.startsWith(`${tag}|`)) continue;
      if (answer.profileId) profileIds.push(answer.profileId);
      this.answers.delete(key);
      removed++;
    }
    for (const key of [...this.updates.keys()]) {
      if (!key.startsWith(`${tag}|`)) continue;
      this.updates.delete(key);
      removed++;
    }
    return { removed, profileIds };
  }
}

/**
 * In Redis. A cache hit's answer is kept by reference: the cached lookup's sealed value as it was read,
 * beside the outcome's clear parts (status, repeat flag, record status...), and rebuilt from them and the
 * contact's identity (which the key's tag names) when a retry reads it. The lookup's value stays sealed
 * and bound to the lookup's key; nothing personal is in clear, and a cache hit seals one value fewer.
 * Every other answer is sealed whole.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly ttlMs: number,
    private readonly sealer: Sealer,
    private readonly lookups: Pick<RedisProfileCache, 'open'>,
    private readonly mapping: AttributeMapping,
  ) {}

  /**
   * The kept answer from its stored value; undefined when it does not open (tampered, moved, unknown key).
   * `keys`: the contact's, which the tag and variant name (a kept answer by reference is rebuilt with them).
   */
  open(tag: string, contactId: string, raw: string, variant: string, keys: Pick<CallerKeys, 'identity' | 'extra'>): Answer | undefined {
    if (!raw.startsWith('{')) return this.sealer.open<Answer>(raw, this.keys.contactAnswer(tag, contactId, variant));
    let kept: KeptByReference;
    try {
      kept = JSON.parse(raw) as KeptByReference;
    } catch {
      return undefined;
    }
    const lookup = typeof kept.lookup === 'string' ? this.lookups.open(tag, kept.lookup, variant) : undefined;
    if (!lookup || (lookup.summary?.profileId ?? '') !== kept.profileId) return undefined;
    return buildAnswer(outcomeFrom(kept.outcome, lookup.summary, keys, this.mapping), this.mapping);
  }

  // A failure, whether Redis refused the SET (full, read-only) or its reply was lost, leaves the previous
  // digest unknown: the update is queued, and a Connect retry of it is written twice, with the same values.
  swapLastUpdate(tag: string, contactId: string, digest: string): Promise<string | undefined> {
    return this.health.safely(
      'idempotency.update',
      async () => (await this.redis.set(this.keys.lastUpdate(tag, contactId), digest, 'PX', this.ttlMs, 'GET')) ?? undefined,
      undefined,
    );
  }

  put(tag: string, contactId: string, answer: Answer, variant = '', from?: KeptFrom): Promise<void> {
    return this.health.safely(
      'idempotency.put',
      async () => {
        const key = this.keys.contactAnswer(tag, contactId, variant);
        // by reference, the lookup's profile id: a MISMATCH answer names none, but the lookup it is rebuilt from does
        const value = from
          ? JSON.stringify({ profileId: from.outcome.summary?.profileId ?? '', lookup: from.sealedLookup, outcome: clearOutcome(from.outcome) } satisfies KeptByReference)
          : this.sealer.seal(answer, key);
        await this.redis.set(key, value, 'PX', this.ttlMs);
      },
      undefined,
    );
  }
}
