import type { Identity } from './identity.js';
import { disclosesPersonal, searchedByOf, STANDARD_KEYS, type CallerKeys, type SearchPair } from './keys.js';
import { fitMapped, MAX_ANSWER_BYTES, readProfile, sanitiseValue, type AttributeMapping, type CORE_KEYS, type Freshness } from './mapping.js';
import type { Profile } from './profile.js';
import type { ProfileUpdate } from './profile-update.js';
import type { RiskSignals } from './risk.js';

export const CUSTOMER_STATUSES = ['KNOWN', 'NEW', 'MULTIPLE', 'NOT_FOUND', 'ANONYMOUS', 'UNAVAILABLE'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];
export type RecordStatus = 'QUEUED' | 'SKIPPED' | 'FAILED';
/** Whether the chosen profile matched every key the contact gave (two or more), from SearchProfiles' FoundByItems. */
export type Verification = 'VERIFIED' | 'MISMATCH' | 'NOT_CHECKED';
/**
 * Why the service answered without Customer Profiles (a fallback: UNAVAILABLE, or a stale cached
 * profile): its deadline came, AWS throttled, the fleet's share of the account quota had no call free
 * before the deadline (QUOTA: the caller was answered at once, not at the deadline), or AWS failed
 * otherwise. The contact-flow Lambda adds its own reasons for when the service itself cannot answer
 * (src/lambda/handler.ts).
 */
export type FallbackReason = 'TIMEOUT' | 'AWS_THROTTLED' | 'QUOTA' | 'AWS_MISCONFIGURED' | 'AWS_UNAVAILABLE';
/** COMPLETE: every enrichment source answered; PARTIAL: the keys of at least one are ''; NONE: nothing to enrich. */
export type EnrichmentStatus = 'COMPLETE' | 'PARTIAL' | 'NONE';

/** The answer keys one enrichment call filled, when it was made (epoch ms), and what it said of their freshness. */
export interface EnrichedValues {
  at: number;
  values: Record<string, string>;
  /**
   * By answer key, for the keys whose source said anything (calculated attributes, segments): cached with
   * the values, so that a cache hit and a kept answer rebuilt from the cache answer the same freshness.
   * Absent in an entry written before this existed: its keys' freshness is not known.
   */
  freshness?: Record<string, Freshness>;
}
/** By enrichment call id (see EnrichmentCall). */
export type Enriched = Record<string, EnrichedValues>;

/** What the enrichment entries give an answer: each mapped enrichment key's value and freshness, where its entry has them. */
export function enrichedFor(mapping: AttributeMapping, enriched: Readonly<Enriched> | undefined): { values: Record<string, string>; freshness: Record<string, Freshness> } {
  const values: Record<string, string> = {};
  const freshness: Record<string, Freshness> = {};
  for (const m of mapping) {
    const entry = m.call && enriched && Object.hasOwn(enriched, m.call.id) ? enriched[m.call.id] : undefined;
    if (!entry) continue;
    if (Object.hasOwn(entry.values, m.key)) values[m.key] = entry.values[m.key]!;
    if (entry.freshness && Object.hasOwn(entry.freshness, m.key)) freshness[m.key] = entry.freshness[m.key]!;
  }
  return { values, freshness };
}

/** The flat string map the flow branches on (`$.External.<key>`). */
export type Answer = Record<string, string>;

/** What an answer needs of a profile: sanitised and bounded, so it can be cached as is. */
export interface ProfileSummary {
  profileId: string;
  firstName: string;
  lastName: string;
  accountNumber: string;
  /** the attribute mapping's keys read from the profile itself, sanitised */
  mapped: Record<string, string>;
  /** what the enrichment calls brought, each with its own age (ENRICHMENT_TTL_SECONDS) */
  enriched?: Enriched | undefined;
}

