import type { CountryCode } from 'libphonenumber-js/max';
import { LRUCache } from 'lru-cache';
import { completeRecord, type HitPlan, type HitWrites, type PartialRecord } from '../cache/contact-hit.js';
import type { AttemptSubject } from '../cache/attempts.js';
import type { ContactLeg } from '../cache/contact-legs.js';
import type { ContactReads, SharedState } from '../cache/index.js';
import type { KeptFrom } from '../cache/idempotency.js';
import type { LookupKey } from '../cache/keys.js';
import type { CachedLookup } from '../cache/profile-cache.js';
import { NO_REPEAT } from '../cache/recent-contacts.js';
import type { RecordQueue } from '../records/queue.js';
import { chooseProfile, ProfileStoreError, type Match, type ProfileStore, type StoreFailure } from '../profiles/profile.js';
import {
  buildAnswer,
  summarise,
  updateSummary,
  type Answer,
  type CustomerStatus,
  type FallbackReason,
  type Outcome,
  type ProfileSummary,
  type Risk,
  type Verification,
} from '../domain/answer.js';
import { riskSignals } from '../domain/risk.js';
import { sightingOf, type DuplicateSighting } from '../domain/duplicates.js';
import type { ContactEvent } from './event.js';
import { callerKeys, type IdentitySource } from './identify.js';
import { attaches, identityKey, isVerifying, mayCreateFrom, searchedByOf, searchKeysOf, STANDARD_KEYS, type CallerKeys } from '../domain/keys.js';
import type { AttributeMapping } from '../domain/mapping.js';
import { DeadlineExceeded, withinDeadline } from './deadline.js';
import { Enricher, NO_ENRICHMENT, type EnricherDeps, type Enrichment } from './enrich.js';
import { carries, earlierLegsOf, type LegKeys } from './legs.js';
import { SingleFlight } from './single-flight.js';

export interface ResolverDeps extends Omit<SharedState, 'health'> {
  store: ProfileStore;
  mapping: AttributeMapping;
  defaultCountry: CountryCode;
  createProfiles: boolean;
  cacheTtl: { ttlMs: number; notFoundTtlMs: number; staleMaxAgeMs: number; enrichmentTtlMs: number };
  /** how long a contact's resolution answers its later legs (CONTACT_LEG_WINDOW_SECONDS) */
  legWindowMs: number;
  /** how far back a verified answer's step-up signals read the profile's history (RISK_CHANGE_WINDOW_DAYS; 0: not read) */
  riskChangeWindowDays: number;
  /** where contact records go (written off the hot path) */
  records: RecordQueue;
  /** contact attributes copied into each record */
  recordAttributes: readonly string[];
  /** told how each cache lookup went (metrics) */
  onCacheLookup?: (result: 'hit' | 'stale' | 'miss') => void;
  /** told of each enrichment call (metrics) */
  onEnrichmentCall?: EnricherDeps['onCall'];
  /** told how each ID&V check (a contact with claimed keys) ended, and of each lockout it caused (metrics) */
  onVerification?: (result: VerificationResult) => void;
  onLockout?: (subject: AttemptSubject['kind'], contactId: string) => void;
  /** epoch ms; tests move time */
  now?: () => number;
}

/** How a contact with claimed keys (an ID&V check) ended: `failed` is a MISMATCH or keys that found nobody. */
export type VerificationResult = 'verified' | 'not_checked' | 'failed' | 'locked';

/** How the answer was reached, for the request log and metrics; the answer is what the flow gets. */
export type Source = 'idempotent' | 'cache' | 'stale-cache' | 'customer-profiles' | 'earlier-leg' | 'none';

export interface Resolved {
  answer: Answer;
  status: CustomerStatus;
  identitySource: IdentitySource | undefined;
  failure: StoreFailure | undefined;
  source: Source;
}

type Lookup = Pick<Outcome, 'status' | 'summary' | 'matchCount' | 'verification' | 'matchedBy'> & {
  /** the profile's pending updates could not be read: answered without them, and not cached */
  uncached?: true;
  /** a MULTIPLE lookup's matches and the key they share (see sightingOf) */
  duplicates?: DuplicateSighting | undefined;
};

