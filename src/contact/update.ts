import { createHash } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/max';
import type { SharedState } from '../cache/index.js';
import type { CachedLookup } from '../cache/profile-cache.js';
import { updateAnswer, updateSummary, type Answer, type ProfileSummary } from '../domain/answer.js';
import { normaliseEmail, normalisePhone, type Identity } from '../domain/identity.js';
import { identityKey } from '../domain/keys.js';
import type { AttributeMapping } from '../domain/mapping.js';
import { InvalidUpdate, parseProfileUpdate, updatedFieldNames, type ProfileUpdate } from '../domain/profile-update.js';
import { InvalidEventError } from '../errors.js';
import { EMAIL_FIELDS, PHONE_FIELDS } from '../domain/profile.js';
import type { UpdateJob } from '../records/job.js';
import type { RecordQueue } from '../records/queue.js';
import { withinDeadline } from './deadline.js';
import type { ContactEvent } from './event.js';
import { callerKeys } from './identify.js';

export type UpdateStatus = 'QUEUED' | 'FAILED' | 'NO_PROFILE';

export interface UpdaterDeps extends Pick<SharedState, 'keys' | 'cache' | 'readContact' | 'idempotency'> {
  mapping: AttributeMapping;
  defaultCountry: CountryCode;
  records: RecordQueue;
  now?: () => number;
}

export interface Updated {
  answer: Answer;
  status: UpdateStatus;
  /** the names of the fields set or cleared, for the log (never their values) */
  fields: string[];
}

const IDENTITY_FIELDS = [...PHONE_FIELDS, ...EMAIL_FIELDS] as const;

/**
 * The update use case: validate the `profile.*` parameters (nothing is queued for a bad one), find the
 * profile (the `profileId` parameter, or the one this ContactId was resolved to), queue the update
 * durably beside the contact records (the same per-profile pacing), and bring the caller's cached
 * lookup up to date at once, so the next resolve, on any replica, reads what was written.
 */
export class ProfileUpdater {
  private readonly now: () => number;

  constructor(private readonly deps: UpdaterDeps) {
    this.now = deps.now ?? Date.now;
  }

  async update(event: ContactEvent, signal: AbortSignal): Promise<Updated> {
    const region = (event.parameters.countryCode as CountryCode | undefined) ?? this.deps.defaultCountry;
    let update: ProfileUpdate | undefined;
    try {
      update = parseProfileUpdate(event.update, region);
    } catch (err) {
      if (err instanceof InvalidUpdate) throw new InvalidEventError('Details.Parameters', `key ${JSON.stringify(err.parameter)}: ${err.message}`);
      throw err;
    }
    if (!update) throw new InvalidEventError('Details.Parameters', 'operation "update" needs at least one profile.<Field> parameter');
    const fields = updatedFieldNames(update);

    const found = callerKeys(event, region);
    const at = found ? this.deps.keys.lookupKey(found.keys) : undefined;
    const profileId = event.parameters.profileId ?? (at ? await this.resolvedProfile(at.tag, at.variant, event.contactId, signal) : undefined);
    if (!profileId) return { answer: { updateStatus: 'NO_PROFILE', profileId: '', updatedFields: fields.join(',') }, status: 'NO_PROFILE', fields };

    const job: UpdateJob = {
      kind: 'update',
      contactId: event.contactId,
      updateId: createHash('sha256').update(`${profileId}|${JSON.stringify(sortedUpdate(update))}`).digest('base64url').slice(0, 16),
      profileId,
      identityTag: at?.tag ?? '',
      receivedAt: new Date(this.now()).toISOString(),
      update,
    };
    const status = await withinDeadline(this.deps.records.enqueue(job), signal).catch(() => 'FAILED' as const);
    if (status === 'QUEUED' && at && found) {
      await withinDeadline(this.readYourWrites(at, found.keys.identity, event.contactId, profileId, update), signal).catch(() => undefined);
    }
    return { answer: { updateStatus: status, profileId, updatedFields: fields.join(',') }, status, fields };
  }

  /** The profile the kept answer of this ContactId names: for these keys, else for the phone or e-mail alone. */
  private async resolvedProfile(tag: string, variant: string, contactId: string, signal: AbortSignal): Promise<string | undefined> {
    for (const v of variant === '' ? [''] : [variant, '']) {
      const { earlier } = await withinDeadline(this.deps.readContact(tag, v, contactId), signal).catch(() => ({ earlier: undefined }));
      if (earlier?.profileId) return earlier.profileId;
    }
    return undefined;
  }

  /**
   * Brings what this service keeps of the caller up to date with the update: the cached lookups of this
   * profile (the identity alone, and these keys) and this contact's kept answers (a Connect retry, or a
   * resolve later in the contact, reads the new values). When the update gives the profile a phone
   * number or e-mail address, the profile is cached under it at once; when it may have taken the
   * caller's own away (any phone or e-mail field changed), the lookup by it is dropped: the next one
   * searches. The repeat-contact history is kept by profile id: a new number does not reset it.
   */
  private async readYourWrites(
    at: { tag: string; variant: string },
    identity: Identity | undefined,
    contactId: string,
    profileId: string,
    update: ProfileUpdate,
  ): Promise<void> {
    const movesIdentity = IDENTITY_FIELDS.some((f) => update[f] !== undefined);
    let summary: ProfileSummary | undefined;
    for (const variant of new Set(['', at.variant])) {
      const { earlier, cached } = await this.deps.readContact(at.tag, variant, contactId);
      if (earlier?.profileId === profileId) await this.deps.idempotency.put(at.tag, contactId, updateAnswer(earlier, update, this.deps.mapping), variant);
      if (cached?.summary?.profileId !== profileId) continue;
      summary = updateSummary(cached.summary, update, this.deps.mapping);
      if (movesIdentity && variant === '') await this.deps.cache.delete(at.tag, variant);
      else await this.deps.cache.set(at.tag, { ...cached, summary }, variant);
    }
    if (!summary) return;
    for (const f of IDENTITY_FIELDS) {
      const value = update[f];
      // the values are normalised already (E.164, lower-case): the region does not matter here
      const id = value ? ((PHONE_FIELDS as readonly string[]).includes(f) ? normalisePhone(value, 'US') : normaliseEmail(value)) : undefined;
      if (!id || (identity && this.deps.keys.identityTag(identity) === this.deps.keys.identityTag(id))) continue;
      const entry: CachedLookup = { status: 'KNOWN', matchCount: 1, summary, matchedBy: [identityKey(id)], verification: 'NOT_CHECKED', cachedAt: this.now() };
      await this.deps.cache.set(this.deps.keys.identityTag(id), entry);
    }
  }
}

/** The update with its keys in order: the same update always has the same digest. */
function sortedUpdate(update: ProfileUpdate): unknown {
  const sort = (o: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, typeof o[k] === 'object' && o[k] !== null ? sort(o[k] as Record<string, unknown>) : o[k]]),
    );
  return sort(update);
}