// The core keys take at most ~7.9 KB of JSON: three profile values of at most 1 KB, each of which
// can double when escaped, `matchedBy` (at most 4 key names of at most 64 characters), the screen
// pop's key (at most 64 characters) and value (at most 255 characters, 765 bytes), the ContactId an
// answer was carried from (at most 128 characters), the step-up signals, the enrichment's freshness
// (two keys, 72 bytes at most: one flag and one time for all the mapped sources; a `<key>AsOf` per
// mapped key would take up to 6 KB, 64 keys of 64 characters, out of the mapped attributes' budget), plus short fixed ones
// (measured: 7.5 KB for the worst VERIFIED answer before the freshness keys, 72 bytes more with them).
// The mapped attributes get the rest of the budget.
const CORE_RESERVE_BYTES = 8 * 1024;

export function summarise(profile: Profile, mapping: AttributeMapping): ProfileSummary {
  return {
    profileId: profile.ProfileId,
    firstName: sanitiseValue(profile.FirstName),
    lastName: sanitiseValue(profile.LastName),
    accountNumber: sanitiseValue(profile.AccountNumber),
    mapped: readProfile(profile, mapping),
  };
}

/**
 * What an update changes of an answer: the names and account number it sets or clears, and the mapped
 * profile keys it touches, sanitised ('' for a cleared one). Enrichment keys are left to their own age.
 */
function updatedValues(update: ProfileUpdate, profileId: string, mapping: AttributeMapping): { core: Partial<Record<'firstName' | 'lastName' | 'accountNumber', string>>; mapped: Record<string, string> } {
  // the update as a profile, "" kept: a getter gives '' for a cleared field and undefined for one not touched
  const patch = { ...update, ProfileId: profileId } as Profile;
  const mapped: Record<string, string> = {};
  for (const { key, read } of mapping) {
    const value = read?.(patch);
    if (value !== undefined) mapped[key] = sanitiseValue(value);
  }
  const core: Partial<Record<'firstName' | 'lastName' | 'accountNumber', string>> = {};
  if (update.FirstName !== undefined) core.firstName = sanitiseValue(update.FirstName);
  if (update.LastName !== undefined) core.lastName = sanitiseValue(update.LastName);
  if (update.AccountNumber !== undefined) core.accountNumber = sanitiseValue(update.AccountNumber);
  return { core, mapped };
}

/** The summary after an update of its profile (read your writes). */
export function updateSummary(summary: ProfileSummary, update: ProfileUpdate, mapping: AttributeMapping): ProfileSummary {
  const { core, mapped } = updatedValues(update, summary.profileId, mapping);
  return { ...summary, ...core, mapped: { ...summary.mapped, ...mapped } };
}

/** A kept answer after an update of its profile: the same values, the mapped keys refitted to the budget. */
export function updateAnswer(answer: Answer, update: ProfileUpdate, mapping: AttributeMapping): Answer {
  const { core, mapped } = updatedValues(update, answer.profileId ?? '', mapping);
  const values = Object.fromEntries(mapping.map(({ key }) => [key, mapped[key] ?? answer[key] ?? '']));
  return { ...answer, ...fitMapped(mapping, values, MAX_ANSWER_BYTES - CORE_RESERVE_BYTES), ...core };
}

export interface Outcome {
  status: CustomerStatus;
  identity: Identity | undefined;
  summary: ProfileSummary | undefined;
  matchCount: number;
  degraded: boolean;
  repeat: { isRepeat: boolean; lastContactAt: string };
  recordStatus: RecordStatus;
  verification: Verification;
  /** the key names that found the chosen profile */
  matchedBy: readonly string[];
  /** `freshness`: by answer key, for the enrichment keys whose source said (see enrichedFor) */
  enrichment: { status: EnrichmentStatus; values: Readonly<Record<string, string>>; freshness?: Readonly<Record<string, Freshness>> | undefined };
  /** set on a fallback only ('' in the answer otherwise) */
  fallbackReason?: FallbackReason | undefined;
  /** the contact's first key and value (searchedByOf): a MULTIPLE's screen pop lists the matches by it */
  searchedBy?: SearchPair | undefined;
  /** answered from an earlier leg's resolution (a transfer, a callback): that leg's ContactId */
  carriedFrom?: string | undefined;
  /** step-up signals, for a VERIFIED answer only (see Risk) */
  risk?: Risk | undefined;
}