/** Did the chosen profile match every key the contact gave? Only asked when it gave two or more. */
function verify(keys: CallerKeys, chosen: Match | undefined): Verification {
  if (!chosen || !isVerifying(keys)) return 'NOT_CHECKED';
  return searchKeysOf(keys).every((k) => chosen.foundBy.includes(k.name)) ? 'VERIFIED' : 'MISMATCH';
}

/**
 * The resolve use case, as a story: parse (the HTTP layer), identify the caller's keys; answer a
 * retried ContactId as before; else look the caller up (cache, then Customer Profiles) or create the
 * profile once; verify; then enrich, remember the contact and queue its record side by side; answer.
 */
export class ContactResolver {
  private readonly creating = new SingleFlight<string, ProfileSummary>();
  /** each profile's history signals, for ENRICHMENT_TTL_SECONDS (in this replica): a caller verifying twice reads it once */
  private readonly histories = new LRUCache<string, { at: number; signals: Risk['signals'] }>({ max: 10_000 });
  private readonly enricher: Enricher;
  private readonly now: () => number;

  constructor(private readonly deps: ResolverDeps) {
    this.now = deps.now ?? Date.now;
    this.enricher = new Enricher({
      store: deps.store,
      mapping: deps.mapping,
      budget: deps.budget,
      ttlMs: deps.cacheTtl.enrichmentTtlMs,
      staleMaxAgeMs: deps.cacheTtl.staleMaxAgeMs,
      onCall: deps.onEnrichmentCall,
      now: this.now,
    });
  }

  async resolve(event: ContactEvent, signal: AbortSignal): Promise<Resolved> {
    const region = (event.parameters.countryCode) ?? this.deps.defaultCountry;
    const found = callerKeys(event, region);
    // A later leg of a contact (a transfer, a callback): the earlier legs' resolutions, read beside the
    // contact's own reads. A first leg (most contacts) reads nothing more.
    const legIds = earlierLegsOf(event);
    const earlierLegs =
      legIds.length === 0
        ? undefined
        : withinDeadline(this.deps.legs.find(legIds), signal).then(
            (legs) => legs.filter((l): l is ContactLeg => l !== undefined),
            (): ContactLeg[] => [],
          );
    // Nothing to look up by: nothing to look up, create or remember; the same event always answers the same
    // (unless an earlier leg of the contact was resolved: then its profile).
    if (!found) {
      const carried = earlierLegs && (await this.carry(event, undefined, await earlierLegs, undefined, signal));
      return carried ?? this.finish(this.outcome('ANONYMOUS', undefined), undefined, undefined, 'none');
    }

    const { keys, source: identitySource } = found;
    const { tag, variant } = this.deps.keys.lookupKey(keys);
    const now = this.now();
    // An ID&V check (claimed keys: an account number, a profile id, a custom key) is held against the
    // lockouts of its caller and of each key it claims, read beside the contact's own reads.
    const subjects = keys.extra.length > 0 ? this.attemptSubjects(event, keys, tag) : undefined;
    const lock = subjects && withinDeadline(this.deps.attempts.lockedUntil(subjects, now), signal).catch(() => 0);
    // Both reads in one command (the same hash tag, so one slot even on a cluster). The answer kept is
    // the one for this ContactId and these keys: a flow that asks again with an account number (ID&V
    // after a greeting) gets a new answer, a Connect retry of the same call the same one. With the plan,
    // a backend that can (a single Redis) makes a fresh cache hit's writes in the same step (`written`):
    // not for a later leg, which may be answered from an earlier one instead, nor for an ID&V check, whose
    // lockout is known only once the reads are back (a locked check must leave no kept answer and no record).
    const plan: HitPlan = {
      now,
      ttl: this.deps.cacheTtl,
      createAllowed: (event.parameters.createProfile ?? this.deps.createProfiles) && mayCreateFrom(keys),
      identityKey: keys.identity && identityKey(keys.identity),
      initialContactId: event.initialContactId,
      record: this.recordOf(event, keys, tag),
    };
    const reads = await withinDeadline(this.deps.readContact(tag, variant, event.contactId, keys, earlierLegs || subjects ? undefined : plan), signal).catch(
      (): ContactReads => ({ earlier: undefined, cached: undefined }),
    );
    const earlier = reads.earlier;
    if (earlier) {
      return { answer: earlier, status: earlier.customerStatus as CustomerStatus, identitySource, failure: undefined, source: 'idempotent' };
    }
    if (lock && (await lock) > 0) return this.locked(event, signal);
    if (earlierLegs) {
      const here = { identityTag: keys.identity ? tag : '', tag, variant };
      const carried = await this.carry(event, { keys, identitySource, here, record: plan.record }, await earlierLegs, reads, signal);
      if (carried) return carried;
    }
    const resolved = await this.resolveAfresh(event, keys, identitySource, { tag, variant }, plan, reads, signal, subjects);
    if (subjects) this.counted(subjects, resolved, now, event.contactId);
    return resolved;
  }

