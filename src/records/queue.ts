import type { RecordJob } from './job.js';

/** A contact record that used up its retries, or failed for good. */
export interface DeadLetter {
  contactId: string;
  profileId: string;
  receivedAt: string;
  failedAt: string;
  attempts: number;
  error: string;
}

export type Selection = { all: true } | { contactIds: string[] };

export interface DeadLetterStore {
  list(limit?: number): Promise<DeadLetter[]>;
  /** puts them back on the queue with fresh attempts; returns how many */
  replay(which: Selection): Promise<number>;
  /** deletes them; returns how many */
  purge(which: Selection): Promise<number>;
  count(): Promise<number>;
}

/** The contact-record queue the resolve path hands records to. */
export interface RecordQueue {
  readonly kind: 'redis' | 'in-process';
  /** QUEUED once the record is safely queued (the same ContactId twice is one record); FAILED if it could not be */
  enqueue(job: RecordJob): Promise<'QUEUED' | 'FAILED'>;
  /** starts taking work (a replica may enqueue without working) */
  start(): void;
  /** live lookups are being throttled: record writes step back for a while, fleet-wide */
  yieldTo(ms: number): void;
  /** records waiting, delayed or in progress */
  depth(): Promise<number>;
  readonly deadLetters: DeadLetterStore;
  /** stops taking work; the job in hand finishes or goes back to the queue */
  close(): Promise<void>;
}

export interface QueueHooks {
  onDeadLetter?(letter: DeadLetter): void;
  onOutcome?(outcome: 'written' | 'paced' | 'throttled' | 'retried' | 'dead-lettered'): void;
}

/** Exponential backoff with jitter: 1 s, 2 s, 4 s ... capped at 60 s, each between half and all of it. */
export function backoffMs(attempt: number, retryAfterMs = 0): number {
  const ceiling = Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.max(retryAfterMs, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
}

export function selects(which: Selection, contactId: string): boolean {
  return 'all' in which || which.contactIds.includes(contactId);
}
