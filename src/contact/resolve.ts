import type { CountryCode } from 'libphonenumber-js/max';
import type { SharedState } from '../cache/index.js';
import type { CachedLookup } from '../cache/profile-cache.js';
import { NO_REPEAT } from '../cache/recent-contacts.js';
import type { RecordJob } from '../records/job.js';
import type { RecordQueue } from '../records/queue.js';
import { chooseProfile, ProfileStoreError, type ProfileStore, type StoreFailure } from '../profiles/profile.js';
import { buildAnswer, summarise, type Answer, type CustomerStatus, type Outcome, type ProfileSummary } from '../domain/answer.js';
import type { ContactEvent } from './event.js';
import { identify, type IdentitySource } from './identify.js';
import type { Identity } from '../domain/identity.js';
import type { AttributeMapping } from '../domain/mapping.js';
import { SingleFlight } from './single-flight.js';

export interface ResolverDeps extends Omit<SharedState, 'health'> {
  store: ProfileStore;
  mapping: AttributeMapping;
  defaultCountry: CountryCode;
  createProfiles: boolean;
  cacheTtl: { ttlMs: number; notFoundTtlMs: number; staleMaxAgeMs: number };
  /** where contact records go (written off the hot path) */
  records: RecordQueue;
  /** contact attributes copied into each record */
  recordAttributes: readonly string[];
  /** told how each cache lookup went (metrics) */
  onCacheLookup?: (result: 'hit' | 'stale' | 'miss') => void;
  /** epoch ms; tests move time */
  now?: () => number;
}

/** How the answer was reached, for the request log and metrics; the answer is what the flow gets. */
export type Source = 'idempotent' | 'cache' | 'stale-cache' | 'customer-profiles' | 'none';

export interface Resolved {
  answer: Answer;
  status: CustomerStatus;
  identitySource: IdentitySource | undefined;
  failure: StoreFailure | undefined;
  source: Source;
}

class DeadlineExceeded extends Error {}

// One promise per request that rejects when its deadline passes, raced by each of the request's awaits
// (one abort listener a request, not one per await: EventTarget listeners are not cheap in Node).
const deadlines = new WeakMap<AbortSignal, Promise<never>>();

function deadlineOf(signal: AbortSignal): Promise<never> {
  let deadline = deadlines.get(signal);
  if (!deadline) {
    deadline = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new DeadlineExceeded());
      else signal.addEventListener('abort', () => reject(new DeadlineExceeded()), { once: true });
    });
    deadline.catch(() => undefined); // a deadline that passes after the answer is nobody's error
    deadlines.set(signal, deadline);
  }
  return deadline;
}

/** Settles with the promise, or rejects as soon as the signal aborts, whichever comes first. */
function withinDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return Promise.race([promise, deadlineOf(signal)]);
}

type Lookup = Pick<Outcome, 'status' | 'summary' | 'matchCount'>;

/**
 * The resolve use case: identify the caller; answer a retried ContactId as before; else look the
 * caller up (cache, then Customer Profiles) or create the profile once; answer the flow.
 */
export class ContactResolver {
  private readonly creating = new SingleFlight<string, ProfileSummary>();
  private readonly now: () => number;

  constructor(private readonly deps: ResolverDeps) {
    this.now = deps.now ?? Date.now;
  }

  async resolve(event: ContactEvent, signal: AbortSignal): Promise<Resolved> {
    const region = (event.parameters.countryCode as CountryCode | undefined) ?? this.deps.defaultCountry;
    const found = identify(event, region);
    // No identity: nothing to look up, create or remember; the same event always answers the same.
    if (!found) return this.finish(this.outcome('ANONYMOUS', undefined), undefined, undefined, 'none');

    const { identity, source: identitySource } = found;
    const tag = this.deps.keys.identityTag(identity);
    // Both reads in one command (the same hash tag, so one slot even on a cluster).
    const { earlier, cached } = await withinDeadline(this.deps.readContact(tag, event.contactId), signal).catch(() => ({ earlier: undefined, cached: undefined }));
    if (earlier) {
      return { answer: earlier, status: earlier.customerStatus as CustomerStatus, identitySource, failure: undefined, source: 'idempotent' };
    }
    const resolved = await this.resolveAfresh(event, identity, identitySource, tag, cached, signal);
    // A fallback is not kept: a retry deserves a fresh attempt. Not awaited: a Connect retry comes
    // seconds later, and the answer need not wait for Redis (failures are counted by the store).
    if (resolved.answer.degraded !== 'true') void this.deps.idempotency.put(tag, event.contactId, resolved.answer);
    return resolved;
  }

