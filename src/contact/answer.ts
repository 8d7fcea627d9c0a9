import type { Identity } from './identity.js';
import { MAX_ANSWER_BYTES, jsonBytes, readMapped, sanitiseValue, type AttributeMapping, type CORE_KEYS } from './mapping.js';
import type { Profile } from '../profiles/profile.js';

export const CUSTOMER_STATUSES = ['KNOWN', 'NEW', 'MULTIPLE', 'NOT_FOUND', 'ANONYMOUS', 'UNAVAILABLE'] as const;
export type CustomerStatus = (typeof CUSTOMER_STATUSES)[number];
export type RecordStatus = 'QUEUED' | 'SKIPPED' | 'FAILED';

/** The flat string map the flow branches on (`$.External.<key>`). */
export type Answer = Record<string, string>;

export interface Outcome {
  status: CustomerStatus;
  identity: Identity | undefined;
  profile: Profile | undefined;
  matchCount: number;
  degraded: boolean;
  repeat: { isRepeat: boolean; lastContactAt: string };
  recordStatus: RecordStatus;
}

export function buildAnswer(o: Outcome, mapping: AttributeMapping): Answer {
  const id = o.identity;
  const core: Record<(typeof CORE_KEYS)[number], string> = {
    customerStatus: o.status,
    profileId: o.profile?.ProfileId ?? '',
    profileMatchCount: String(o.matchCount),
    identityType: id?.type ?? 'NONE',
    phoneE164: id?.type === 'PHONE' ? id.e164 : '',
    phoneCountry: id?.type === 'PHONE' ? id.country : '',
    emailAddress: id?.type === 'EMAIL' ? id.address : '',
    firstName: sanitiseValue(o.profile?.FirstName),
    lastName: sanitiseValue(o.profile?.LastName),
    accountNumber: sanitiseValue(o.profile?.AccountNumber),
    isRepeatContact: o.repeat.isRepeat ? 'true' : 'false',
    lastContactAt: o.repeat.lastContactAt,
    contactRecordStatus: o.recordStatus,
    degraded: o.degraded ? 'true' : 'false',
  };
  let used = 2;
  for (const [k, v] of Object.entries(core)) used += jsonBytes(k, v);
  return { ...core, ...readMapped(o.profile, mapping, MAX_ANSWER_BYTES - used) };
}