  /**
   * What an ID&V check is counted against: the caller (their phone number's or e-mail address's tag; a
   * withheld caller's, the contact's first leg, so a transfer does not start a new count) and each key it claims.
   */
  private attemptSubjects(event: ContactEvent, keys: CallerKeys, tag: string): AttemptSubject[] {
    const digest = (v: string) => this.deps.keys.digest(v);
    return [
      { kind: 'caller', id: keys.identity ? tag : digest(`c:${event.initialContactId}`) },
      ...keys.extra.map((k): AttemptSubject => ({ kind: 'key', id: digest(`v:${k.name}:${k.values.join('\u0000')}`) })),
    ];
  }

  /**
   * A failed check (the keys disagree, or found nobody) is counted against each subject; not awaited: the
   * answer is the same either way, and the count is for the next check. A failure to answer (UNAVAILABLE)
   * is no check.
   */
  private counted(subjects: readonly AttemptSubject[], resolved: Resolved, now: number, contactId: string): void {
    const { verification } = resolved.answer;
    if (resolved.status === 'UNAVAILABLE') return;
    const failed = verification === 'MISMATCH' || resolved.status === 'NOT_FOUND';
    this.deps.onVerification?.(failed ? 'failed' : verification === 'VERIFIED' ? 'verified' : 'not_checked');
    if (!failed) return;
    void this.deps.attempts.failed(subjects, now).then((locked) => {
      for (const s of locked) this.deps.onLockout?.(s.kind, contactId);
    });
  }

  /**
   * A locked caller or key: the claimed keys are not looked up (no check is sent to Customer Profiles until
   * the cooling-off ends); the contact is answered as by its own phone number or e-mail address alone (that
   * is no check), or ANONYMOUS without one, with `verification: LOCKED`.
   */
  private async locked(event: ContactEvent, signal: AbortSignal): Promise<Resolved> {
    this.deps.onVerification?.('locked');
    // (and never creates: a contact asked with claimed keys would not have created a profile either)
    const bare: ContactEvent = { ...event, parameters: { ...event.parameters, accountNumber: undefined, profileId: undefined, search: undefined, createProfile: false } };
    const resolved = await this.resolve(bare, signal);
    return { ...resolved, answer: { ...resolved.answer, verification: 'LOCKED' } };
  }

  /**
   * A later leg answered from an earlier leg's resolution (see `carries`): its profile, status and
   * verification, and which ContactId they came from, with no new lookup of the caller. The profile's
   * values come from the earlier leg's cached lookup; past its TTL (or gone), from the profile itself by
   * its id (one SearchProfiles). A profile no longer there (merged away, deleted) carries nothing.
   * `contact`: the later leg's own keys; undefined when it has none.
   */
  private async carry(
    event: ContactEvent,
    contact: { keys: CallerKeys; identitySource: IdentitySource | undefined; here: LegKeys; record: PartialRecord } | undefined,
    legs: readonly ContactLeg[],
    reads: ContactReads | undefined,
    signal: AbortSignal,
  ): Promise<Resolved | undefined> {
    const now = this.now();
    const leg = legs.find((l) => carries(l, contact?.here, now, this.deps.legWindowMs));
    if (!leg) return undefined;
    const { here } = contact ?? {};
    const sameLookup = here !== undefined && here.tag === leg.tag && here.variant === leg.variant;
    const cached = sameLookup ? reads?.cached : await withinDeadline(this.deps.cache.get(leg.tag, leg.variant), signal).catch(() => undefined);
    const fromCache = cached?.summary?.profileId === leg.profileId && now - cached.cachedAt < this.deps.cacheTtl.ttlMs ? cached : undefined;
    let summary = fromCache?.summary;
    if (!summary) {
      const byId = await withinDeadline(this.profileById(leg.profileId, signal), signal).catch(() => undefined);
      if (!byId) return undefined;
      summary = byId;
    }
    // A NEW first leg made the profile: it is the caller's one profile now.
    const lookup: Lookup = {
      status: leg.status === 'NEW' ? 'KNOWN' : leg.status,
      matchCount: leg.status === 'NEW' ? 1 : leg.matchCount,
      summary,
      verification: leg.verification,
      matchedBy: leg.matchedBy,
    };
    // a later leg with no key of its own is recorded under the earlier leg's caller (an erasure finds it)
    const record = contact?.record ?? this.recordOf(event, undefined, leg.tag);
    return this.complete(event, contact?.keys, contact?.identitySource, lookup, summary, {
      source: 'earlier-leg',
      degraded: false,
      // kept for a Connect retry under the later leg's own keys (none: the same event carries again)
      at: here && { tag: here.tag, variant: here.variant },
      refreshAt: fromCache && { at: { tag: leg.tag, variant: leg.variant }, cachedAt: fromCache.cachedAt },
      record,
      carriedFrom: leg.contactId,
      risk: leg.risk,
    }, signal);
  }

