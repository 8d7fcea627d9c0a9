import { randomBytes } from 'node:crypto';
import type { CountryCode } from 'libphonenumber-js/max';
import type { SharedState } from '../cache/index.js';
import type { LookupKey } from '../cache/keys.js';
import type { CachedLookup } from '../cache/profile-cache.js';
import { updateAnswer, updateSummary, type Answer, type Verification } from '../domain/answer.js';
import { normaliseEmail, normalisePhone } from '../domain/identity.js';
import { disclosesPersonal, isVerifying, type CallerKeys } from '../domain/keys.js';
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

export interface UpdaterDeps extends Pick<SharedState, 'keys' | 'cache' | 'readContact' | 'idempotency' | 'pendingUpdates'> {
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
 * profile this ContactId was resolved to and may write to (a `profileId` parameter must name that one),
 * note the update as pending on the profile, queue it durably beside the contact records (the same
 * per-profile pacing), and bring every cached lookup of the profile up to date at once, so the next
 * resolve, by any of its keys, on any replica, reads what was written: from a cached lookup, or from
 * Customer Profiles with the pending updates laid over it until the write lands.
 */
export class ProfileUpdater {
  private readonly now: () => number;

  constructor(private readonly deps: UpdaterDeps) {
    this.now = deps.now ?? Date.now;
  }

  async update(event: ContactEvent, signal: AbortSignal): Promise<Updated> {
    const region = (event.parameters.countryCode) ?? this.deps.defaultCountry;
    const update = this.parse(event.update, region);
    const fields = updatedFieldNames(update);
    const answer = (status: UpdateStatus, profileId = '') => ({ answer: { updateStatus: status, profileId, updatedFields: fields.join(',') }, status, fields });

    // Which profile: the one this contact's resolve answered, never one the parameters name (OWASP API1).
    const authorised = await this.authorisedProfile(event, region, signal);
    if ('refused' in authorised) return answer(authorised.refused);
    const { profileId, at, keys } = authorised;
    return this.queue(update, profileId, event.contactId, at, keys, signal).then((status) => answer(status, profileId));
  }

  /**
   * An update of any profile, by an operator (`POST /v1/admin/update`, behind ADMIN_TOKENS): the same
   * validation, the same durable queue and the same refresh of what is cached of the profile.
   * `requestId` takes the place of the ContactId (the job id, the retry check).
   */
  async adminUpdate(profileId: string, parameters: Readonly<Record<string, unknown>>, region: CountryCode, requestId: string, signal: AbortSignal): Promise<Updated> {
    const update = this.parse(parameters, region, 'body');
    const fields = updatedFieldNames(update);
    const status = await this.queue(update, profileId, requestId, undefined, undefined, signal);
    return { answer: { updateStatus: status, profileId, updatedFields: fields.join(',') }, status, fields };
  }

  /** `where`: the request part the fields came from, for the 400's message. */
  private parse(parameters: Readonly<Record<string, unknown>>, region: CountryCode, where = 'Details.Parameters'): ProfileUpdate {
    let update: ProfileUpdate | undefined;
    try {
      update = parseProfileUpdate(parameters, region);
    } catch (err) {
      if (err instanceof InvalidUpdate) throw new InvalidEventError(where, `key ${JSON.stringify(err.parameter)}: ${err.message}`);
      throw err;
    }
    if (!update) throw new InvalidEventError(where, 'an update needs at least one profile.<Field>');
    return update;
  }

  /**
   * The profile this contact may write to: the one the answer kept for its ContactId names (on any
   * replica), looked up as the resolve call was, with the update's keys. Refused: NO_PROFILE when the
   * contact was not resolved to a profile with these keys; NOT_VERIFIED when that resolve failed ID&V
   * (MISMATCH), when the update's keys ask for verification (two or more) and it was not VERIFIED, or
   * when the `profileId` parameter names another profile than the one resolved.
   */
  private async authorisedProfile(
    event: ContactEvent,
    region: CountryCode,
    signal: AbortSignal,
  ): Promise<{ refused: UpdateStatus } | { profileId: string; at: LookupKey; keys: CallerKeys }> {
    const named = event.parameters.profileId;
    // The keys as the resolve call had them: with the profileId as one of them (a flow that looked the
    // caller up by it), else without (it names the profile to update: `$.External.profileId`).
    const withNamed = named ? callerKeys(event, region) : undefined;
    const withoutNamed = callerKeys({ ...event, parameters: { ...event.parameters, profileId: undefined } }, region);
    const candidates: Array<{ keys: CallerKeys; variant?: '' }> = [];
    if (withNamed) candidates.push({ keys: withNamed.keys });
    if (withoutNamed) candidates.push({ keys: withoutNamed.keys }, { keys: withoutNamed.keys, variant: '' });
    for (const { keys, variant } of candidates) {
      const at = this.deps.keys.lookupKey(keys);
      if (variant !== undefined && at.variant === variant) continue; // the same lookup as the one before
      const lookup = { tag: at.tag, variant: variant ?? at.variant };
      const { earlier } = await withinDeadline(this.deps.readContact(lookup.tag, lookup.variant, event.contactId, keys), signal).catch(() => ({ earlier: undefined }));
      if (!earlier) continue;
      // Keys that ask for verification need a resolve that VERIFIED them all: the answer for the phone
      // or e-mail alone (the last candidate) proves nothing about the other keys the update gives.
      const verification = earlier.verification;
      if (verification === 'MISMATCH' || verification === 'LOCKED' || (isVerifying(keys) && verification !== 'VERIFIED')) return { refused: 'NOT_VERIFIED' };
      // A profile only claimed keys found (a withheld caller's typed account number), not verified: the
      // answer showed none of its personal values, and the contact may not write them either.
      const matchedBy = (earlier.matchedBy ?? '').split(',').filter((k) => k !== '');
      if (!disclosesPersonal({ status: earlier.customerStatus ?? '', verification: verification as Verification, matchedBy })) return { refused: 'NOT_VERIFIED' };
      const profileId = earlier.profileId ?? '';
      if (!profileId) return { refused: 'NO_PROFILE' };
      if (named && named !== profileId) return { refused: 'NOT_VERIFIED' };
      return { profileId, at: lookup, keys };
    }
    return { refused: 'NO_PROFILE' };
  }

