import { LRUCache } from 'lru-cache';
import type { Answer } from '../domain/answer.js';
import type { StateKeys } from './keys.js';
import type { RedisClient, RedisHealth } from './redis.js';
import type { Sealer } from './seal.js';

/**
 * The answer given for a ContactId, kept for Connect's retry window: a flow retries a failing
 * Lambda up to 3 times, and a retry must get the same answer (NEW stays NEW) without calling AWS.
 * Keyed by the caller's identity tag too, so it lives in the caller's cluster slot. It is read
 * together with the caller's cached lookup (SharedState.readContact).
 */
export interface IdempotencyStore {
  /** `variant`: the lookup's (see StateKeys.lookupKey); '' for the phone or e-mail alone */
  put(tag: string, contactId: string, answer: Answer, variant?: string): Promise<void>;
  /**
   * Records `digest` as the contact's last update; returns the one before (undefined: none, or Redis
   * failing). The same digest twice in a row is a retry of one update; A, B, A are three updates.
   */
  swapLastUpdate(tag: string, contactId: string, digest: string): Promise<string | undefined>;
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

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly ttlMs: number,
    private readonly sealer: Sealer,
  ) {}

  open(tag: string, contactId: string, raw: string, variant = ''): Answer | undefined {
    return this.sealer.open<Answer>(raw, this.keys.contactAnswer(tag, contactId, variant));
  }

  swapLastUpdate(tag: string, contactId: string, digest: string): Promise<string | undefined> {
    return this.health.safely(
      'idempotency.update',
      async () => (await this.redis.set(this.keys.lastUpdate(tag, contactId), digest, 'PX', this.ttlMs, 'GET')) ?? undefined,
      undefined,
    );
  }

  put(tag: string, contactId: string, answer: Answer, variant = ''): Promise<void> {
    return this.health.safely(
      'idempotency.put',
      async () => {
        const key = this.keys.contactAnswer(tag, contactId, variant);
        await this.redis.set(key, this.sealer.seal(answer, key), 'PX', this.ttlMs);
      },
      undefined,
    );
  }
}
