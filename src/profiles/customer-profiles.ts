import {
  CreateProfileCommand,
  type CustomerProfilesClient,
  GetProfileHistoryRecordCommand,
  GetSegmentMembershipCommand,
  ListCalculatedAttributesForProfileCommand,
  ListProfileHistoryRecordsCommand,
  ListProfileObjectsCommand,
  SearchProfilesCommand,
  type Profile as SdkProfile,
  type ProfileHistoryRecord,
} from '@aws-sdk/client-customer-profiles';
import type { Identity } from '../domain/identity.js';
import type { MatchMode, SearchKey } from '../domain/keys.js';
import { latestObject, type CalculatedValue, type EnrichmentCall, type EnrichmentResult, type Membership } from '../domain/mapping.js';
import { classifyAwsError, type Outcome } from '../aws/errors.js';
import { requestContextOf } from '../ops/context.js';
import type { AccountQuota } from '../cache/quota.js';
import { PROFILE_SOURCE, type Profile } from '../domain/profile.js';
import { changedFields, isHistoryAction, type HistoryAction, type HistoryRecord } from '../domain/history.js';
import {
  AllowanceSpent,
  HistoryTooLong,
  ProfileStoreError,
  type CreateContext,
  type Match,
  type ProfileStore,
  type SearchOptions,
  type StoreFailure,
} from './profile.js';

// SearchProfiles returns at most 100 items a page; more matches than that for one caller is a data problem,
// and the first page is enough to choose deterministically among what came back.
const MAX_RESULTS = 100;
// Enrichment reads follow NextToken this many pages at most (100 items each), all inside the deadline.
const MAX_CALCULATED_PAGES = 3;
const MAX_OBJECT_PAGES = 5;
// ListProfileHistoryRecords: MaxResults 1..100 (the model's maxSize100). The API documents no order for the records, so
// a listing is read to its end before any record is judged: at most this many pages of one action type, else
// HistoryTooLong (a listing read in part cannot say "nothing changed").
const MAX_HISTORY_PAGES = 3;
/**
 * GetProfileHistoryRecord calls one history() makes at most. The listing carries no Content: which fields an UPDATED
 * record changed takes its Content and that of the state before it (the previous CREATED / UPDATED / MERGED record),
 * two reads for the newest update and one more for each older one in a row. Four reads tell the newest three updates
 * in the window (made side by side, one round trip); older ones have changedFields undefined (their signals UNKNOWN
 * unless a known update already says 'true').
 */
export const MAX_HISTORY_READS = 4;
/** The records that hold a state of the profile: the ones history() lists (one filtered listing each). */
const STATE_ACTIONS = ['CREATED', 'UPDATED', 'MERGED'] as const satisfies readonly HistoryAction[];

/** A listed record, checked: the model requires Id, ObjectTypeName, CreatedAt and ActionType. */
interface Listed {
  id: string;
  actionType: HistoryAction;
  createdAt: number;
  objectTypeName: string;
}

function listed(r: ProfileHistoryRecord): Listed[] {
  const createdAt = r.CreatedAt?.getTime();
  if (!r.Id || !isHistoryAction(r.ActionType) || createdAt === undefined || Number.isNaN(createdAt) || !r.ObjectTypeName) return [];
  return [{ id: r.Id, actionType: r.ActionType, createdAt, objectTypeName: r.ObjectTypeName }];
}

/** Newest first; the same order every time for records of one millisecond (by Id). */
const newestFirst = (a: Listed, b: Listed): number => b.createdAt - a.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Which records' Content to read, newest update first, within `max` reads: each UPDATED record in the window with the
 * state before it (the next older record of the same object type). An update with no earlier state listed is skipped
 * (nothing to compare with); the first update whose reads would pass `max` ends the plan.
 */