  /** Queues the update once (a Connect retry of the same one is not queued again) and brings what is cached of the profile up to date. */
  private async queue(
    update: ProfileUpdate,
    profileId: string,
    contactId: string,
    at: LookupKey | undefined,
    keys: CallerKeys | undefined,
    signal: AbortSignal,
  ): Promise<UpdateStatus> {
    const tag = at?.tag ?? '';
    // A Connect retry of the same update (the same digest as this contact's last) is not queued again;
    // A, then B, then A again are three updates. The digest is keyed: no value can be guessed from it.
    const digest = this.deps.keys.digest(`${profileId}|${JSON.stringify(sortedUpdate(update))}`).slice(0, 16);
    const previous = await withinDeadline(this.deps.idempotency.swapLastUpdate(tag, contactId, digest), signal).catch(() => undefined);
    if (previous === digest) return 'QUEUED';

    const receivedAt = this.now();
    const job: UpdateJob = {
      kind: 'update',
      contactId,
      updateId: `${digest}.${randomBytes(6).toString('base64url')}`,
      profileId,
      identityTag: tag,
      receivedAt: new Date(receivedAt).toISOString(),
      update,
    };
    // Noted as pending before it is queued, so the writer's removal (once written) cannot come first
    // and leave it behind: a lookup that reads the profile fresh from Customer Profiles overlays it.
    await withinDeadline(this.deps.pendingUpdates.add(profileId, { updateId: job.updateId, receivedAt, update }), signal).catch(() => undefined);
    const status = await withinDeadline(this.deps.records.enqueue(job), signal).catch(() => 'FAILED' as const);
    if (status !== 'QUEUED') {
      // not queued: a retry of it must try again, not be taken for a retry of a queued one; nor is it pending
      await this.deps.idempotency.swapLastUpdate(tag, contactId, previous ?? '').catch(() => undefined);
      await this.deps.pendingUpdates.remove(profileId, job.updateId);
    }
    if (status === 'QUEUED') await withinDeadline(this.readYourWrites(at, keys, contactId, profileId, update), signal).catch(() => undefined);
    return status;
  }

  /**
   * Brings what this service keeps of the profile up to date with the update, in the same step: every
   * cached lookup of it, whoever's (the owner's phone, e-mail, account number: see
   * ProfileCache.refreshProfile), fresh again from now, and this contact's kept answers (a Connect
   * retry, or a resolve later in the contact, reads the new values). Updated, not dropped: the next
   * resolve must not search Customer Profiles before the queued write has reached it. A phone number or
   * e-mail address the update gives the profile is another caller's key too, perhaps: its cached
   * lookups are dropped, not guessed (the next call from it searches). The repeat-contact history is
   * kept by profile id: a new number does not reset it.
   */
  private async readYourWrites(
    at: LookupKey | undefined,
    keys: CallerKeys | undefined,
    contactId: string,
    profileId: string,
    update: ProfileUpdate,
  ): Promise<void> {
    const { cache, mapping } = this.deps;
    const now = this.now();
    const refreshed = (lookup: CachedLookup): CachedLookup => (lookup.summary ? { ...lookup, summary: updateSummary(lookup.summary, update, mapping), cachedAt: now } : lookup);
    await cache.refreshProfile(profileId, refreshed);
    for (const variant of at && keys ? new Set(['', at.variant]) : []) {
      const { earlier, cached } = await this.deps.readContact(at!.tag, variant, contactId, keys!);
      if (earlier?.profileId === profileId) await this.deps.idempotency.put(at!.tag, contactId, updateAnswer(earlier, update, mapping), variant);
      // a lookup cached before its profile's lookups were indexed
      if (cached?.summary?.profileId === profileId && cached.cachedAt !== now) await cache.set(at!.tag, refreshed(cached), variant);
    }
    for (const f of IDENTITY_FIELDS) {
      const value = update[f];
      // the values are normalised already (E.164, lower-case): the region does not matter here
      const id = value ? ((PHONE_FIELDS as readonly string[]).includes(f) ? normalisePhone(value, 'US') : normaliseEmail(value)) : undefined;
      const tag = id && this.deps.keys.identityTag(id);
      if (tag && tag !== at?.tag) await cache.delete(tag);
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
