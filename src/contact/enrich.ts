import type { CallBudget } from '../cache/quota.js';
import { enrichedFor, type Enriched, type EnrichedValues, type EnrichmentStatus } from '../domain/answer.js';
import { enrichmentCalls, sanitiseValue, type AttributeMapping, type EnrichmentCall, type EnrichmentKind, type Freshness } from '../domain/mapping.js';
import { AllowanceSpent, ProfileStoreError, type ProfileStore } from '../profiles/profile.js';
import { DeadlineExceeded, withinDeadline } from './deadline.js';

export type EnrichOutcome = 'success' | 'failed' | 'throttled' | 'timeout' | 'skipped';

/** The Customer Profiles operation behind each kind of enrichment call: its budget and its metrics label. */
const OPERATIONS: Record<EnrichmentKind, string> = {
  calculated: 'ListCalculatedAttributesForProfile',
  object: 'ListProfileObjects',
  segment: 'GetSegmentMembership',
};

export interface EnricherDeps {
  store: ProfileStore;
  mapping: AttributeMapping;
  budget: CallBudget;
  /** how long enrichment values answer without a new call (ENRICHMENT_TTL_SECONDS) */
  ttlMs: number;
  /** the oldest values given when a new call fails (CACHE_STALE_MAX_AGE_SECONDS) */
  staleMaxAgeMs: number;
  /** told of every call decided: made (and how it ended) or skipped */
  onCall?: (call: EnrichmentCall, outcome: EnrichOutcome) => void;
  now?: () => number;
}

/** What enrichment gives one answer. */
export interface Enrichment {
  status: EnrichmentStatus;
  /** answer key -> value, for the mapping's enrichment keys that have one */
  values: Record<string, string>;
  /** answer key -> what its source said of the value's freshness, for the keys whose source said */
  freshness: Record<string, Freshness>;
  /** the entries to cache with the lookup (fresh ones replace old ones) */
  enriched: Enriched;
  /** some values are older than ENRICHMENT_TTL_SECONDS: their new call failed or was skipped */
  stale: boolean;
  /** calls were made: the cached entries should be written back */
  changed: boolean;
}

// A throttled operation is left alone on this replica for this long: the next calls would be throttled too.
const COOL_OFF_MS = 1000;
/** Nothing to enrich: no source mapped, or a profile created now. */
export const NO_ENRICHMENT: Enrichment = Object.freeze({ status: 'NONE', values: {}, freshness: {}, enriched: {}, stale: false, changed: false });

/**
 * The enrich step: the mapping's calculated attributes, latest objects and segment memberships of the
 * chosen profile. Values younger than ENRICHMENT_TTL_SECONDS answer from the cache with no call; the
 * others are asked for all at once, each bounded by the request's deadline, never retried, and only
 * while the fleet's allowance lasts. A source that fails, is slow or is skipped never costs the answer:
 * its keys keep their last values (stale-if-error) or are ''.
 */
export class Enricher {
  private readonly calls: EnrichmentCall[];
  private readonly coolUntil = new Map<string, number>();
  /** calls in flight on this replica, by profile and source */
  private readonly inFlight = new Map<string, Promise<EnrichedValues | undefined>>();
  private readonly now: () => number;

  constructor(private readonly deps: EnricherDeps) {
    this.calls = enrichmentCalls(deps.mapping);
    this.now = deps.now ?? Date.now;
  }

  /** The entries of a profile created just now: nothing to read yet, fresh until ENRICHMENT_TTL_SECONDS. */
  nothingYet(): Enriched {
    const at = this.now();
    return Object.fromEntries(this.calls.map((c) => [c.id, { at, values: {} }]));
  }

  /**
   * Takes the fleet's allowance for every source now, before the profile is known: a lookup with nothing
   * cached calls them all, and taking it beside the search keeps a Redis round trip off the caller's
   * wait. What a lookup that finds no profile took is left unused (the allowance errs low).
   */
  reserveAll(signal: AbortSignal): Promise<Set<string>> | undefined {
    return this.calls.length > 0 ? this.take(this.calls, signal) : undefined;
  }

  /**
   * `refresh` false: answer from the cached entries only (the lookup itself failed: no calls now).
   * `reserved`: the allowance reserveAll took for this lookup.
   */
  async enrich(profileId: string, cached: Enriched | undefined, refresh: boolean, signal: AbortSignal, reserved?: Promise<Set<string>>): Promise<Enrichment> {
    if (this.calls.length === 0) return NO_ENRICHMENT;
    const now = this.now();
    const old = (call: EnrichmentCall): EnrichedValues | undefined => (cached && Object.hasOwn(cached, call.id) ? cached[call.id] : undefined);
    const due = refresh ? this.calls.filter((c) => !(now - (old(c)?.at ?? -Infinity) < this.deps.ttlMs)) : [];
    const fresh = due.length > 0 ? await this.call(due, profileId, signal, reserved) : new Map<string, EnrichedValues>();

    const enriched: Enriched = {};
    let missing = false;
    let stale = false;
    for (const call of this.calls) {
      const entry = fresh.get(call.id) ?? old(call);
      const age = entry ? now - entry.at : Infinity;
      if (age < this.deps.ttlMs || fresh.has(call.id)) enriched[call.id] = entry!;
      else if (age < this.deps.staleMaxAgeMs) {
        enriched[call.id] = entry!;
        stale = true;
      } else missing = true;
    }
    // each value with the freshness its source gave it when read (cached with it: a stale value keeps its own)
    const { values, freshness } = enrichedFor(this.deps.mapping, enriched);
    return { status: missing ? 'PARTIAL' : 'COMPLETE', values, freshness, enriched, stale, changed: fresh.size > 0 };
  }