  /** The profile by its id (`_profileId`), with its queued updates; undefined when there is none. */
  private async profileById(profileId: string, signal: AbortSignal): Promise<ProfileSummary | undefined> {
    const matches = await this.deps.store.search([{ name: STANDARD_KEYS.profileId, values: [profileId] }], 'any', signal);
    const found = matches.find((m) => m.profile.ProfileId === profileId);
    if (!found) return undefined;
    let summary = summarise(found.profile, this.deps.mapping);
    for (const update of (await this.deps.pendingUpdates.list(profileId)) ?? []) summary = updateSummary(summary, update, this.deps.mapping);
    return summary;
  }

  /**
   * Keeps the answer for a Connect retry of the contact. A fallback is not kept: a retry deserves a fresh
   * attempt. Not awaited: a retry comes seconds later, and the answer need not wait for Redis (failures
   * are counted by the store). `from`: a cache hit's, kept by reference to its lookup (no seal of its own).
   */
  private kept(at: { tag: string; variant: string }, contactId: string, resolved: Resolved, from?: KeptFrom, alreadyKept = false): Resolved {
    if (resolved.answer.degraded !== 'true' && !alreadyKept) void this.deps.idempotency.put(at.tag, contactId, resolved.answer, at.variant, from);
    return resolved;
  }

  private async resolveAfresh(
    event: ContactEvent,
    keys: CallerKeys,
    identitySource: IdentitySource | undefined,
    at: { tag: string; variant: string },
    { now, createAllowed, record: partialRecord }: HitPlan,
    { cached, sealedLookup, written: madeWithReads }: ContactReads,
    signal: AbortSignal,
    /** the ID&V check's subjects (claimed keys given), as resolve() read its lockout by */
    subjects?: readonly AttemptSubject[],
  ): Promise<Resolved> {
    const age = cached ? now - cached.cachedAt : Infinity;
    const freshFor = cached?.status === 'NOT_FOUND' ? this.deps.cacheTtl.notFoundTtlMs : this.deps.cacheTtl.ttlMs;
    // A cached "no profile" does not stop a contact that may create one.
    const usable = cached && !(cached.status === 'NOT_FOUND' && createAllowed);
    // (judged at `now`, as the backend judged a hit it made the writes of: see ContactReads.written)
    const fresh = usable && age < freshFor;
    // the writes the backend made with the reads count only for the fresh hit they were made for: a lookup
    // it judged otherwise (a head that was not the lookup's) gets its own writes, as on any other path
    const written = fresh ? madeWithReads : undefined;

    let lookup: Lookup;
    let source: Source;
    let failure: StoreFailure | undefined;
    let degraded = false;
    let reserved: Promise<Set<string>> | undefined;
    this.deps.onCacheLookup?.(fresh ? 'hit' : usable ? 'stale' : 'miss');
    if (fresh) {
      lookup = fromCache(cached);
      source = 'cache';
    } else {
      // nothing cached: every enrichment source will be called once the profile is chosen
      reserved = cached ? undefined : this.enricher.reserveAll(signal);
      try {
        lookup = await withinDeadline(this.lookUpOrCreate(event, keys, at, createAllowed, cached, signal), signal);
        source = 'customer-profiles';
      } catch (err) {
        failure = err instanceof DeadlineExceeded ? 'timeout' : err instanceof ProfileStoreError ? err.failure : 'unavailable';
        // live lookups come first: record writes step back while Customer Profiles throttles us
        if (failure === 'throttled') this.deps.records.yieldTo(5000);
        if (!(usable && age < this.deps.cacheTtl.staleMaxAgeMs)) {
          return this.finish({ ...this.outcome('UNAVAILABLE', keys), degraded: true }, identitySource, failure, 'none');
        }
        // stale-if-error: the last known answer, marked degraded
        lookup = fromCache(cached);
        source = 'stale-cache';
        degraded = true;
      }
    }
    // every MULTIPLE answer notes its duplicate set, unless the cache hit's script did with the reads
    if (lookup.status === 'MULTIPLE' && lookup.duplicates && !madeWithReads?.duplicates) this.noteDuplicates(lookup.duplicates, at);
    const summary = lookup.summary;
    if (!summary) {
      const outcome: Outcome = { ...this.outcome(lookup.status, keys), ...lookup, degraded };
      const from = source === 'cache' && sealedLookup ? { sealedLookup, outcome } : undefined;
      return this.kept(at, event.contactId, this.finish(outcome, identitySource, failure, source), from, written?.kept);
    }
    return this.complete(event, keys, identitySource, lookup, summary, {
      source,
      failure,
      degraded,
      at,
      refreshAt: { at, cachedAt: source === 'cache' ? cached!.cachedAt : this.now() },
      record: partialRecord,
      reserved,
      written,
      sealedLookup,
      keySubjects: subjects?.filter((x) => x.kind === 'key'),
    }, signal);
  }

