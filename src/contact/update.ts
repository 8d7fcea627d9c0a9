import { randomBytes } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/max';
import type { SharedState } from '../cache/index.js';
import { updateAnswer, updateSummary, type Answer } from '../domain/answer.js';
import { normaliseEmail, normalisePhone, type Identity } from '../domain/identity.js';
import type { AttributeMapping } from '../domain/mapping.js';
import { InvalidUpdate, parseProfileUpdate, updatedFieldNames, type ProfileUpdate } from '../domain/profile-update.js';
import { InvalidEventError } from '../errors.js';
import { EMAIL_FIELDS, PHONE_FIELDS } from '../domain/profile.js';
import type { UpdateJob } from '../records/job.js';
import type { RecordQueue } from '../records/queue.js';
import { withinDeadline } from './deadline.js';
import type { ContactEvent } from './event.js';
import { callerKeys } from './identify.js';

export type UpdateStatus = 'QUEUED' | 'FAILED' | 'NO_PROFILE' | 'NOT_VERIFIED';

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

    // The caller's keys as the resolve call had them: a profileId given here names the profile to
    // update, it is not one of the lookup's keys.
    const found = callerKeys({ ...event, parameters: { ...event.parameters, profileId: undefined } }, region);
    const at = found ? this.deps.keys.lookupKey(found.keys) : undefined;
    const resolved = event.parameters.profileId ? { profileId: event.parameters.profileId } : at ? await this.resolvedProfile(at.tag, at.variant, event.contactId, found?.keys.identity, signal) : undefined;
    const answer = (status: UpdateStatus, profileId = '') => ({ answer: { updateStatus: status, profileId, updatedFields: fields.join(',') }, status, fields });
    if (!resolved) return answer('NO_PROFILE');
    // a profile the caller did not prove to be theirs (ID&V failed) is not theirs to write to
    if (resolved.verification === 'MISMATCH') return answer('NOT_VERIFIED', resolved.profileId);
    const { profileId } = resolved;
    const tag = at?.tag ?? '';

    // A Connect retry of the same update (the same digest as this contact's last) is not queued again;
    // A, then B, then A again are three updates. The digest is keyed: no value can be guessed from it.
    const digest = this.deps.keys.digest(`${profileId}|${JSON.stringify(sortedUpdate(update))}`).slice(0, 16);
    const previous = await withinDeadline(this.deps.idempotency.swapLastUpdate(tag, event.contactId, digest), signal).catch(() => undefined);
    if (previous === digest) return answer('QUEUED', profileId);

    const job: UpdateJob = {
      kind: 'update',
      contactId: event.contactId,
      updateId: `${digest}.${randomBytes(6).toString('base64url')}`,
      profileId,
      identityTag: tag,
      receivedAt: new Date(this.now()).toISOString(),
      update,
    };
    const status = await withinDeadline(this.deps.records.enqueue(job), signal).catch(() => 'FAILED' as const);
    // not queued: a retry of it must try again, not be taken for a retry of a queued one
    if (status !== 'QUEUED') await this.deps.idempotency.swapLastUpdate(tag, event.contactId, previous ?? '').catch(() => undefined);
    if (status === 'QUEUED' && at) {
      await withinDeadline(this.readYourWrites(at, found?.keys.identity, event.contactId, profileId, update), signal).catch(() => undefined);
    }
    return answer(status, profileId);
  }

  /** The profile the kept answer of this ContactId names, and how it was verified: for these keys, else for the phone or e-mail alone. */
  private async resolvedProfile(
    tag: string,
    variant: string,
    contactId: string,
    identity: Identity | undefined,
    signal: AbortSignal,
  ): Promise<{ profileId: string; verification?: string } | undefined> {
    for (const v of variant === '' ? [''] : [variant, '']) {
      const { earlier } = await withinDeadline(this.deps.readContact(tag, v, contactId, identity), signal).catch(() => ({ earlier: undefined }));
      if (earlier?.profileId) return { profileId: earlier.profileId, ...(earlier.verification !== undefined && { verification: earlier.verification }) };
    }
    return undefined;
  }

  /**
   * Brings what this service keeps of the caller up to date with the update, in the same step: the
   * cached lookups of this profile (the identity alone, and these keys), fresh again from now, and
   * this contact's kept answers (a Connect retry, or a resolve later in the contact, reads the new
   * values). A phone number or e-mail address the update gives the profile is another caller's key
   * too, perhaps: its cached lookups are dropped, not guessed (the next call from it searches). The
   * repeat-contact history is kept by profile id: a new number does not reset it.
   */
  private async readYourWrites(
    at: { tag: string; variant: string },
    identity: Identity | undefined,
    contactId: string,
    profileId: string,
    update: ProfileUpdate,
  ): Promise<void> {
    for (const variant of new Set(['', at.variant])) {
      const { earlier, cached } = await this.deps.readContact(at.tag, variant, contactId, identity);
      if (earlier?.profileId === profileId) await this.deps.idempotency.put(at.tag, contactId, updateAnswer(earlier, update, this.deps.mapping), variant);
      if (cached?.summary?.profileId !== profileId) continue;
      await this.deps.cache.set(at.tag, { ...cached, summary: updateSummary(cached.summary, update, this.deps.mapping), cachedAt: this.now() }, variant);
    }
    for (const f of IDENTITY_FIELDS) {
      const value = update[f];
      // the values are normalised already (E.164, lower-case): the region does not matter here
      const id = value ? ((PHONE_FIELDS as readonly string[]).includes(f) ? normalisePhone(value, 'US') : normaliseEmail(value)) : undefined;
      const tag = id && this.deps.keys.identityTag(id);
      if (tag && tag !== at.tag) await this.deps.cache.delete(tag);
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
