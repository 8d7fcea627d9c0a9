import { randomBytes } from 'node:crypto';
import type { Identity } from '../domain/identity.js';
import { STANDARD_KEYS, type MatchMode, type SearchKey } from '../domain/keys.js';
import { latestObject, type EnrichmentCall, type EnrichmentResult } from '../domain/mapping.js';
import type { HistoryRecord } from '../domain/history.js';
import { recordObject, type RecordJob, type UpdateJob } from '../records/job.js';
import { applyUpdate } from '../domain/profile-update.js';
import { RecordError } from '../records/errors.js';
import type { RecordTarget } from '../records/writer.js';
import { EMAIL_FIELDS, PHONE_FIELDS, PROFILE_SOURCE, type Profile, type ProfileSeed } from '../domain/profile.js';
import type { CreateContext, Match, ProfileStore } from './profile.js';

// The profile fields Customer Profiles' standard search keys read.
const KEY_FIELDS: Record<string, readonly (keyof Profile)[]> = {
  [STANDARD_KEYS.phone]: PHONE_FIELDS,
  [STANDARD_KEYS.email]: EMAIL_FIELDS,
  [STANDARD_KEYS.account]: ['AccountNumber'],
  [STANDARD_KEYS.profileId]: ['ProfileId'],
};

type Extras = Required<Omit<ProfileSeed, keyof Profile>>;

/**
 * An in-process profile store for local runs without an AWS account. It searches the way
 * Customer Profiles does (`_phone` / `_email` match stored strings exactly), so the legacy
 * spellings behave the same here as in a real domain.
 */
export class EmbeddedProfileStore implements ProfileStore, RecordTarget {
  readonly kind = 'embedded';
  private readonly profiles = new Map<string, Profile>();
  private readonly extras = new Map<string, Extras>();
  /** contact-record objects by ContactId (the unique key), and `_ctrContactId` keys by profile */
  readonly records = new Map<string, Record<string, unknown>>();
  readonly contactKeys = new Map<string, Set<string>>();

  constructor(seed: readonly ProfileSeed[] = []) {
    for (const s of seed) {
      const { searchKeys = {}, calculatedAttributes = {}, objects = {}, segments = [], ...profile } = structuredClone(s);
      this.profiles.set(profile.ProfileId, profile);
      this.extras.set(profile.ProfileId, { searchKeys, calculatedAttributes, objects, segments });
    }
  }

  private keyValues(p: Profile, name: string): string[] {
    const fromFields = (KEY_FIELDS[name] ?? []).map((f) => p[f]).filter((v): v is string => typeof v === 'string');
    const custom = this.extras.get(p.ProfileId)?.searchKeys;
    const contacts = name === '_ctrContactId' ? [...(this.contactKeys.get(p.ProfileId) ?? [])] : [];
    return [...fromFields, ...(custom && Object.hasOwn(custom, name) ? custom[name]! : []), ...contacts];
  }

  search(keys: readonly SearchKey[], mode: MatchMode, _signal: AbortSignal): Promise<Match[]> {
    const found: Match[] = [];
    for (const p of this.profiles.values()) {
      const stored = (name: string) => this.keyValues(p, name);
      const foundBy = keys.filter((k) => k.values.some((v) => stored(k.name).includes(v))).map((k) => k.name);
      if (mode === 'all' ? foundBy.length === keys.length : foundBy.length > 0) found.push({ profile: structuredClone(p), foundBy });
    }
    return Promise.resolve(found);
  }

  enrich(call: EnrichmentCall, profileId: string, _signal: AbortSignal): Promise<EnrichmentResult> {
    const extras = this.extras.get(profileId);
    switch (call.kind) {
      case 'calculated':
        // the seed's values are whole (never partial); it keeps no computation times: "as of" is not known
        return Promise.resolve(Object.fromEntries(Object.entries(extras?.calculatedAttributes ?? {}).map(([name, value]) => [name, { value, partial: false }])));
      case 'object': {
        const all = extras && Object.hasOwn(extras.objects, call.objectType) ? extras.objects[call.objectType]! : [];
        const where = call.where;
        const chosen = all.filter((o) => !where || where.values.includes(String(o[where.key])));
        return Promise.resolve(latestObject(chosen.map((object, i) => ({ uniqueKey: String(i), object })), call.latestBy));
      }
      case 'segment':
        // membership as seeded, with no computation time
        return Promise.resolve({ member: extras?.segments.includes(call.segment) ?? false });
    }
  }

  /** Local runs keep no history: nothing changed lately (every signal 'false'). */
  history(_profileId: string, _sinceMs: number, _signal: AbortSignal): Promise<HistoryRecord[]> {
    return Promise.resolve([]);
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

  updateProfile(job: UpdateJob): Promise<void> {
    const profile = this.profiles.get(job.profileId);
    if (!profile) return Promise.reject(new RecordError('permanent', 'UpdateProfile: no such profile'));
    this.profiles.set(job.profileId, applyUpdate(profile, job.update));
    return Promise.resolve();
  }

  putRecord(job: RecordJob): Promise<void> {
    if (!this.profiles.has(job.profileId)) return Promise.reject(new RecordError('permanent', 'PutProfileObject: no such profile'));
    this.records.set(job.contactId, recordObject(job));
    return Promise.resolve();
  }
}
