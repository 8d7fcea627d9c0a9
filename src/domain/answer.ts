import type { Identity } from './identity.js';
import { MAX_ANSWER_BYTES, readMapped, sanitiseValue, type AttributeMapping, type CORE_KEYS } from './mapping.js';
import type { Profile } from './profile.js';

export const CUSTOMER_STATUSES = ['KNOWN', 'NEW', 'MULTIPLE', 'NOT_FOUND', 'ANONYMOUS', 'UNAVAILABLE'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];
export type RecordStatus = 'QUEUED' | 'SKIPPED' | 'FAILED';

/** The flat string map the flow branches on (`$.External.<key>`). */
export type Answer = Record<string, string>;

/** What an answer needs of a profile: sanitised and bounded, so it can be cached as is. */
export interface ProfileSummary {
  profileId: string;
  firstName: string;
  lastName: string;
  accountNumber: string;
  /** the attribute mapping's keys and values */
  mapped: Record<string, string>;
}

// The core keys take at most ~6.7 KB of JSON: three profile values of at most 1 KB, each of which
// can double when escaped, plus short fixed ones. The mapped attributes get the rest of the budget.
const CORE_RESERVE_BYTES = 7 * 1024;

export function summarise(profile: Profile, mapping: AttributeMapping): ProfileSummary {
  return {
    profileId: profile.ProfileId,
    firstName: sanitiseValue(profile.FirstName),
    lastName: sanitiseValue(profile.LastName),
    accountNumber: sanitiseValue(profile.AccountNumber),
    mapped: readMapped(profile, mapping, MAX_ANSWER_BYTES - CORE_RESERVE_BYTES),
  };
}

export interface Outcome {
  status: CustomerStatus;
  identity: Identity | undefined;
  summary: ProfileSummary | undefined;
  matchCount: number;
  degraded: boolean;
  repeat: { isRepeat: boolean; lastContactAt: string };
  recordStatus: RecordStatus;
}

export function buildAnswer(o: Outcome, mapping: AttributeMapping): Answer {
  const id = o.identity;
  const s = o.summary;
  const core: Record<(typeof CORE_KEYS)[number], string> = {
    customerStatus: o.status,
    profileId: s?.profileId ?? '',
    profileMatchCount: String(o.matchCount),
    identityType: id?.type ?? 'NONE',
    phoneE164: id?.type === 'PHONE' ? id.e164 : '',
    phoneCountry: id?.type === 'PHONE' ? id.country : '',
    emailAddress: id?.type === 'EMAIL' ? id.address : '',
    firstName: s?.firstName ?? '',
    lastName: s?.lastName ?? '',
    accountNumber: s?.accountNumber ?? '',
    isRepeatContact: o.repeat.isRepeat ? 'true' : 'false',
    lastContactAt: o.repeat.lastContactAt,
    contactRecordStatus: o.recordStatus,
    degraded: o.degraded ? 'true' : 'false',
  };
  const answer: Answer = core;
  // every mapped key is always present, '' when the profile lacks it (or there is no profile)
  for (const { key } of mapping) answer[key] = s?.mapped[key] ?? '';
  return answer;
}
