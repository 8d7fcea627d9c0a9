import type { CountryCode } from 'libphonenumber-js/max';
import type { IdempotencyStore } from '../cache/idempotency.js';
import { chooseProfile, ProfileStoreError, type Profile, type ProfileStore, type StoreFailure } from '../profiles/profile.js';
import { buildAnswer, type Answer, type CustomerStatus, type Outcome } from './answer.js';
import type { ContactEvent } from './event.js';
import { identify, type IdentitySource } from './identify.js';
import type { Identity } from './identity.js';
import type { AttributeMapping } from './mapping.js';
import type { RecentContacts } from './recent-contacts.js';
import { SingleFlight } from './single-flight.js';

export interface ResolverDeps {
  store: ProfileStore;
  recentContacts: RecentContacts;
  idempotency: IdempotencyStore;
  mapping: AttributeMapping;
  defaultCountry: CountryCode;
  createProfiles: boolean;
  now?: () => number;
}

/** What happened, for the request log and metrics; the answer is what the flow gets. */
export interface Resolved {
  answer: Answer;
  status: CustomerStatus;
  identitySource: IdentitySource | undefined;
  failure: StoreFailure | undefined;
  /** the answer was the one already given to this ContactId */
  replayed: boolean;
}

class DeadlineExceeded extends Error {}

/** Settles with the promise, or rejects as soon as the signal aborts, whichever comes first. */
function withinDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DeadlineExceeded());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DeadlineExceeded());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

const NO_REPEAT = { isRepeat: false, lastContactAt: '' };

/** The resolve use case: identify the caller, look up or create the profile, answer the flow. */
export class ContactResolver {
  private readonly creating = new SingleFlight<string, Profile>();
  private readonly now: () => number;

  constructor(private readonly deps: ResolverDeps) {
    this.now = deps.now ?? Date.now;
  }

  async resolve(event: ContactEvent, signal: AbortSignal): Promise<Resolved> {
    const earlier = await this.deps.idempotency.get(event.contactId);
    if (earlier) {
      const status = earlier.customerStatus as CustomerStatus;
      return { answer: earlier, status, identitySource: undefined, failure: undefined, replayed: true };
    }
    const resolved = await this.resolveAfresh(event, signal);
    // A fallback is not kept: a retry deserves a fresh attempt.
    if (resolved.answer.degraded !== 'true') await this.deps.idempotency.put(event.contactId, resolved.answer);
    return resolved;
  }

  private async resolveAfresh(event: ContactEvent, signal: AbortSignal): Promise<Resolved> {
    const region = (event.parameters.countryCode as CountryCode | undefined) ?? this.deps.defaultCountry;
    const found = identify(event, region);
    if (!found) return this.finish(this.empty('ANONYMOUS', undefined), undefined, undefined);
    const { identity, source } = found;
    try {
      const lookup = await withinDeadline(this.lookUpOrCreate(event, identity, signal), signal);
      const repeat = lookup.profile
        ? await withinDeadline(this.deps.recentContacts.record(lookup.profile.ProfileId, event.initialContactId, this.now()), signal)
        : NO_REPEAT;
      return this.finish({ ...lookup, identity, degraded: false, repeat, recordStatus: 'SKIPPED' }, source, undefined);
    } catch (err) {
      const failure: StoreFailure =
        err instanceof DeadlineExceeded ? 'timeout' : err instanceof ProfileStoreError ? err.failure : 'unavailable';
      return this.finish({ ...this.empty('UNAVAILABLE', identity), degraded: true }, source, failure);
    }
  }

  private async lookUpOrCreate(
    event: ContactEvent,
    identity: Identity,
    signal: AbortSignal,
  ): Promise<Pick<Outcome, 'status' | 'profile' | 'matchCount'>> {
    const matches = await this.deps.store.search(identity, signal);
    if (matches.length === 1) return { status: 'KNOWN', profile: matches[0], matchCount: 1 };
    if (matches.length > 1) return { status: 'MULTIPLE', profile: chooseProfile(matches, identity), matchCount: matches.length };
    if (!(event.parameters.createProfile ?? this.deps.createProfiles)) return { status: 'NOT_FOUND', profile: undefined, matchCount: 0 };
    // Simultaneous contacts from one new caller on this replica share one creation.
    const key = identity.type === 'PHONE' ? identity.e164 : identity.address;
    const profile = await this.creating.run(key, () => this.deps.store.create(identity, { contactId: event.contactId }, signal));
    return { status: 'NEW', profile, matchCount: 0 };
  }

  private empty(status: CustomerStatus, identity: Identity | undefined): Outcome {
    return { status, identity, profile: undefined, matchCount: 0, degraded: false, repeat: NO_REPEAT, recordStatus: 'SKIPPED' };
  }

  private finish(outcome: Outcome, identitySource: IdentitySource | undefined, failure: StoreFailure | undefined): Resolved {
    return { answer: buildAnswer(outcome, this.deps.mapping), status: outcome.status, identitySource, failure, replayed: false };
  }
}