/**
 * What a verified caller's answer says of the profile's recent history, for a flow to step up on: its
 * phone, e-mail or postal address changed, or it was merged, within RISK_CHANGE_WINDOW_DAYS ('UNKNOWN'
 * when the history could not be read in time, or not far enough); and how many failed checks claimed
 * the keys it verified with, from any caller, within IDV_FAILURE_WINDOW_SECONDS ('UNKNOWN' likewise).
 */
export interface Risk {
  signals: { [K in keyof RiskSignals]: RiskSignals[K] | 'UNKNOWN' };
  recentFailedChecks: string;
}

/**
 * The screen pop (the agent workspace opens the profile that the contact attributes `profileSearchKey`
 * and `profileSearchValue` name): one profile, `_profileId` and its id; several that the flow's keys did
 * not narrow (MULTIPLE, one key), the search that lists them; nothing without a profile, and nothing
 * after a MISMATCH (ID&V failed: no handle on a profile the caller has not proven is theirs).
 * A MULTIPLE that VERIFIED every key the contact gave is narrowed: its profile pops.
 */
export function screenPop(o: Pick<Outcome, 'status' | 'verification' | 'searchedBy'> & { summary: Pick<ProfileSummary, 'profileId'> | undefined }): SearchPair | undefined {
  if (!o.summary || o.verification === 'MISMATCH') return undefined;
  if (o.status === 'MULTIPLE' && o.verification !== 'VERIFIED') {
    // sanitised for Connect as every answer value is (the first key may be what the flow collected)
    const value = sanitiseValue(o.searchedBy?.value);
    return o.searchedBy && value !== '' ? { key: o.searchedBy.key, value } : undefined;
  }
  return { key: STANDARD_KEYS.profileId, value: o.summary.profileId };
}

/**
 * What an outcome holds that is not personal: a kept answer stores it in clear beside the sealed
 * lookup that gave it the rest (see IdempotencyStore.put).
 */
export type ClearOutcome = Pick<Outcome, 'status' | 'matchCount' | 'degraded' | 'repeat' | 'recordStatus' | 'verification' | 'matchedBy'> & {
  enrichment: EnrichmentStatus;
};

export function clearOutcome(o: Outcome): ClearOutcome {
  const { status, matchCount, degraded, repeat, recordStatus, verification, matchedBy } = o;
  return { status, matchCount, degraded, repeat, recordStatus, verification, matchedBy, enrichment: o.enrichment.status };
}

/**
 * The outcome again from its clear parts, the lookup it came from and the contact's keys. Only for
 * an outcome whose enrichment values were all the lookup's own (nothing called, none missing): every
 * mapped source's values are then read from the summary as the enricher read them.
 */
export function outcomeFrom(clear: ClearOutcome, summary: ProfileSummary | undefined, keys: Pick<CallerKeys, 'identity' | 'extra'>, mapping: AttributeMapping): Outcome {
  // their freshness with them, from the same entries (the kept answer answers the freshness the first one did)
  const { values, freshness } = summary && clear.enrichment !== 'NONE' ? enrichedFor(mapping, summary.enriched) : { values: {}, freshness: {} };
  const { enrichment, ...rest } = clear;
  return { ...rest, identity: keys.identity, searchedBy: searchedByOf(keys), summary, enrichment: { status: enrichment, values, freshness } };
}

// Date's range: a time outside it has no ISO 8601 text
const MAX_TIME_MS = 8.64e15;

/**
 * The freshness of the enrichment values an answer gives (a key it answers '' gave nothing: not read, not
 * disclosed, or over the budget): `partial` 'true' when any is a calculated attribute computed from partial
 * data, 'false' when some said and none is, '' when none said; `asOf` the oldest of their times (the newest
 * object a calculated attribute includes, a segment's last computation), ISO 8601, '' when none has one.
 */