  /**
   * A lookup with a profile, to its answer: enrich, remember the contact and queue its record side by side;
   * keep the answer for a Connect retry, and the resolution for the contact's later legs.
   */
  private async complete(
    event: ContactEvent,
    keys: CallerKeys | undefined,
    identitySource: IdentitySource | undefined,
    lookup: Lookup,
    summary: ProfileSummary,
    how: {
      source: Source;
      failure?: StoreFailure | undefined;
      degraded: boolean;
      /** where the answer is kept for a retry (undefined: not kept) */
      at: LookupKey | undefined;
      /** where a refreshed enrichment goes into the cached lookup, and the lookup's own age (undefined: not cached) */
      refreshAt: { at: LookupKey; cachedAt: number } | undefined;
      record: PartialRecord;
      /** every enrichment source reserved before the lookup (nothing was cached) */
      reserved?: Promise<Set<string>> | undefined;
      /** a cache hit's writes the backend made with its reads */
      written?: HitWrites | undefined;
      /** a cache hit's lookup as read (sealed): its answer can be kept by reference */
      sealedLookup?: string | undefined;
      carriedFrom?: string | undefined;
      /** a carried leg's step-up signals */
      risk?: Risk | undefined;
      /** the claimed keys' ID&V subjects: a verified answer counts the failed checks on them */
      keySubjects?: readonly AttemptSubject[] | undefined;
    },
    signal: AbortSignal,
  ): Promise<Resolved> {
    const { source, written } = how;
    // A profile created now has nothing to enrich; a lookup that failed enriches from the cache alone.
    // (nor does a failed ID&V: its answer shows nothing of the profile)
    const enriching: Promise<Enrichment> =
      lookup.status === 'NEW' || lookup.verification === 'MISMATCH'
        ? Promise.resolve(NO_ENRICHMENT)
        : this.enricher.enrich(summary.profileId, summary.enriched, source !== 'stale-cache', signal, source === 'customer-profiles' ? how.reserved : undefined);
    // A profile that only what the caller typed found, against the phone or e-mail the contact came
    // from, is not theirs until verified: the contact is not written to it, nor counted as its contact
    // (a typo or a stranger's account number leaves no trace on someone else's profile).
    // A cache hit's writes made with its reads (`written`) are not made again.
    const attach = attaches(lookup, keys?.identity && identityKey(keys.identity));
    const record = () => completeRecord(how.record, { ...lookup, summary });
    // a verified caller's answer carries the step-up signals, read side by side with the rest
    // (a later leg carries its earlier leg's, read with its verification: no call)
    const risk =
      how.carriedFrom !== undefined
        ? Promise.resolve(how.risk)
        : lookup.verification === 'VERIFIED'
          ? this.riskOf(summary.profileId, how.keySubjects ?? [], signal)
          : undefined;
    const [enrichment, repeat, recordStatus] = await Promise.all([
      enriching,
      written?.repeat ??
        (attach ? withinDeadline(this.deps.recentContacts.record(summary.profileId, event.initialContactId, this.now()), signal).catch(() => NO_REPEAT) : NO_REPEAT),
      written?.recordStatus ?? (attach ? withinDeadline(this.deps.records.enqueue(record()), signal).catch(() => 'FAILED' as const) : ('SKIPPED' as const)),
    ]);
    const signals = await risk;
    // the sources read now go into the cached lookup (which keeps its own age)
    if (enrichment.changed && !lookup.uncached && how.refreshAt) this.remember(how.refreshAt.at, { ...lookup, summary: { ...summary, enriched: enrichment.enriched } }, how.refreshAt.cachedAt);
    const outcome: Outcome = {
      ...lookup,
      identity: keys?.identity,
      searchedBy: keys && searchedByOf(keys),
      degraded: how.degraded || enrichment.stale,
      repeat,
      recordStatus,
      enrichment: { status: enrichment.status, values: enrichment.values, freshness: enrichment.freshness },
      carriedFrom: how.carriedFrom,
      risk: signals,
    };
    // every personal value of a cache hit's answer is the cached lookup's, unless enrichment called a
    // source now or left one out (outcomeFrom rebuilds the rest): then it can be kept by reference
    // (the backend kept it so already, every source fresh: the same answer, unless a source came due in the
    // moment since; then this answer replaces it, or, degraded and so not kept, leaves it for a retry)
    // (not with step-up signals: they are the answer's own, sealed with it, and replace a kept answer the backend made)
    const byReference = source === 'cache' && !enrichment.changed && enrichment.status !== 'PARTIAL' && !signals && how.sealedLookup;
    const resolved = this.finish(outcome, identitySource, how.failure, source);
    // the contact's later legs (a transfer, a callback) may be answered from this resolution: not from a
    // stale one, nor from one carried itself (its earlier leg's stays the one they find)
    // (a cache hit's script kept it already, but for the signals a verified answer adds)
    if ((source === 'cache' || source === 'customer-profiles') && how.at && (!written?.leg || signals)) this.rememberLeg(event.contactId, keys, how.at, lookup, summary, signals);
    if (!how.at) return resolved;
    return this.kept(how.at, event.contactId, resolved, byReference ? { sealedLookup: how.sealedLookup!, outcome } : undefined, written?.kept && !!byReference);
  }

