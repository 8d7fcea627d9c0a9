// Step-up signals from a profile's history: did the details a fraudster changes before calling (the phone, the
// e-mail address, the postal address) change lately, or was the profile merged with another?
import type { HistoryRecord } from './history.js';
import { ADDRESS_FIELDS, EMAIL_FIELDS, PHONE_FIELDS } from './profile.js';

const DAY_MS = 86_400_000;

/** 'UNKNOWN': an update inside the window whose changed fields are not known, and none known to touch these fields. */
export type RiskValue = 'true' | 'false' | 'UNKNOWN';

export interface RiskSignals {
  phoneChangedRecently: RiskValue;
  emailChangedRecently: RiskValue;
  addressChangedRecently: RiskValue;
  mergedRecently: 'true' | 'false';
}

export interface RiskOptions {
  /** how far back "recently" reaches, in days (> 0) */
  changeWindowDays: number;
}

/** The profile fields behind each change signal; a changed field matches one of these or a key inside it (`Address.City`). */
const SIGNAL_FIELDS: Record<Exclude<keyof RiskSignals, 'mergedRecently'>, readonly string[]> = {
  phoneChangedRecently: PHONE_FIELDS,
  emailChangedRecently: EMAIL_FIELDS,
  addressChangedRecently: ADDRESS_FIELDS,
};

/**
 * The signals, as answer values, from the history records the store gave. A record counts when it is no older than
 * `changeWindowDays` before `now` (the window's first millisecond included); one stamped after `now` counts too (AWS'
 * clock ahead of this one). A change signal is 'true' when an UPDATED record in the window changed one of its fields,
 * 'UNKNOWN' when none did but an UPDATED record in the window has changed fields not known, else 'false'.
 * `mergedRecently` is 'true' when a MERGED record is in the window. Records outside the window say nothing.
 */
export function riskSignals(records: readonly HistoryRecord[], now: number, o: RiskOptions): RiskSignals {
  if (!(o.changeWindowDays > 0) || !Number.isFinite(o.changeWindowDays)) {
    throw new RangeError(`changeWindowDays must be a positive number of days (got ${o.changeWindowDays})`);
  }
  const from = now - o.changeWindowDays * DAY_MS;
  const recent = records.filter((r) => r.createdAt >= from);
  const updates = recent.filter((r) => r.actionType === 'UPDATED');
  const changed = (fields: readonly string[]): RiskValue => {
    const touches = (name: string) => fields.some((f) => name === f || name.startsWith(`${f}.`));
    if (updates.some((u) => u.changedFields?.some(touches))) return 'true';
    return updates.some((u) => u.changedFields === undefined) ? 'UNKNOWN' : 'false';
  };
  return {
    phoneChangedRecently: changed(SIGNAL_FIELDS.phoneChangedRecently),
    emailChangedRecently: changed(SIGNAL_FIELDS.emailChangedRecently),
    addressChangedRecently: changed(SIGNAL_FIELDS.addressChangedRecently),
    mergedRecently: recent.some((r) => r.actionType === 'MERGED') ? 'true' : 'false',
  };
}