function answeredFreshness(mapping: AttributeMapping, answered: Readonly<Record<string, string>>, freshness: Readonly<Record<string, Freshness>> | undefined): { partial: string; asOf: string } {
  let partial: boolean | undefined;
  let asOf = Infinity;
  for (const { key } of mapping) {
    const f = freshness && Object.hasOwn(freshness, key) ? freshness[key] : undefined;
    if (!f || !answered[key]) continue;
    if (f.partial !== undefined) partial = partial === true || f.partial;
    if (typeof f.asOf === 'number' && Math.abs(f.asOf) <= MAX_TIME_MS && f.asOf < asOf) asOf = f.asOf;
  }
  return { partial: partial === undefined ? '' : String(partial), asOf: Number.isFinite(asOf) ? new Date(asOf).toISOString() : '' };
}

/**
 * The answer. A MISMATCH (ID&V failed: the keys the contact gave found a profile that not all of them
 * match) names no profile and carries nothing of it: no id, name, account number or mapped value, only
 * what the flow branches on. The flow must not greet the caller by the name of the profile someone
 * else's account number found, nor pass its id on (a Customer Profiles block, a screen pop, an update).
 * A profile that only claimed keys found, not yet verified (see disclosesPersonal), is named (its id,
 * the pop: the agent verifies the caller on it) with its routing values, and none of its personal ones.
 */
export function buildAnswer(o: Outcome, mapping: AttributeMapping): Answer {
  const id = o.identity;
  const s = o.verification === 'MISMATCH' ? undefined : o.summary;
  const personal = s !== undefined && disclosesPersonal(o);
  const pop = screenPop(o);
  // every mapped key is always present, '' when the profile lacks it (or there is no profile to show, or
  // the key is personal and the profile is not yet the caller's to see)
  const values: Record<string, string> = s ? { ...s.mapped, ...o.enrichment.values } : {};
  if (s && !personal) for (const m of mapping) if (m.personal) delete values[m.key];
  const mapped = fitMapped(mapping, values, MAX_ANSWER_BYTES - CORE_RESERVE_BYTES);
  const freshness = answeredFreshness(mapping, mapped, s ? o.enrichment.freshness : undefined);
  const core: Record<(typeof CORE_KEYS)[number], string> = {
    customerStatus: o.status,
    profileId: s?.profileId ?? '',
    profileMatchCount: String(o.matchCount),
    profileSearchKey: pop?.key ?? '',
    profileSearchValue: pop?.value ?? '',
    identityType: id?.type ?? 'NONE',
    phoneE164: id?.type === 'PHONE' ? id.e164 : '',
    phoneCountry: id?.type === 'PHONE' ? id.country : '',
    emailAddress: id?.type === 'EMAIL' ? id.address : '',
    firstName: personal ? s.firstName : '',
    lastName: personal ? s.lastName : '',
    accountNumber: personal ? s.accountNumber : '',
    isRepeatContact: o.repeat.isRepeat ? 'true' : 'false',
    lastContactAt: o.repeat.lastContactAt,
    contactRecordStatus: o.recordStatus,
    degraded: o.degraded ? 'true' : 'false',
    verification: o.verification,
    matchedBy: o.matchedBy.join(','),
    carriedFromContactId: o.carriedFrom ?? '',
    phoneChangedRecently: o.risk?.signals.phoneChangedRecently ?? '',
    emailChangedRecently: o.risk?.signals.emailChangedRecently ?? '',
    addressChangedRecently: o.risk?.signals.addressChangedRecently ?? '',
    mergedRecently: o.risk?.signals.mergedRecently ?? '',
    recentFailedChecks: o.risk?.recentFailedChecks ?? '',
    enrichment: o.enrichment.status,
    enrichmentPartial: freshness.partial,
    enrichmentAsOf: freshness.asOf,
    fallbackReason: o.fallbackReason ?? '',
  };
  return Object.assign(core, mapped);
}