  /** The allowance for these calls: the operations granted (one not resting after a throttle). */
  private take(calls: readonly EnrichmentCall[], signal: AbortSignal): Promise<Set<string>> {
    const now = this.now();
    const wanted = new Map<string, number>();
    for (const c of calls) {
      const op = OPERATIONS[c.kind];
      if ((this.coolUntil.get(op) ?? 0) <= now) wanted.set(op, (wanted.get(op) ?? 0) + 1);
    }
    if (wanted.size === 0) return Promise.resolve(new Set());
    return withinDeadline(this.deps.budget.take(wanted), signal).catch(() => new Set<string>());
  }

  /**
   * Makes the due calls side by side; returns the entries of those that succeeded by the deadline.
   * A call already in flight for the same profile and source on this replica (a burst, a transfer)
   * is joined, not made again: only the calls started here take the allowance.
   */
  private async call(
    due: readonly EnrichmentCall[],
    profileId: string,
    signal: AbortSignal,
    reserved: Promise<Set<string>> | undefined,
  ): Promise<Map<string, EnrichedValues>> {
    const flights = new Map<string, Promise<EnrichedValues | undefined>>();
    const toStart: EnrichmentCall[] = [];
    for (const call of due) {
      const running = this.inFlight.get(`${profileId}|${call.id}`);
      if (running) flights.set(call.id, running);
      else toStart.push(call);
    }
    const granted = toStart.length === 0 ? new Set<string>() : await (reserved ?? this.take(toStart, signal));
    for (const call of toStart) {
      const key = `${profileId}|${call.id}`;
      // Started by another contact while this one waited for its allowance (contacts whose replies came
      // in one Redis packet run side by side up to here): joined, not made twice.
      const started = this.inFlight.get(key);
      if (started) {
        flights.set(call.id, started);
        continue;
      }
      if (!granted.has(OPERATIONS[call.kind])) {
        this.deps.onCall?.(call, 'skipped');
        continue;
      }
      const flight = this.one(call, profileId, signal).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, flight);
      flights.set(call.id, flight);
    }
    const results = await Promise.all(
      [...flights].map(async ([id, flight]) => [id, await withinDeadline(flight, signal).catch(() => undefined)] as const),
    );
    const fresh = new Map<string, EnrichedValues>();
    for (const [id, entry] of results) if (entry) fresh.set(id, entry);
    return fresh;
  }

  /** One source's call: its entry, or undefined when it failed, was slow or ran out of allowance (counted). */
  private async one(call: EnrichmentCall, profileId: string, signal: AbortSignal): Promise<EnrichedValues | undefined> {
    const op = OPERATIONS[call.kind];
    try {
      // every page after the first is one more call: it takes its own allowance
      const anotherPage = () => withinDeadline(this.deps.budget.take(new Map([[op, 1]])), signal).then((g) => g.has(op));
      const result = await withinDeadline(this.deps.store.enrich(call, profileId, signal, anotherPage), signal);
      const values: Record<string, string> = {};
      const freshness: Record<string, Freshness> = {};
      for (const m of this.deps.mapping) {
        if (m.call?.id !== call.id) continue;
        values[m.key] = sanitiseValue(m.pick?.(result));
        const said = m.freshness?.(result);
        if (said && (said.partial !== undefined || said.asOf !== undefined)) freshness[m.key] = said;
      }
      this.deps.onCall?.(call, 'success');
      return { at: this.now(), values, ...(Object.keys(freshness).length > 0 && { freshness }) };
    } catch (err) {
      const outcome: EnrichOutcome =
        err instanceof DeadlineExceeded || signal.aborted
          ? 'timeout'
          : err instanceof AllowanceSpent
            ? 'skipped'
            : err instanceof ProfileStoreError && err.failure === 'throttled'
              ? 'throttled'
              : 'failed';
      // Throttling of an enrichment call stays with its operation: the lookup and the record
      // writes are not told (they use other operations' allowances).
      if (outcome === 'throttled') this.coolUntil.set(op, this.now() + COOL_OFF_MS);
      this.deps.onCall?.(call, outcome);
      return undefined;
    }
  }
}