  /**
   * The step-up signals of a verified answer: the profile's history (phone, e-mail, address changed, a merge)
   * within RISK_CHANGE_WINDOW_DAYS, and the failed checks that claimed the keys it verified with. Bounded by the
   * deadline and drawn from the fleet's enrichment allowance; whatever cannot be read in time is 'UNKNOWN',
   * never a failed answer.
   */
  private async riskOf(profileId: string, keys: readonly AttemptSubject[], signal: AbortSignal): Promise<Risk> {
    const now = this.now();
    const [signals, failures] = await Promise.all([
      this.historySignals(profileId, now, signal),
      keys.length === 0 ? Promise.resolve(0) : withinDeadline(this.deps.attempts.failures(keys, now), signal).catch(() => undefined),
    ]);
    return { signals, recentFailedChecks: failures === undefined ? 'UNKNOWN' : String(failures) };
  }

  private async historySignals(profileId: string, now: number, signal: AbortSignal): Promise<Risk['signals']> {
    const unknown: Risk['signals'] = { phoneChangedRecently: 'UNKNOWN', emailChangedRecently: 'UNKNOWN', addressChangedRecently: 'UNKNOWN', mergedRecently: 'UNKNOWN' };
    const days = this.deps.riskChangeWindowDays;
    if (days <= 0) return unknown;
    const cached = this.histories.get(profileId);
    if (cached && now - cached.at < this.deps.cacheTtl.enrichmentTtlMs) return cached.signals;
    // each history call takes its slot in the fleet's share as an enrichment call does; none free: UNKNOWN
    const allow = (operation: string) => withinDeadline(this.deps.budget.take(new Map([[operation, 1]])), signal).then((granted) => granted.has(operation));
    try {
      const records = await withinDeadline(this.deps.store.history(profileId, now - days * 86_400_000, signal, allow), signal);
      const signals = riskSignals(records, now, { changeWindowDays: days });
      this.histories.set(profileId, { at: now, signals });
      return signals;
    } catch {
      return unknown;
    }
  }

