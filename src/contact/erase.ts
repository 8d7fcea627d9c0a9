import type { CallerKeys } from '../domain/keys.js';

export interface ErasureReport {
  /** keys (Redis) or entries (in-process) removed: cache, answers per contact, locks */
  callerEntries: number;
  /** recent-contact histories of the caller's profiles */
  contactHistories: number;
  /** contact records queued, kept or dead-lettered for the caller */
  records: number;
  /** records a worker held at that moment (written within seconds; erase again afterwards) */
  recordsInProgress: number;
}

/**
 * Forgets one caller in everything this service keeps (the state backend implements it:
 * backends/redis-state.ts, backends/memory-state.ts).
 *
 * `keys`: a phone number or e-mail address, or, for a caller who was looked up without one (a withheld
 * caller found by the account number typed), that first key. Everything tagged by it goes, whatever
 * other keys the lookups had (they are variants of the same tag).
 */
export interface Eraser {
  erase(keys: CallerKeys): Promise<ErasureReport>;
}
