import { LRUCache } from 'lru-cache';
import type { Answer } from '../contact/answer.js';
import type { StateKeys } from './keys.js';
import type { RedisClient, RedisHealth } from './redis.js';

/**
 * The answer given for a ContactId, kept for Connect's retry window: a flow retries a failing
 * Lambda up to 3 times, and a retry must get the same answer (NEW stays NEW) without calling AWS.
 * Keyed by the caller's identity tag too, so it lives in the caller's cluster slot.
 */
export interface IdempotencyStore {
  get(tag: string, contactId: string): Promise<Answer | undefined>;
  put(tag: string, contactId: string, answer: Answer): Promise<void>;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly answers: LRUCache<string, Answer>;

  constructor(ttlMs: number, max = 50_000) {
    this.answers = new LRUCache({ max, ttl: ttlMs });
  }
  get(tag: string, contactId: string): Promise<Answer | undefined> {
    return Promise.resolve(this.answers.get(`${tag}|${contactId}`));
  }
  put(tag: string, contactId: string, answer: Answer): Promise<void> {
    this.answers.set(`${tag}|${contactId}`, answer);
    return Promise.resolve();
  }
}

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly ttlMs: number,
  ) {}

  get(tag: string, contactId: string): Promise<Answer | undefined> {
    return this.health.safely(
      'idempotency.get',
      async () => {
        const raw = await this.redis.get(this.keys.contactAnswer(tag, contactId));
        return raw ? (JSON.parse(raw) as Answer) : undefined;
      },
      undefined,
    );
  }

  put(tag: string, contactId: string, answer: Answer): Promise<void> {
    return this.health.safely(
      'idempotency.put',
      async () => {
        await this.redis.set(this.keys.contactAnswer(tag, contactId), JSON.stringify(answer), 'PX', this.ttlMs);
      },
      undefined,
    );
  }
}
