import { randomBytes } from 'node:crypto';
import type { Identity } from '../domain/identity.js';
import { recordObject, type RecordJob } from '../records/job.js';
import { RecordError } from '../records/errors.js';
import type { RecordTarget } from '../records/writer.js';
import { PROFILE_SOURCE, type Profile } from '../domain/profile.js';
import type { CreateContext, ProfileStore } from './profile.js';

const PHONE_FIELDS = ['PhoneNumber', 'MobilePhoneNumber', 'HomePhoneNumber', 'BusinessPhoneNumber'] as const;
const EMAIL_FIELDS = ['EmailAddress', 'PersonalEmailAddress', 'BusinessEmailAddress'] as const;

/**
 * An in-process profile store for local runs without an AWS account. It searches the way
 * Customer Profiles does (`_phone` / `_email` match stored strings exactly), so the legacy
 * spellings behave the same here as in a real domain.
 */
export class EmbeddedProfileStore implements ProfileStore, RecordTarget {
  readonly kind = 'embedded';
  private readonly profiles = new Map<string, Profile>();
  /** contact-record objects by ContactId (the unique key), and `_ctrContactId` keys by profile */
  readonly records = new Map<string, Record<string, unknown>>();
  readonly contactKeys = new Map<string, Set<string>>();

  constructor(seed: readonly Profile[] = []) {
    for (const p of seed) this.profiles.set(p.ProfileId, structuredClone(p));
  }

  search(identity: Identity, _signal: AbortSignal): Promise<Profile[]> {
    const fields = identity.type === 'PHONE' ? PHONE_FIELDS : EMAIL_FIELDS;
    const values = new Set(identity.searchValues);
    const found: Profile[] = [];
    for (const p of this.profiles.values()) {
      if (fields.some((f) => p[f] !== undefined && values.has(p[f]))) found.push(structuredClone(p));
    }
    return Promise.resolve(found);
  }

  create(identity: Identity, context: CreateContext, _signal: AbortSignal): Promise<Profile> {
    const profile: Profile = {
      ProfileId: randomBytes(16).toString('hex'),
      PartyTypeString: 'INDIVIDUAL',
      ...(identity.type === 'PHONE' ? { PhoneNumber: identity.e164 } : { EmailAddress: identity.address }),
      Attributes: { createdBy: PROFILE_SOURCE, createdFromContactId: context.contactId },
    };
    this.profiles.set(profile.ProfileId, profile);
    return Promise.resolve(structuredClone(profile));
  }

  addContactKey(job: RecordJob): Promise<void> {
    if (!this.profiles.has(job.profileId)) return Promise.reject(new RecordError('permanent', 'AddProfileKey: no such profile'));
    const keys = this.contactKeys.get(job.profileId) ?? new Set<string>();
    keys.add(job.contactId);
    this.contactKeys.set(job.profileId, keys);
    return Promise.resolve();
  }

  putRecord(job: RecordJob): Promise<void> {
    if (!this.profiles.has(job.profileId)) return Promise.reject(new RecordError('permanent', 'PutProfileObject: no such profile'));
    this.records.set(job.contactId, recordObject(job));
    return Promise.resolve();
  }
}
