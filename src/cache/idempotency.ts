import { LRUCache } from 'lru-cache';
import type { Answer } from '../contact/answer.js';

/**
 * The answer given for a ContactId, kept for Connect's retry window: a flow retries a failing
 * Lambda up to 3 times, and a retry must get the same answer (NEW stays NEW) without calling AWS.
 */
export interface IdempotencyStore {
  get(contactId: string): Promise<Answer | undefined>;
  put(contactId: string, answer: Answer): Promise<void>;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly answers: LRUCache<string, Answer>;

  constructor(ttlMs: number, max = 50_000) {
    this.answers = new LRUCache({ max, ttl: ttlMs });
  }

  get(contactId: string): Promise<Answer | undefined> {
    return Promise.resolve(this.answers.get(contactId));
  }

  put(contactId: string, answer: Answer): Promise<void> {
    this.answers.set(contactId, answer);
    return Promise.resolve();
  }
}