  /**
   * Notes a MULTIPLE answer's duplicate set, after the answer: on the next turn of the event loop, not awaited
   * (the store counts its own failures). An operator's list of duplicates can wait a moment; a caller cannot.
   */
  private noteDuplicates(sighting: DuplicateSighting, at: LookupKey): void {
    const now = this.now();
    setImmediate(() => void this.deps.duplicates.seen(sighting, at, now));
  }

  /** Not awaited: a later leg comes seconds later at the soonest, and one that finds nothing looks the caller up. */
  private rememberLeg(contactId: string, keys: CallerKeys | undefined, at: LookupKey, lookup: Lookup, summary: ProfileSummary, risk: Risk | undefined): void {
    const status = lookup.status as ContactLeg['status'];
    void this.deps.legs.remember({
      contactId,
      at: this.now(),
      profileId: summary.profileId,
      status,
      matchCount: lookup.matchCount,
      verification: lookup.verification,
      matchedBy: [...lookup.matchedBy],
      identityTag: keys?.identity ? at.tag : '',
      tag: at.tag,
      variant: at.variant,
      ...(risk && { risk }),
    });
  }

  /**
   * Caches the lookup. Not awaited: the contact's own writes follow on the same connection, and a
   * failed cache write only means the next contact searches again (counted by the cache's `safely`).
   * `cachedAt`: when the lookup itself was made (an enrichment refresh keeps the lookup's age).
   */
  private remember(at: { tag: string; variant: string }, lookup: Lookup, cachedAt = this.now()): void {
    if (lookup.status === 'NEW') return;
    const { matchCount, summary, verification, matchedBy, duplicates } = lookup;
    const status = lookup.status as CachedLookup['status']; // a lookup is KNOWN, MULTIPLE or NOT_FOUND (NEW is cached by createOnce)
    void this.deps.cache.set(at.tag, { status, matchCount, summary, verification, matchedBy: [...matchedBy], cachedAt, ...(duplicates && { duplicates }) }, at.variant);
  }