function plannedReads(states: readonly Listed[], sinceMs: number, max: number): Map<string, string> {
  const before = new Map<string, string>(); // update id -> the id of the state before it
  const reads = new Set<string>();
  for (const [i, r] of states.entries()) {
    if (r.actionType !== 'UPDATED' || r.createdAt < sinceMs) continue;
    const previous = states.slice(i + 1).find((o) => o.objectTypeName === r.objectTypeName);
    if (!previous) continue;
    const wanted = [r.id, previous.id].filter((id) => !reads.has(id));
    if (reads.size + wanted.length > max) break;
    for (const id of wanted) reads.add(id);
    before.set(r.id, previous.id);
  }
  return before;
}

/** What the use case decides on, from the one classifier's reading of an SDK error (or an abort). */
export function storeFailure(err: unknown, signal: AbortSignal): StoreFailure {
  if (signal.aborted) return 'timeout';
  const { outcome, name } = classifyAwsError(err);
  if (outcome === 'throttled') return 'throttled';
  if (outcome === 'timeout') return 'timeout';
  if (name === 'AccessDeniedException') return 'denied';
  if (name === 'ResourceNotFoundException' || name === 'BadRequestException') return 'misconfigured';
  return 'unavailable';
}

function toProfile(p: SdkProfile): Profile {
  // The SDK's Profile has the same names; keep only what the service reads.
  const { FoundByItems: _found, EngagementPreferences: _prefs, ...rest } = p;
  return rest as Profile;
}

/**
 * The names of the keys that found a profile, in the search's order. `FoundByItems` lists them when the
 * search had AdditionalSearchKeys; a one-key search, or an AND search, found every profile by all its keys.
 */
function foundBy(p: SdkProfile, keys: readonly SearchKey[], mode: MatchMode): string[] {
  if (keys.length === 1 || (mode === 'all' && !p.FoundByItems)) return keys.map((k) => k.name);
  const found = new Set((p.FoundByItems ?? []).filter((f) => (f.Values?.length ?? 0) > 0).map((f) => f.KeyName));
  return keys.filter((k) => found.has(k.name)).map((k) => k.name);
}

export class CustomerProfilesStore implements ProfileStore {
  readonly kind = 'customer-profiles';

  constructor(
    private readonly client: CustomerProfilesClient,
    private readonly domain: string,
    /** for enrichment reads: one attempt, so a throttled or failing source costs one call, not three */
    private readonly enrichClient: CustomerProfilesClient = client,
    /** the fleet's share of the account quota: lookups wait for their slot in it; enrichment took its own (Enricher) */
    private readonly quota?: AccountQuota,
  ) {}

