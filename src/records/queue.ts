import type { QueuedJob } from './job.js';

/** A contact record or profile update that used up its retries, or failed for good. */
export interface DeadLetter {
  /** the job's id: the ContactId for a record, `u:<ContactId>:<updateId>` for an update */
  id: string;
  kind: 'record' | 'update';
  contactId: string;
  profileId: string;
  receivedAt: string;
  failedAt: string;
  attempts: number;
  error: string;
}

/** all, or the jobs (records and updates) of these ContactIds */
export type Selection = { all: true } | { contactIds: string[] };

export interface DeadLetterStore {
  list(limit?: number): Promise<DeadLetter[]>;
  /** puts them back on the queue with fresh attempts; returns how many */
  replay(which: Selection): Promise<number>;
  /** deletes them; returns how many */
  purge(which: Selection): Promise<number>;
  count(): Promise<number>;
}

/** The queue the resolve path hands contact records and profile updates to. */
export interface RecordQueue {
  readonly kind: 'redis' | 'in-process';
  /** QUEUED once the job is safely queued (the same job id twice is one job: see jobIdOf); FAILED if it could not be */
  enqueue(job: QueuedJob): Promise<'QUEUED' | 'FAILED'>;
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
