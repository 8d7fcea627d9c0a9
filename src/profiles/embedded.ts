import { randomBytes } from 'node:crypto';
import type { Identity } from '../contact/identity.js';
import { PROFILE_SOURCE, type CreateContext, type Profile, type ProfileStore } from './profile.js';

const PHONE_FIELDS = ['PhoneNumber', 'MobilePhoneNumber', 'HomePhoneNumber', 'BusinessPhoneNumber'] as const;
const EMAIL_FIELDS = ['EmailAddress', 'PersonalEmailAddress', 'BusinessEmailAddress'] as const;

/**
 * An in-process profile store for local runs without an AWS account. It searches the way
 * Customer Profiles does (`_phone` / `_email` match stored strings exactly), so the legacy
 * spellings behave the same here as in a real domain.
 */
export class EmbeddedProfileStore implements ProfileStore {
  readonly kind = 'embedded';
  private readonly profiles = new Map<string, Profile>();

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
}