  /** The contact's record, but for the profile and status its lookup gives. */
  private recordOf(event: ContactEvent, keys: CallerKeys | undefined, identityTag: string): PartialRecord {
    const identity = keys?.identity;
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
      identityType: identity?.type ?? 'NONE',
      identity: identity === undefined ? '' : identity.type === 'PHONE' ? identity.e164 : identity.address,
      identityTag,
      receivedAt: new Date(this.now()).toISOString(),
      attributes,
      searchedBy: keys && searchedByOf(keys),
    };
  }

  private async lookUpOrCreate(
    event: ContactEvent,
    keys: CallerKeys,
    at: { tag: string; variant: string },
    createAllowed: boolean,
    cached: CachedLookup | undefined,
    signal: AbortSignal,
  ): Promise<Lookup> {
    const searchKeys = searchKeysOf(keys);
    const matches = await this.deps.store.search(searchKeys, keys.mode, signal, { thenCreate: createAllowed });
    if (matches.length > 0 || !createAllowed) {
      let found: readonly Match[] = matches;
      let chosen = chooseProfile(found, keys.identity);
      let verification = verify(keys, chosen);
      let matchedBy = chosen?.foundBy ?? [];
      // ID&V failed (the keys disagree, or found nobody): the lookup is only what the contact's own phone
      // number or e-mail address found, never what a claimed key found, so a wrong account number and one
      // that does not exist answer alike (status, count, matchedBy, the profile the contact attaches to)
      // and take the same steps.
      if (isVerifying(keys) && verification !== 'VERIFIED') {
        const own = keys.identity && identityKey(keys.identity);
        found = own ? matches.filter((m) => m.foundBy.includes(own)) : [];
        chosen = chooseProfile(found, keys.identity);
        verification = 'MISMATCH';
        matchedBy = chosen && own ? [own] : [];
      }
      // The chosen profile's updates queued and not yet written: Customer Profiles has the old values
      // until each lands. One read, after the search; the answer does not wait for it past the deadline
      // (the caller races this whole lookup against it), and a Redis failure answers without them.
      // Not raced here: a lookup finished after the deadline is still cached, with them.
      const pending = chosen ? await this.deps.pendingUpdates.list(chosen.profile.ProfileId) : [];
      let summary: ProfileSummary | undefined = chosen && {
        ...summarise(chosen.profile, this.deps.mapping),
        // the same profile as the cached lookup: its enrichment values stay, each with its own age
        enriched: cached?.summary?.profileId === chosen.profile.ProfileId ? cached.summary.enriched : undefined,
      };
      for (const update of pending ?? []) summary = updateSummary(summary!, update, this.deps.mapping);
      // several matches: which profiles, and the key they share (its value as a keyed hash), for the duplicate sets
      const duplicates = found.length > 1 ? sightingOf(found, searchKeys.map((k) => k.name), (name) => this.deps.keys.keyDigest(keys, name)) : undefined;
      const lookup: Lookup = {
        status: found.length === 0 ? 'NOT_FOUND' : found.length === 1 ? 'KNOWN' : 'MULTIPLE',
        matchCount: found.length,
        summary,
        verification,
        matchedBy,
        ...(!pending && { uncached: true as const }),
        ...(duplicates && { duplicates }),
      };
      // cached at once, even when the answer has gone out at the deadline: the next contact finds it;
      // not when the pending updates could not be read (it would answer without them until it expires)
      if (!lookup.uncached) this.remember(at, lookup);
      return lookup;
    }
    const { tag } = at;
    // Every contact that found no profile answers NEW with the one profile created for the caller:
    // on this replica through the single-flight, across the fleet through the Redis lock. Only a phone
    // number or e-mail address alone creates (mayCreateFrom), so the lookup's variant is ''.
    const identity = keys.identity!;
    const summary = await this.creating.run(tag, () =>
      this.deps.createOnce.run(tag, signal, [identityKey(identity)], async (previousAttemptUnfinished) => {
        if (previousAttemptUnfinished) {
          // an earlier creator died or timed out mid-way: its profile may exist already
          const chosen = chooseProfile(await this.deps.store.search(searchKeys, keys.mode, signal), identity);
          if (chosen) return summarise(chosen.profile, this.deps.mapping);
        }
        const created = await this.deps.store.create(identity, { contactId: event.contactId }, signal);
        return { ...summarise(created, this.deps.mapping), enriched: this.enricher.nothingYet() };
      }),
    );
    return { status: 'NEW', summary, matchCount: 0, verification: 'NOT_CHECKED', matchedBy: [] };
  }

  private outcome(status: CustomerStatus, keys: CallerKeys | undefined): Outcome {
    return {
      status,
      identity: keys?.identity,
      searchedBy: keys && searchedByOf(keys),
      summary: undefined,
      matchCount: 0,
      degraded: false,
      repeat: NO_REPEAT,
      recordStatus: 'SKIPPED',
      verification: 'NOT_CHECKED',
      matchedBy: [],
      enrichment: { status: 'NONE', values: {} },
    };
  }

  private finish(outcome: Outcome, identitySource: IdentitySource | undefined, failure: StoreFailure | undefined, source: Source): Resolved {
    // a failure is only ever carried out of a fallback (UNAVAILABLE, or the stale cached profile)
    const answer = buildAnswer(failure ? { ...outcome, fallbackReason: fallbackReasonOf(failure) } : outcome, this.deps.mapping);
    return { answer, status: outcome.status, identitySource, failure, source };
  }
}

const FALLBACK_REASONS: Record<StoreFailure, FallbackReason> = {
  timeout: 'TIMEOUT',
  throttled: 'AWS_THROTTLED',
  // the fleet's share of the account quota had no call free before the deadline (cache/quota.ts)
  quota: 'QUOTA',
  // access denied, or a domain that does not exist: the deployment's fault, not an outage (retrying will not help)
  denied: 'AWS_MISCONFIGURED',
  misconfigured: 'AWS_MISCONFIGURED',
  unavailable: 'AWS_UNAVAILABLE',
};

/** What the flow is told of a failure: the deadline, throttling, the fleet's share spent, a deployment fault, or any other Customer Profiles failure. */
function fallbackReasonOf(failure: StoreFailure): FallbackReason {
  return FALLBACK_REASONS[failure];
}

function fromCache(c: CachedLookup): Lookup {
  return {
    status: c.status,
    summary: c.summary,
    matchCount: c.matchCount,
    verification: c.verification ?? 'NOT_CHECKED',
    matchedBy: c.matchedBy ?? [],
    ...(c.duplicates && { duplicates: c.duplicates }),
  };
}