  /**
   * One call. A lookup (`live`) first waits for its slot in the fleet's share (refused at once, as
   * 'quota', when none comes before its deadline less the call's own time). A 429 backs the fleet off;
   * a lookup's throttled call is tried once more, but only through the share again (a slot later, at the
   * lower rate), never blindly: the SDK itself does not retry throttling (aws/clients.ts).
   */
  private async send<T>(operation: string, call: () => Promise<T>, signal: AbortSignal, priority: 'live' | 'enrich' = 'enrich', then: readonly string[] = []): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (priority === 'live') await this.slot(operation, signal, then);
      const started = performance.now();
      let outcome: Outcome = 'success';
      try {
        const out = await call();
        this.quota?.observeCall(operation, performance.now() - started);
        return out;
      } catch (err) {
        outcome = classifyAwsError(err).outcome;
        const failure = storeFailure(err, signal);
        if (outcome === 'throttled') {
          this.quota?.throttled(operation);
          if (priority === 'live' && attempt === 1 && this.quota && failure === 'throttled') continue;
        }
        // The message names the operation and error type only: SDK messages can echo request values.
        const name = (err as { name?: string }).name ?? 'Error';
        throw new ProfileStoreError(failure, `${operation} failed: ${name}`, { cause: err });
      } finally {
        // the call, with all its attempts, in the request's log line
        requestContextOf(signal)?.awsCalls.push({ operation, outcome, ms: Math.round((performance.now() - started) * 10) / 10 });
      }
    }
  }

  /**
   * Waits for the lookup's slot in the fleet's share; 'quota' when none comes before its deadline, less
   * the call's own reserve and those of the calls that follow it (`then`: a search that may be followed
   * by a creation leaves the creation its time, or the search's slot is spent on a caller who cannot
   * finish: in the surge bench, before, 241 of 2043 searches were followed by no creation slot in time).
   */
  private async slot(operation: string, signal: AbortSignal, then: readonly string[]): Promise<void> {
    if (!this.quota) return;
    const deadlineAt = requestContextOf(signal)?.deadlineAt;
    const reserve = [operation, ...then].reduce((ms, op) => ms + this.quota!.callReserveMs(op), 0);
    const latestStartAt = deadlineAt === undefined ? undefined : deadlineAt - reserve;
    let grant;
    try {
      grant = await this.quota.acquire(operation, 'live', { latestStartAt, signal });
    } catch (err) {
      throw new ProfileStoreError('timeout', `${operation}: the deadline came while waiting for a slot in the fleet's share`, { cause: err });
    }
    if (!grant.granted) {
      requestContextOf(signal)?.awsCalls.push({ operation, outcome: 'quota', ms: 0 });
      throw new ProfileStoreError('quota', `${operation}: no slot in the fleet's share of the account quota before the deadline (next in ${grant.retryInMs} ms)`);
    }
  }

  async search(keys: readonly SearchKey[], mode: MatchMode, signal: AbortSignal, o: SearchOptions = {}): Promise<Match[]> {
    // `_phone` / `_email` match stored strings exactly: every spelling goes in the one call, and the
    // flow's other keys go with it as AdditionalSearchKeys (at most 4), joined by AND or OR.
    const [first, ...more] = keys;
    if (!first) return [];
    const out = await this.send(
      'SearchProfiles',
      () =>
        this.client.send(
          new SearchProfilesCommand({
            DomainName: this.domain,
            KeyName: first.name,
            Values: [...first.values],
            MaxResults: MAX_RESULTS,
            ...(more.length > 0 && {
              AdditionalSearchKeys: more.map((k) => ({ KeyName: k.name, Values: [...k.values] })),
              LogicalOperator: mode === 'all' ? 'AND' : 'OR',
            }),
          }),
          { abortSignal: signal },
        ),
      signal,
      'live',
      o.thenCreate ? ['CreateProfile'] : [],
    );
    return (out.Items ?? [])
      .filter((p) => typeof p.ProfileId === 'string')
      .map((p) => ({ profile: toProfile(p), foundBy: foundBy(p, keys, mode) }));
  }

  enrich(call: EnrichmentCall, profileId: string, signal: AbortSignal, anotherPage?: () => Promise<boolean>): Promise<EnrichmentResult> {
    switch (call.kind) {
      case 'calculated':
        return this.calculatedAttributes(profileId, signal, anotherPage);
      case 'object':
        return this.latestObject(call, profileId, signal, anotherPage);
      case 'segment':
        return this.inSegment(call.segment, profileId, signal);
    }
  }

  /**
   * The items of up to `maxPages` pages of a NextToken-paged list call (each page one call, in turn;
   * each after the first only when `anotherPage` allows it).
   */
  private async listPages<T>(
    operation: string,
    maxPages: number,
    page: (NextToken: string | undefined) => Promise<{ Items?: T[] | undefined; NextToken?: string | undefined }>,
    signal: AbortSignal,
    anotherPage: (() => Promise<boolean>) | undefined,
  ): Promise<T[]> {
    const items: T[] = [];
    let NextToken: string | undefined;
    for (let i = 0; i < maxPages; i++) {
      if (i > 0 && anotherPage && !(await anotherPage())) throw new AllowanceSpent(operation);
      const out = await this.send(operation, () => page(NextToken), signal);
      items.push(...(out.Items ?? []));
      NextToken = out.NextToken;
      if (!NextToken) break;
    }
    return items;
  }

  /**
   * Every calculated attribute of the profile by name, with what the model's ListCalculatedAttributeForProfileItem
   * says of its freshness: IsDataPartial (a string, "true" when computed from partial data) and LastObjectTimestamp
   * (the newest object the calculation includes).
   */
  private async calculatedAttributes(profileId: string, signal: AbortSignal, anotherPage?: () => Promise<boolean>): Promise<Record<string, CalculatedValue>> {
    const items = await this.listPages(
      'ListCalculatedAttributesForProfile',
      MAX_CALCULATED_PAGES,
      (NextToken) =>
        this.enrichClient.send(
          new ListCalculatedAttributesForProfileCommand({ DomainName: this.domain, ProfileId: profileId, MaxResults: MAX_RESULTS, NextToken }),
          { abortSignal: signal },
        ),
      signal,
      anotherPage,
    );
    const values: Record<string, CalculatedValue> = {};
    for (const item of items) {
      if (!item.CalculatedAttributeName || item.Value === undefined) continue;
      const partial = flagOf(item.IsDataPartial);
      const asOf = timeOfDate(item.LastObjectTimestamp);
      values[item.CalculatedAttributeName] = { value: item.Value, ...(partial !== undefined && { partial }), ...(asOf !== undefined && { asOf }) };
    }
    return values;
  }

  private async latestObject(
    call: Extract<EnrichmentCall, { kind: 'object' }>,
    profileId: string,
    signal: AbortSignal,
    anotherPage?: () => Promise<boolean>,
  ): Promise<Record<string, unknown> | undefined> {
    const items = await this.listPages(
      'ListProfileObjects',
      MAX_OBJECT_PAGES,
      (NextToken) =>
        this.enrichClient.send(
          new ListProfileObjectsCommand({
            DomainName: this.domain,
            ObjectTypeName: call.objectType,
            ProfileId: profileId,
            MaxResults: MAX_RESULTS,
            NextToken,
            ...(call.where && { ObjectFilter: { KeyName: call.where.key, Values: call.where.values } }),
          }),
          { abortSignal: signal },
        ),
      signal,
      anotherPage,
    );
    const objects: Array<{ uniqueKey: string; object: Record<string, unknown> }> = [];
    for (const item of items) {
      const object = parseObject(item.Object);
      if (object) objects.push({ uniqueKey: item.ProfileObjectUniqueKey ?? '', object });
    }
    return latestObject(objects, call.latestBy);
  }

  async history(profileId: string, sinceMs: number, signal: AbortSignal, allow?: (operation: string) => Promise<boolean>): Promise<HistoryRecord[]> {
    // one listing per kind of state record, side by side: filtered, they stay short where an unfiltered one would page
    // through every contact record this service ingests (INGESTED) and every contact key it adds (ADDED_PROFILE_KEY)
    const lists = await Promise.all(STATE_ACTIONS.map((action) => this.historyOf(profileId, action, signal, allow)));
    const states = lists.flat().flatMap(listed).sort(newestFirst);
    const before = plannedReads(states, sinceMs, MAX_HISTORY_READS);
    const ids = new Set([...before].flat());
    const contents = new Map(await Promise.all([...ids].map(async (id) => [id, await this.historyContent(profileId, id, signal, allow)] as const)));
    if (signal.aborted) throw new ProfileStoreError('timeout', 'GetProfileHistoryRecord: the deadline came');
    return states
      .filter((r) => r.createdAt >= sinceMs)
      .map((r) => {
        const record: HistoryRecord = { actionType: r.actionType, createdAt: r.createdAt, objectTypeName: r.objectTypeName };
        const [after, previous] = [contents.get(r.id), contents.get(before.get(r.id) ?? '')];
        return r.actionType === 'UPDATED' && after && previous ? { ...record, changedFields: changedFields(previous, after) } : record;
      });
  }

  /** Every record of one action type, all pages (none is judged before the last: no documented order), or HistoryTooLong. */
  private async historyOf(
    profileId: string,
    action: HistoryAction,
    signal: AbortSignal,
    allow: ((operation: string) => Promise<boolean>) | undefined,
  ): Promise<ProfileHistoryRecord[]> {
    const operation = 'ListProfileHistoryRecords';
    const records: ProfileHistoryRecord[] = [];
    let NextToken: string | undefined;
    for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
      if (allow && !(await allow(operation))) throw new AllowanceSpent(operation);
      const out = await this.send(
        operation,
        () =>
          this.enrichClient.send(
            new ListProfileHistoryRecordsCommand({ DomainName: this.domain, ProfileId: profileId, ActionType: action, MaxResults: MAX_RESULTS, NextToken }),
            { abortSignal: signal },
          ),
        signal,
      );
      records.push(...(out.ProfileHistoryRecords ?? []));
      NextToken = out.NextToken;
      if (!NextToken) return records;
    }
    throw new HistoryTooLong(action, MAX_HISTORY_PAGES * MAX_RESULTS);
  }

  /** A record's Content as a profile state; undefined when not allowed, failed, or not a JSON object (not known). */
  private async historyContent(
    profileId: string,
    id: string,
    signal: AbortSignal,
    allow: ((operation: string) => Promise<boolean>) | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    const operation = 'GetProfileHistoryRecord';
    if (allow && !(await allow(operation))) return undefined;
    try {
      const out = await this.send(
        operation,
        () => this.enrichClient.send(new GetProfileHistoryRecordCommand({ DomainName: this.domain, ProfileId: profileId, Id: id }), { abortSignal: signal }),
        signal,
      );
      return parseObject(out.Content);
    } catch {
      return undefined; // counted and logged by send(); this update's fields stay unknown
    }
  }

  /** The profile's membership, and when the segment was last computed (the response's LastComputedAt, not per profile). */
  private async inSegment(segment: string, profileId: string, signal: AbortSignal): Promise<Membership> {
    const out = await this.send(
      'GetSegmentMembership',
      () =>
        this.enrichClient.send(
          new GetSegmentMembershipCommand({ DomainName: this.domain, SegmentDefinitionName: segment, ProfileIds: [profileId] }),
          { abortSignal: signal },
        ),
      signal,
    );
    const result = out.Profiles?.find((p) => p.ProfileId === profileId)?.QueryResult;
    if (result === undefined) {
      // the profile is in Failures (or nowhere): no answer for it, which is not "absent"
      throw new ProfileStoreError('unavailable', `GetSegmentMembership gave no result for the profile (status ${out.Failures?.[0]?.Status ?? 'none'})`);
    }
    const computedAt = timeOfDate(out.LastComputedAt);
    return { member: result === 'PRESENT', ...(computedAt !== undefined && { computedAt }) };
  }

  async create(identity: Identity, context: CreateContext, signal: AbortSignal): Promise<Profile> {
    const fields =
      identity.type === 'PHONE' ? { PhoneNumber: identity.e164 } : { EmailAddress: identity.address };
    const Attributes = { createdBy: PROFILE_SOURCE, createdFromContactId: context.contactId };
    const out = await this.send(
      'CreateProfile',
      () =>
        this.client.send(
          new CreateProfileCommand({ DomainName: this.domain, PartyTypeString: 'INDIVIDUAL', ...fields, Attributes }),
          { abortSignal: signal },
        ),
      signal,
      'live',
    );
    if (!out.ProfileId) throw new ProfileStoreError('unavailable', 'CreateProfile answered without a ProfileId');
    return { ProfileId: out.ProfileId, PartyTypeString: 'INDIVIDUAL', ...fields, Attributes };
  }
}

/** IsDataPartial: the model documents "true" for partial data, as a string (string1To255), so read leniently; undefined when neither "true" nor "false". */
function flagOf(text: string | undefined): boolean | undefined {
  const t = text?.trim().toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

/** A timestamp member as the SDK gives it (a Date), as epoch ms; undefined when absent or not a time. */
function timeOfDate(date: Date | undefined): number | undefined {
  const ms = date?.getTime();
  return ms === undefined || Number.isNaN(ms) ? undefined : ms;
}

/** A profile object's JSON text as an object; anything else (not JSON, not an object) is skipped. */
function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
