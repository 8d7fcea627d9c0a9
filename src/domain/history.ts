// A profile's change history as Customer Profiles keeps it (ListProfileHistoryRecords, GetProfileHistoryRecord),
// reduced to what step-up signals read.

/** The model's ActionType enum (customer-profiles 2020-08-15): INGESTED, not INGESTION. */
export const HISTORY_ACTIONS = [
  'ADDED_PROFILE_KEY',
  'DELETED_PROFILE_KEY',
  'CREATED',
  'UPDATED',
  'INGESTED',
  'DELETED_BY_CUSTOMER',
  'EXPIRED',
  'MERGED',
  'DELETED_BY_MERGE',
] as const;
export type HistoryAction = (typeof HISTORY_ACTIONS)[number];

export const isHistoryAction = (v: unknown): v is HistoryAction => (HISTORY_ACTIONS as readonly unknown[]).includes(v);

/** One thing that happened to a profile. */
export interface HistoryRecord {
  actionType: HistoryAction;
  /** when Customer Profiles recorded it (epoch ms) */
  createdAt: number;
  objectTypeName: string;
  /**
   * UPDATED only: the fields the update changed (`PhoneNumber`, `Address.City`, `Attributes.tier`), from its Content
   * compared with the profile's state before it. Undefined when not known: the record's Content was not read (past the
   * read bound, a failed read) or there was no earlier state to compare it with.
   */
  changedFields?: readonly string[];
}

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The fields that differ between two states of a profile, sorted: a top-level name (`PhoneNumber`), or `Name.key`
 * inside a map (`Address.City`, `Attributes.tier`). A field one state has and the other lacks counts as changed (set
 * or cleared).
 */
export function changedFields(before: Json, after: Json): string[] {
  const out: string[] = [];
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const [a, b] = [before[name], after[name]];
    if ((isMap(a) || a === undefined) && (isMap(b) || b === undefined)) {
      const [am, bm] = [a ?? {}, b ?? {}];
      for (const key of new Set([...Object.keys(am), ...Object.keys(bm)])) if (!same(am[key], bm[key])) out.push(`${name}.${key}`);
    } else if (!same(a, b)) out.push(name);
  }
  return out.sort();
}