  private async resolveAfresh(
    event: ContactEvent,
    identity: Identity,
    identitySource: IdentitySource,
    tag: string,
    cached: CachedLookup | undefined,
    signal: AbortSignal,
  ): Promise<Resolved> {
    const createAllowed = event.parameters.createProfile ?? this.deps.createProfiles;
    const age = cached ? this.now() - cached.cachedAt : Infinity;
    const freshFor = cached?.status === 'NOT_FOUND' ? this.deps.cacheTtl.notFoundTtlMs : this.deps.cacheTtl.ttlMs;
    // A cached "no profile" does not stop a contact that may create one.
    const usable = cached && !(cached.status === 'NOT_FOUND' && createAllowed);
    const fresh = usable && age < freshFor;

    let lookup: Lookup;
    let source: Source;
    let failure: StoreFailure | undefined;
    let degraded = false;
    this.deps.onCacheLookup?.(fresh ? 'hit' : usable ? 'stale' : 'miss');
    if (fresh) {
      lookup = fromCache(cached);
      source = 'cache';
    } else {
      try {
        lookup = await withinDeadline(this.lookUpOrCreate(event, identity, tag, createAllowed, signal), signal);
        source = 'customer-profiles';
      } catch (err) {
        failure = err instanceof DeadlineExceeded ? 'timeout' : err instanceof ProfileStoreError ? err.failure : 'unavailable';
        // live lookups come first: record writes step back while Customer Profiles throttles us
        if (failure === 'throttled') this.deps.records.yieldTo(5000);
        if (!(usable && age < this.deps.cacheTtl.staleMaxAgeMs)) {
          return this.finish({ ...this.outcome('UNAVAILABLE', identity), degraded: true }, identitySource, failure, 'none');
        }
        // stale-if-error: the last known answer, marked degraded
        lookup = fromCache(cached);
        source = 'stale-cache';
        degraded = true;
      }
    }
    const summary = lookup.summary;
    if (!summary) return this.finish({ ...lookup, identity, degraded, repeat: NO_REPEAT, recordStatus: 'SKIPPED' }, identitySource, failure, source);
    const [repeat, recordStatus] = await Promise.all([
      withinDeadline(this.deps.recentContacts.record(summary.profileId, event.initialContactId, this.now()), signal).catch(() => NO_REPEAT),
      withinDeadline(this.deps.records.enqueue(this.recordOf(event, identity, tag, summary.profileId, lookup.status)), signal).catch(
        () => 'FAILED' as const,
      ),
    ]);
    return this.finish({ ...lookup, identity, degraded, repeat, recordStatus }, identitySource, failure, source);
  }

  private recordOf(event: ContactEvent, identity: Identity, identityTag: string, profileId: string, status: CustomerStatus): RecordJob {
    const attributes: Record<string, string> = {};
    for (const name of this.deps.recordAttributes) {
      const value = Object.hasOwn(event.attributes, name) ? event.attributes[name] : undefined;
      if (value !== undefined) attributes[name] = value;
    }
    return {
      contactId: event.contactId,
      initialContactId: event.initialContactId,
      previousContactId: event.previousContactId,
      channel: event.channel,
      initiationMethod: event.initiationMethod,
      instanceArn: event.instanceArn,
      queueName: event.queueName,
      systemEndpoint: event.systemEndpoint?.address ?? '',
      identityType: identity.type,
      identity: identity.type === 'PHONE' ? identity.e164 : identity.address,
      identityTag,
      profileId,
      customerStatus: status,
      receivedAt: new Date(this.now()).toISOString(),
      attributes,
    };
  }

  private async lookUpOrCreate(
    event: ContactEvent,
    identity: Identity,
    tag: string,
    createAllowed: boolean,
    signal: AbortSignal,
  ): Promise<Lookup> {
    const matches = await this.deps.store.search(identity, signal);
    if (matches.length > 0 || !createAllowed) {
      const chosen = chooseProfile(matches, identity);
      const lookup: CachedLookup = {
        status: matches.length === 0 ? 'NOT_FOUND' : matches.length === 1 ? 'KNOWN' : 'MULTIPLE',
        matchCount: matches.length,
        summary: chosen && summarise(chosen, this.deps.mapping),
        cachedAt: this.now(),
      };
      // Not awaited: the contact's own writes follow on the same connection, and a failed cache write
      // only means the next contact searches again (counted by the cache's `safely`).
      void this.deps.cache.set(tag, lookup);
      return fromCache(lookup);
    }
    // Every contact that found no profile answers NEW with the one profile created for the caller:
    // on this replica through the single-flight, across the fleet through the Redis lock.
    const summary = await this.creating.run(tag, () =>
      this.deps.createOnce.run(tag, signal, async (previousAttemptUnfinished) => {
        if (previousAttemptUnfinished) {
          // an earlier creator died or timed out mid-way: its profile may exist already
          const again = await this.deps.store.search(identity, signal);
          const chosen = chooseProfile(again, identity);
          if (chosen) return summarise(chosen, this.deps.mapping);
        }
        const created = await this.deps.store.create(identity, { contactId: event.contactId }, signal);
        return summarise(created, this.deps.mapping);
      }),
    );
    return { status: 'NEW', summary, matchCount: 0 };
  }

  private outcome(status: CustomerStatus, identity: Identity | undefined): Outcome {
    return { status, identity, summary: undefined, matchCount: 0, degraded: false, repeat: NO_REPEAT, recordStatus: 'SKIPPED' };
  }

  private finish(outcome: Outcome, identitySource: IdentitySource | undefined, failure: StoreFailure | undefined, source: Source): Resolved {
    return { answer: buildAnswer(outcome, this.deps.mapping), status: outcome.status, identitySource, failure, source };
  }
}

function fromCache(c: CachedLookup): Lookup {
  return { status: c.status, summary: c.summary, matchCount: c.matchCount };
}
