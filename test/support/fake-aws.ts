// HTTP fake of the Customer Profiles REST API (restJson1) and of Connect's UpdateContactAttributes.
// The real AWS SDK is pointed at it (`endpoint: fake.url`); shapes follow the installed SDK schemas
// (node_modules/@aws-sdk/client-customer-profiles/dist-es/schemas/schemas_0.js).
// Errors: status + `x-amzn-ErrorType` header + `{"Message": "..."}`, which the SDK maps to its exception classes.
// The account quota (off unless set): per operation, at most N calls in any sliding 1000 ms window; past it a call
// is answered 429 `ThrottlingException` (both models: customer-profiles' and connect's ThrottlingException are
// httpError 429, registered as errors of their namespace, so the SDK gives that name even for an operation whose
// errors do not list it, such as Connect's UpdateContactAttributes).
// Input constraints (400 BadRequestException) are the service model's (aws/api-models-aws customer-profiles-2020-08-15.json).
// Profile history (ListProfileHistoryRecords, GetProfileHistoryRecord): the operations this fake serves record what they
// did to a profile: CreateProfile CREATED, UpdateProfile UPDATED, AddProfileKey ADDED_PROFILE_KEY, PutProfileObject
// INGESTED, MergeProfiles MERGED on the main profile and DELETED_BY_MERGE on each merged one (DeleteProfileKey is not
// served: seedHistory seeds DELETED_PROFILE_KEY).
// Duplicates: MergeProfiles (keys, objects and fields to the main profile, FieldSourceProfileIds honoured, the merged
// profiles deleted); GetMatches and GetSimilarProfiles answer the match groups seedMatches gives (identity resolution's
// results: this fake runs no matching job), and refuse a domain with none of that type seeded, as a domain without
// matching enabled (BadRequestException: the message is this fake's, the API reference names none).
// Two things the API reference leaves open, chosen here and said where they matter: the ObjectTypeName of a record about
// the profile itself (HISTORY_PROFILE_TYPE), and what an UPDATED record's Content holds ("a string containing the
// customer profile, profile object, or profile key content": here the whole profile as the update left it).
// Kinesis (fake-kinesis.ts) on the same port, routed by X-Amz-Target: with an event stream set (setEventStream,
// as CreateEventStream would), the profiles' changes go to it as Customer Profiles' real-time export writes them
// (see profileEvent for the format and where each field comes from).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { FakeKinesis, KINESIS_TARGET_PREFIX, KinesisError } from './fake-kinesis.js';

export interface FakeProfile { ProfileId: string; [field: string]: unknown }
/** operation is 'Unknown' when no route matched; body is the raw text when not JSON; at = Date.now() on receipt;
 *  status is 0 while unanswered (hanging). */
export interface FakeCall { service: 'profiles' | 'connect' | 'kinesis'; operation: string; domain?: string; body: unknown; at: number; status: number }
/** times: how many calls it affects (default unlimited); operations: default all. */
export interface Fault {
  status: number; errorType: string; message?: string; retryAfterSeconds?: number; times?: number; operations?: string[];
}
export type Latency = number | Partial<Record<string, number>>; // per operation name; '*' = any other operation
/**
 * The account quota: accountQuotaPerSecond for each Customer Profiles operation, connectQuotaPerSecond for Connect's
 * UpdateContactAttributes; calls a second per operation in a sliding 1000 ms window (refused calls do not count
 * against it). Unset or 0: no limit (the default).
 */
export interface FakeQuota { accountQuotaPerSecond?: number; connectQuotaPerSecond?: number }
/** domains default ['test-domain']; profileWriteIntervalMs: per-profile PutProfileObject/UpdateProfile window, default 1000, 0 = off. */
export interface FakeAwsOptions extends FakeQuota { latencyMs?: Latency; domains?: string[]; profileWriteIntervalMs?: number }
/**
 * One second (epoch seconds) of an operation's calls: sent (every call that arrived, refused ones included), refused
 * (answered 429 by the account quota), windowMax (the most calls that arrived in any 1000 ms window ending in this
 * second, refused ones included).
 */
export interface QuotaSecond { second: number; operations: Record<string, { sent: number; refused: number; windowMax: number }> }
export interface FakeObject { profileId: string; objectTypeName: string; object: Record<string, unknown>; uniqueKey: string; at: number }
/** The model's ActionType enum (customer-profiles 2020-08-15): note INGESTED, not INGESTION. */
export const HISTORY_ACTIONS = ['ADDED_PROFILE_KEY', 'DELETED_PROFILE_KEY', 'CREATED', 'UPDATED', 'INGESTED', 'DELETED_BY_CUSTOMER', 'EXPIRED',
  'MERGED', 'DELETED_BY_MERGE'] as const;
export type HistoryAction = (typeof HISTORY_ACTIONS)[number];
/**
 * The ObjectTypeName of the records about the profile itself (created, updated, a key added). Not documented: the model
 * only requires a `typeName`; `_profile` is the name the object types' mappings give the profile (`_profile.PhoneNumber`).
 */
export const HISTORY_PROFILE_TYPE = '_profile';
/** A history record as stored: createdAt / lastUpdatedAt in ms; content the JSON text GetProfileHistoryRecord answers. */
export interface FakeHistoryRecord {
  id: string; profileId: string; actionType: HistoryAction; objectTypeName: string; createdAt: number; lastUpdatedAt?: number;
  uniqueKey?: string; performedBy?: string; content?: string;
}
/**
 * What seedHistory (and POST /__fake/history) takes: createdAt in ms, a Date or an ISO 8601 string; content an object
 * (stored as its JSON) or the text itself; objectTypeName default HISTORY_PROFILE_TYPE; id default a new one.
 */
export interface HistorySeed {
  actionType: HistoryAction; createdAt: number | Date | string; objectTypeName?: string; content?: string | Record<string, unknown>;
  lastUpdatedAt?: number | Date | string; profileObjectUniqueKey?: string; performedBy?: string; id?: string;
}
/** displayNames: per attribute name (default the name); lastObjectTimestamp: ms or Date (default: not sent). */
export interface CalculatedAttributeOptions { displayNames?: Record<string, string>; isDataPartial?: boolean; lastObjectTimestamp?: Date | number }
/** computedAt: when the segment's membership was last computed, ms or Date (GetSegmentMembership's LastComputedAt, optional in
 *  the model; default: when seeded; null: not sent). */
export interface SegmentOptions { computedAt?: Date | number | null }
/**
 * What POST /__fake/seed and fake-aws-server's `--seed FILE` take: an array of profiles (as seedProfile), or this document,
 * applied in this order (so `profiles` may define the ProfileIds the rest name). Not atomic: a bad entry answers 400
 * after the entries before it were seeded.
 */
export interface SeedDocument {
  profiles?: Array<Record<string, unknown>>;
  calculatedAttributes?: Array<{ profileId: string; values: Record<string, string> } & CalculatedAttributeOptions>;
  objects?: Array<{ profileId: string; objectTypeName: string; object: Record<string, unknown>; uniqueKey?: string }>;
  segments?: Array<{ name: string; profileIds: string[]; domain?: string } & SegmentOptions>;
}

type Json = Record<string, unknown>;
/** A profile of config/embedded-profiles.json and what it carries beside it (see ProfileSeed in src/domain/profile.ts). */
type EmbeddedSeed = Omit<FakeProfile, 'ProfileId'> & { ProfileId?: string;
  searchKeys?: Record<string, string[]>; calculatedAttributes?: Record<string, string>;
  objects?: Record<string, Array<Record<string, unknown>>>; segments?: string[] };
interface DomainInfo { createdAt: number; deadLetterQueueUrl?: string; defaultEncryptionKey?: string }
/** The model's MatchType enum (GetSimilarProfiles): rule-based matching, or the ML identity resolution job's GetMatches answers. */
export const MATCH_TYPES = ['RULE_BASED_MATCHING', 'ML_BASED_MATCHING'] as const;
export type MatchType = (typeof MATCH_TYPES)[number];
/** One match group: its MatchId (default a new one), the profiles in it, ConfidenceScore (ML, 0-1) or RuleLevel (rule-based). */
export interface MatchGroupSeed { matchId?: string; profileIds: string[]; confidenceScore?: number; ruleLevel?: number }
interface MatchGroup { matchId: string; profileIds: string[]; confidenceScore?: number; ruleLevel?: number }
interface Matching { generatedAt: number; groups: MatchGroup[] }
/**
 * FieldSourceProfileIds' members (customer-profiles 2020-08-15 and the installed SDK's schema): the profile each
 * field is taken from. `Attributes` is a map of attribute name -> profile id. PartyType and Gender take their
 * free-text forms (PartyTypeString, GenderString) with them.
 */
export const MERGE_SOURCE_FIELDS = ['AccountNumber', 'AdditionalInformation', 'PartyType', 'BusinessName', 'FirstName', 'MiddleName',
  'LastName', 'BirthDate', 'Gender', 'PhoneNumber', 'MobilePhoneNumber', 'HomePhoneNumber', 'BusinessPhoneNumber', 'EmailAddress',
  'PersonalEmailAddress', 'BusinessEmailAddress', 'Address', 'ShippingAddress', 'MailingAddress', 'BillingAddress', 'ProfileType',
  'EngagementPreferences'] as const;
const WITH_TEXT_FORM: Record<string, string> = { PartyType: 'PartyTypeString', Gender: 'GenderString' };
interface TypeKey { StandardIdentifiers?: string[]; FieldNames?: string[] }
interface StoredObject extends FakeObject { domain: string; uniqueValue?: string }
interface CalculatedAttribute { DisplayName: string; IsDataPartial: string; Value: string; LastObjectTimestamp?: number }
interface Segment { members: Set<string>; computedAt: number | undefined }
type SearchKey = { KeyName: string; Values: string[] };
interface Held { run: () => void; res: ServerResponse }

class AwsError extends Error {
  constructor(readonly status: number, readonly errorType: string, message: string) { super(message); }
}
const badRequest = (message: string): AwsError => new AwsError(400, 'BadRequestException', message);
const notFound = (message: string): AwsError => new AwsError(404, 'ResourceNotFoundException', message);

// Standard search keys derived from profile fields; every other key name is matched against profile keys.
const STANDARD_KEYS: Record<string, readonly string[]> = {
  _phone: ['PhoneNumber', 'MobilePhoneNumber', 'HomePhoneNumber', 'BusinessPhoneNumber'],
  _email: ['EmailAddress', 'PersonalEmailAddress', 'BusinessEmailAddress'],
  _profileId: ['ProfileId'],
  _account: ['AccountNumber'],
};
export const OBJECT_THROTTLE_MESSAGE = 'Too many objects ingested on the profile per second';
export const ACCOUNT_THROTTLE_MESSAGE = 'Rate exceeded';
/** the key that associates a contact with a profile (the contact record Connect ingests lands on it) */
const CONTACT_KEY = '_ctrContactId';
const WINDOW_MS = 1000;

/** Times of calls in the last WINDOW_MS, oldest first. */
class SlidingWindow {
  private times: number[] = [];
  private head = 0;

  /** how many times are in (at - WINDOW_MS, at] once older ones are dropped */
  count(at: number): number {
    while (this.head < this.times.length && this.times[this.head]! <= at - WINDOW_MS) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  add(at: number): void { this.times.push(at); }
}

const LIST_TYPE_FIELDS = ['ObjectTypeName', 'Description', 'CreatedAt', 'LastUpdatedAt', 'MaxProfileObjectCount', 'SourcePriority', 'Tags'];
const D = '/domains/([^/]+)';
const ROUTES: ReadonlyArray<readonly [string, RegExp, string]> = [
  ['GET', new RegExp(`^${D}$`), 'GetDomain'],
  ['POST', new RegExp(`^${D}/profiles$`), 'CreateProfile'],
  ['PUT', new RegExp(`^${D}/profiles$`), 'UpdateProfile'],
  ['POST', new RegExp(`^${D}/profiles/search$`), 'SearchProfiles'],
  ['POST', new RegExp(`^${D}/profiles/keys$`), 'AddProfileKey'],
  ['POST', new RegExp(`^${D}/profiles/delete$`), 'DeleteProfile'],
  ['PUT', new RegExp(`^${D}/profiles/objects$`), 'PutProfileObject'],
  ['GET', new RegExp(`^${D}/object-types$`), 'ListProfileObjectTypes'],
  ['GET', new RegExp(`^${D}/object-types/([^/]+)$`), 'GetProfileObjectType'],
  ['PUT', new RegExp(`^${D}/object-types/([^/]+)$`), 'PutProfileObjectType'],
  ['DELETE', new RegExp(`^${D}/object-types/([^/]+)$`), 'DeleteProfileObjectType'],
  ['POST', new RegExp(`^${D}/profiles/objects$`), 'ListProfileObjects'],
  ['GET', new RegExp(`^${D}/profile/([^/]+)/calculated-attributes$`), 'ListCalculatedAttributesForProfile'],
  ['POST', new RegExp(`^${D}/segments/([^/]+)/membership$`), 'GetSegmentMembership'],
  ['POST', new RegExp(`^${D}/profiles/history-records$`), 'ListProfileHistoryRecords'],
  ['GET', new RegExp(`^${D}/profiles/([^/]+)/history-records/([^/]+)$`), 'GetProfileHistoryRecord'],
  ['POST', new RegExp(`^${D}/profiles/objects/merge$`), 'MergeProfiles'],
  ['GET', new RegExp(`^${D}/matches$`), 'GetMatches'],
  ['POST', new RegExp(`^${D}/matches$`), 'GetSimilarProfiles'],
  ['POST', /^\/contact\/attributes$/, 'UpdateContactAttributes'],
];

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every(isStr);
const epochSeconds = (ms: number): number => ms / 1000; // restJson1 default timestamp format
const hexId = (): string => randomBytes(16).toString('hex');
const newUniqueKey = (): string => randomBytes(12).toString('base64url');
// The model's shapes: `name` (KeyName, SegmentDefinitionName), `typeName` (ObjectTypeName, CalculatedAttributeName),
// `uuid` (ProfileId), `string1To255` (a key value).
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const TYPE_NAME = /^[a-zA-Z_][a-zA-Z_0-9-]{0,254}$/;
const UUID = /^[a-f0-9]{32}$/;
const isValue = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 255;
/** A search key / ObjectFilter: KeyName a `name`, Values a non-empty list of `string1To255`. */
const isSearchKey = (k: unknown): k is SearchKey =>
  isObject(k) && typeof k.KeyName === 'string' && NAME.test(k.KeyName) && Array.isArray(k.Values) && k.Values.length > 0 && k.Values.every(isValue);
const isIdList = (v: unknown): v is string[] => Array.isArray(v) && v.every((id) => typeof id === 'string' && UUID.test(id));
const isAction = (v: unknown): v is HistoryAction => (HISTORY_ACTIONS as readonly unknown[]).includes(v);
/** ms from a number (ms), a Date or an ISO 8601 string; NaN when it is none of them */
const toMs = (v: unknown): number => (typeof v === 'number' ? v : v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN);

function send(res: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-amzn-RequestId': randomUUID(),
    ...headers,
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** max-results (the model's maxSize100: 1..100) and next-token (1..1024 chars, our own encoding) of a list call. */
function pageArgs(query: URLSearchParams, defaultMax: number): { offset: number; max: number } {
  const max = Number(query.get('max-results') ?? defaultMax);
  if (!Number.isInteger(max) || max < 1 || max > 100) throw badRequest('max-results must be between 1 and 100');
  const token = query.get('next-token');
  const offset = token === null ? 0 : token === '' ? NaN : Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isInteger(offset) || offset < 0) throw badRequest('Invalid NextToken');
  return { offset, max };
}

/**
 * ListProfileObjects' order. The API documents none, so a client must not assume one: by ingestion time t0..tn-1 the
 * objects come as [t1, tn-1, t0, t2, ..., tn-2], neither oldest- nor newest-first, and for 3+ objects Items[0] is
 * neither the oldest nor the newest; two objects come oldest first (Items[0] is not the newest). Deterministic, so
 * pages are consistent while the objects don't change.
 */
function notByTime<T extends { at: number }>(objects: T[]): T[] {
  const [oldest, ...more] = [...objects].sort((a, b) => a.at - b.at); // stable: same ms keeps insertion order
  const newest = more.pop();
  if (!oldest || !newest) return oldest ? [oldest] : [];
  const [second, ...rest] = more;
  return second ? [second, newest, oldest, ...rest] : [oldest, newest];
}

type TypeFields = Record<string, { Source?: string; Target?: string }>;
const typeFields = (type: Json): TypeFields => (isObject(type.Fields) ? type.Fields : {}) as TypeFields;
const typeKeyDefs = (type: Json): Array<{ keyName: string; def: TypeKey }> =>
  Object.entries((isObject(type.Keys) ? type.Keys : {}) as Record<string, TypeKey[]>).flatMap(([keyName, defs]) => defs.map((def) => ({ keyName, def })));
const hasId = (def: TypeKey, id: string): boolean => def.StandardIdentifiers?.includes(id) ?? false;

/** Reads `_source.a.b` (or `a.b`) from an ingested object; scalars only, as strings. */
function readSource(obj: Json, source: string): string | undefined {
  let cur: unknown = obj;
  for (const part of source.replace(/^_source\./, '').split('.')) cur = isObject(cur) ? cur[part] : undefined;
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean' ? String(cur) : undefined;
}

/** A key's value in an object: its FieldNames, resolved through Fields[name].Source, joined; undefined if one is missing. */
function keyValue(fields: TypeFields, object: Json, def: TypeKey): string | undefined {
  const vals = (def.FieldNames ?? []).map((f) => readSource(object, fields[f]?.Source ?? f));
  return vals.length > 0 && vals.every((v) => v !== undefined) ? vals.join('') : undefined;
}

/** The EventType values of the real-time export's records this fake writes (see profileEvent). */
export type ProfileEventType = 'CREATED' | 'UPDATED' | 'MERGED' | 'DELETED';

/**
 * One record of Customer Profiles' real-time export, as it writes each change to the Kinesis stream of the domain's
 * event stream (CreateEventStream's Uri). The fields are the Amazon Connect Administrator Guide's, "Export your unified
 * customer profile data" (adminguide/set-up-real-time-export.html), "Real-time export Kinesis payload": SchemaVersion (0),
 * EventId, EventTimestamp (ISO 8601), EventType, DomainName, ObjectTypeName, AssociatedProfileId, ProfileObjectUniqueKey,
 * Object, IsMessageRealTime. What the guide's sample leaves open comes from an AWS consumer of such a stream, AWS
 * Solutions' Unified Profiles for Travelers and Hospitality (aws-solutions/unified-profile-for-travellers-and-guests-on-aws:
 * source/ucp-change-processor/src/main/main.go, source/ucp-common/src/model/change-event/model.go): EventType CREATED,
 * UPDATED, MERGED (and DELETED, which it handles; the guide documents no delete event, and its emitter notes that
 * Customer Profiles sends none: this fake writes DELETED only when a test asks); a record about the profile itself has
 * ObjectTypeName `_profile` and the profile as Object (its ProfileId and the API's field names); a MERGED record's Object
 * is the profile kept, with MergeId and DuplicateProfiles (the profiles merged into it, each with its ProfileId) and
 * AssociatedProfileId null; an object's record names its profile in AssociatedProfileId and the object in
 * ProfileObjectUniqueKey. Chosen here: the partition key is the profile id (as that solution's own emitter does: a
 * profile's records stay in order on one shard), and a `_profile` CREATED or UPDATED record's AssociatedProfileId is its
 * ProfileId (likewise).
 */
export function profileEvent(
  domain: string, eventType: string, objectTypeName: string, object: Record<string, unknown>, at: number,
  more: { associatedProfileId?: string | null; uniqueKey?: string; mergeId?: string; duplicates?: Array<Record<string, unknown>> } = {},
): Record<string, unknown> {
  return {
    SchemaVersion: 0, EventId: randomUUID(), EventTimestamp: new Date(at).toISOString(), EventType: eventType, DomainName: domain,
    ObjectTypeName: objectTypeName, AssociatedProfileId: more.associatedProfileId ?? null, ProfileObjectUniqueKey: more.uniqueKey ?? null,
    Object: structuredClone(object),
    ...(more.mergeId !== undefined && { MergeId: more.mergeId, DuplicateProfiles: structuredClone(more.duplicates ?? []) }),
    IsMessageRealTime: true,
  };
}

export class FakeAws {
  calls: FakeCall[] = [];
  /** Kinesis, served on the same port (routed by X-Amz-Target): the event streams' destination */
  readonly kinesis: FakeKinesis;
  /** per domain, the Kinesis stream its profiles' changes go to (setEventStream) */
  private readonly eventStreams = new Map<string, string>();
  private server: Server | undefined;
  private baseUrl = '';
  private latency: Latency;
  private readonly writeIntervalMs: number;
  private readonly domains = new Map<string, DomainInfo>();
  private readonly store = new Map<string, { domain: string; profile: FakeProfile }>();
  private readonly keys = new Map<string, Map<string, Set<string>>>();
  private readonly types = new Map<string, Json>(); // `${domain}/${name}`
  private stored: StoredObject[] = [];
  private readonly lastWrite = new Map<string, number>();
  private readonly contacts = new Map<string, Record<string, string>>();
  /** per ContactId: when an AddProfileKey `_ctrContactId` first wrote it (epoch ms, as the call was handled) */
  private readonly contactKeys = new Map<string, number>();
  private readonly calculated = new Map<string, Map<string, CalculatedAttribute>>(); // profile id -> name -> attribute
  private readonly segments = new Map<string, Segment>(); // `${domain}/${name}`
  private readonly historyRecords = new Map<string, FakeHistoryRecord[]>(); // profile id -> its records, oldest first
  private readonly matching = new Map<string, Matching>(); // `${domain}/${MatchType}`
  private faults: Fault[] = [];
  private hangOps: Set<string> | 'all' | null = null;
  private held: Held[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private quota: Required<FakeQuota> = { accountQuotaPerSecond: 0, connectQuotaPerSecond: 0 };
  /** per operation: the calls let through (what the quota counts) and every call that arrived (windowMax) */
  private admitted = new Map<string, SlidingWindow>();
  private arrived = new Map<string, SlidingWindow>();
  private perSecond = new Map<number, QuotaSecond['operations']>();

  constructor(options: FakeAwsOptions = {}) {
    this.latency = options.latencyMs ?? 0;
    this.setQuota(options);
    this.writeIntervalMs = options.profileWriteIntervalMs ?? 1000;
    this.kinesis = new FakeKinesis();
    for (const d of options.domains ?? ['test-domain']) this.setDomain(d);
  }

  get url(): string {
    if (!this.server) throw new Error('FakeAws is not started');
    return this.baseUrl;
  }

  async start(port = 0): Promise<string> {
    if (this.server) throw new Error('FakeAws already started');
    const server = createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('unexpected server address');
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${addr.port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.dropHeld();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections(); // also kills keep-alive and hanging sockets
    await closed;
  }

  /** the calls of the resolve hot path (lookups and creations), without the background record writes */
  lookupCalls(): FakeCall[] { return this.calls.filter((c) => c.operation === 'SearchProfiles' || c.operation === 'CreateProfile'); }
  callsTo(operation: string): FakeCall[] { return this.calls.filter((c) => c.operation === operation); }
  /** Successful PutProfileObject calls per ContactId: how many times each contact record was written. */
  recordWritesByContact(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.callsTo('PutProfileObject')) {
      if (c.status !== 200) continue;
      const id = String((JSON.parse((c.body as { Object: string }).Object) as { ContactId: string }).ContactId);
      out.set(id, (out.get(id) ?? 0) + 1);
    }
    return out;
  }

  /** Clears profiles, keys, objects (ingested and seeded), calculated attributes, history, segment members, contact attributes,
   *  the contact keys' times, throttle windows, calls, faults, hang (held requests are dropped) and the quota's windows and stats. Keeps domains,
   *  object types, segment definitions (like object types: a segment seeded once stays defined, with no members),
   *  latency, the quota's limits, the event streams and Kinesis (its streams and records: `kinesis.clear()` drops them). */
  reset(): void {
    this.store.clear(); this.keys.clear(); this.stored = []; this.lastWrite.clear(); this.contacts.clear(); this.contactKeys.clear();
    this.calculated.clear(); this.historyRecords.clear(); this.matching.clear();
    for (const s of this.segments.values()) s.members.clear();
    this.calls.splice(0); this.faults = []; this.hangOps = null;
    this.admitted.clear(); this.arrived.clear(); this.perSecond.clear();
    this.dropHeld();
  }

  setDomain(name: string, opts: { deadLetterQueueUrl?: string; defaultEncryptionKey?: string } = {}): void {
    this.domains.set(name, { createdAt: this.domains.get(name)?.createdAt ?? Date.now(), ...opts });
  }

  /**
   * Sends the domain's profile changes to a Kinesis stream of this fake (created with `shards` shards if it does not
   * exist), as CreateEventStream with that stream's ARN as Uri would; undefined stops them. Returns the stream's ARN.
   * What is written: CreateProfile a `_profile` CREATED record, UpdateProfile UPDATED, PutProfileObject the object's
   * CREATED (or UPDATED, when its UNIQUE key replaced one) and the profile's CREATED (AllowProfileCreation) or UPDATED
   * (when its mapped fields changed the profile), seedMerge MERGED. AddProfileKey writes nothing: the guide does not say
   * that a key is exported. Seeding writes nothing (what is seeded was there before the stream).
   */
  setEventStream(streamName: string | undefined, o: { domain?: string; shards?: number } = {}): string | undefined {
    const domain = o.domain ?? this.defaultDomain();
    if (streamName === undefined) { this.eventStreams.delete(domain); return undefined; }
    if (!this.kinesis.hasStream(streamName)) this.kinesis.createStream(streamName, o.shards ?? 1);
    this.eventStreams.set(domain, streamName);
    return this.kinesis.arnOf(streamName);
  }

  /** Writes one record of the real-time export (profileEvent) to the domain's event stream, if it has one; the emitter others call. */
  emitProfileEvent(domain: string, eventType: ProfileEventType, profile: FakeProfile, at = Date.now(),
    more: { mergeId?: string; duplicates?: FakeProfile[] } = {}): Record<string, unknown> | undefined {
    const stream = this.eventStreams.get(domain);
    if (!stream) return undefined;
    const event = profileEvent(domain, eventType, HISTORY_PROFILE_TYPE, profile, at,
      { associatedProfileId: eventType === 'MERGED' ? null : profile.ProfileId, ...more });
    this.kinesis.put(stream, profile.ProfileId, JSON.stringify(event));
    return event;
  }

  /** An object's record (CREATED or UPDATED) on the domain's event stream, if it has one. */
  private emitObjectEvent(domain: string, eventType: 'CREATED' | 'UPDATED', o: StoredObject, at: number): void {
    const stream = this.eventStreams.get(domain);
    if (!stream) return;
    const event = profileEvent(domain, eventType, o.objectTypeName, o.object, at, { associatedProfileId: o.profileId, uniqueKey: o.uniqueKey });
    this.kinesis.put(stream, o.profileId, JSON.stringify(event));
  }

  /**
   * Merges profiles as MergeProfiles does (not served here): the main profile keeps its fields and takes the ones it
   * lacks from the others ("union"-ed, the main profile's value taken on a conflict), their keys and objects move to it,
   * they are deleted; recorded MERGED on the main profile and DELETED_BY_MERGE on the others; one MERGED record on the
   * event stream (see profileEvent). Returns the MergeId.
   */
  seedMerge(mainProfileId: string, profileIdsToBeMerged: string[], at = Date.now()): string {
    const { domain, profile: main } = this.seeded(mainProfileId, 'seedMerge');
    const duplicates = profileIdsToBeMerged.map((id) => {
      const entry = this.seeded(id, 'seedMerge');
      if (entry.domain !== domain || id === mainProfileId) throw new Error(`FakeAws.seedMerge: ${id} cannot be merged into ${mainProfileId}`);
      return entry.profile;
    });
    for (const dup of duplicates) {
      for (const [k, v] of Object.entries(dup)) if (!(k in main)) main[k] = structuredClone(v);
      // its keys, the standard ones its fields gave too (its phone number now finds the main profile)
      for (const { keyName, values } of this.profileKeys(dup.ProfileId)) this.addKey(main.ProfileId, keyName, values);
      for (const keyName of Object.keys(STANDARD_KEYS).filter((k) => k !== '_profileId')) {
        const values = this.keyValues(dup, keyName);
        if (values.length > 0) this.addKey(main.ProfileId, keyName, values);
      }
      for (const o of this.stored) if (o.profileId === dup.ProfileId) o.profileId = main.ProfileId;
      this.store.delete(dup.ProfileId); this.keys.delete(dup.ProfileId);
      this.recordHistory(dup.ProfileId, 'DELETED_BY_MERGE', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify(dup) });
    }
    this.recordHistory(main.ProfileId, 'MERGED', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify(main) });
    const mergeId = randomUUID();
    this.emitProfileEvent(domain, 'MERGED', main, at, { mergeId, duplicates });
    return mergeId;
  }

  seedProfile(p: Omit<FakeProfile, 'ProfileId'> & { ProfileId?: string }, domain = this.defaultDomain()): FakeProfile {
    if (!this.domains.has(domain)) this.setDomain(domain);
    const profile: FakeProfile = { ...p, ProfileId: p.ProfileId ?? hexId() };
    this.store.set(profile.ProfileId, { domain, profile });
    return profile;
  }

  profiles(): FakeProfile[] { return [...this.store.values()].map((e) => e.profile); }

  /** Sets (or overwrites) calculated attributes of a seeded profile: name -> Value; IsDataPartial 'false' by default. */
  seedCalculatedAttributes(profileId: string, values: Record<string, string>, opts: CalculatedAttributeOptions = {}): void {
    this.seeded(profileId, 'seedCalculatedAttributes');
    const attrs = this.calculated.get(profileId) ?? this.calculated.set(profileId, new Map()).get(profileId)!;
    const at = opts.lastObjectTimestamp;
    for (const [name, Value] of Object.entries(values)) {
      if (!TYPE_NAME.test(name) || !isValue(Value)) throw new Error(`FakeAws.seedCalculatedAttributes: invalid name or value for ${name}`);
      attrs.set(name, { DisplayName: opts.displayNames?.[name] ?? name, IsDataPartial: String(opts.isDataPartial ?? false), Value,
        ...(at !== undefined && { LastObjectTimestamp: epochSeconds(Number(at)) }) });
    }
  }

  /** Stores an object on a seeded profile as if ingested now (no throttle window, no _profile mapping, no keys indexed);
   *  replaces the object of that type with the same uniqueKey. The object type need not be defined. */
  seedObject(profileId: string, objectTypeName: string, object: Record<string, unknown>, uniqueKey?: string): FakeObject {
    const { domain } = this.seeded(profileId, 'seedObject');
    if (!TYPE_NAME.test(objectTypeName)) throw new Error(`FakeAws.seedObject: invalid object type name ${objectTypeName}`);
    const type = this.types.get(`${domain}/${objectTypeName}`);
    const uniqueDef = type && typeKeyDefs(type).find((k) => hasId(k.def, 'UNIQUE'));
    const record: StoredObject = { domain, profileId, objectTypeName, object, uniqueKey: uniqueKey ?? newUniqueKey(), at: Date.now(),
      uniqueValue: type && uniqueDef ? keyValue(typeFields(type), object, uniqueDef.def) : undefined };
    const i = this.stored.findIndex((o) => o.domain === domain && o.objectTypeName === objectTypeName && o.uniqueKey === record.uniqueKey);
    if (i >= 0) this.stored[i] = record; else this.stored.push(record);
    return { profileId, objectTypeName, object, uniqueKey: record.uniqueKey, at: record.at };
  }

  /** Defines segment `name` in `domain` with exactly these members (replacing earlier ones); ids need not exist. */
  seedSegment(name: string, profileIds: string[], domain = this.defaultDomain(), opts: SegmentOptions = {}): void {
    if (!NAME.test(name)) throw new Error(`FakeAws.seedSegment: invalid segment definition name ${name}`);
    if (!this.domains.has(domain)) this.setDomain(domain);
    const computedAt = opts.computedAt === undefined ? Date.now() : opts.computedAt === null ? undefined : Number(opts.computedAt);
    if (computedAt !== undefined && !Number.isFinite(computedAt)) throw new Error(`FakeAws.seedSegment: invalid computedAt for ${name}`);
    this.segments.set(`${domain}/${name}`, { members: new Set(profileIds), computedAt });
  }

  /** Adds search key values to a seeded profile, as AddProfileKey would (e.g. a custom key such as loyaltyId). */
  seedKey(profileId: string, keyName: string, values: string[]): void {
    this.seeded(profileId, 'seedKey');
    this.addKey(profileId, keyName, values);
  }

  /**
   * Adds history records to a seeded profile, as if the service had recorded them at their createdAt ("the phone changed
   * 3 days ago": a CREATED record long ago holding the old number, an UPDATED one 3 days ago holding the new). Checked
   * against the model's shapes; returns the stored records.
   */
  seedHistory(profileId: string, records: readonly HistorySeed[]): FakeHistoryRecord[] {
    this.seeded(profileId, 'seedHistory');
    const bad = (what: string): never => { throw new Error(`FakeAws.seedHistory: ${what}`); };
    const stored = records.map((r) => {
      if (!isAction(r.actionType)) bad(`actionType must be one of ${HISTORY_ACTIONS.join(', ')} (got ${String(r.actionType)})`);
      const createdAt = toMs(r.createdAt);
      const lastUpdatedAt = r.lastUpdatedAt === undefined ? undefined : toMs(r.lastUpdatedAt);
      if (!Number.isFinite(createdAt) || (lastUpdatedAt !== undefined && !Number.isFinite(lastUpdatedAt))) bad('createdAt / lastUpdatedAt must be ms, a Date or an ISO 8601 string');
      const objectTypeName = r.objectTypeName ?? HISTORY_PROFILE_TYPE;
      if (!TYPE_NAME.test(objectTypeName)) bad(`invalid objectTypeName ${objectTypeName}`);
      if (r.id !== undefined && !UUID.test(r.id)) bad('id must be 32 hex digits');
      if (![r.profileObjectUniqueKey, r.performedBy].every((v) => v === undefined || isValue(v))) bad('profileObjectUniqueKey / performedBy must be 1-255 chars');
      const content = typeof r.content === 'string' || r.content === undefined ? r.content : JSON.stringify(r.content);
      if (content !== undefined && (content.length < 1 || content.length > 256_000)) bad('content must be 1-256000 chars');
      return this.recordHistory(profileId, r.actionType, objectTypeName, createdAt, {
        ...(r.id !== undefined && { id: r.id }), ...(lastUpdatedAt !== undefined && { lastUpdatedAt }), ...(content !== undefined && { content }),
        ...(r.profileObjectUniqueKey !== undefined && { uniqueKey: r.profileObjectUniqueKey }), ...(r.performedBy !== undefined && { performedBy: r.performedBy }),
      });
    });
    return stored.map((r) => ({ ...r }));
  }

  /**
   * Identity resolution's results for a domain, as if its job had run at `generatedAt` (default now): the match groups
   * of one MatchType, replacing earlier ones of that type. GetMatches answers the ML_BASED_MATCHING groups,
   * GetSimilarProfiles the groups of the type it asks for. Profile ids need not exist (a job's results go stale).
   */
  seedMatches(matchType: MatchType, groups: readonly MatchGroupSeed[], o: { domain?: string; generatedAt?: number } = {}): MatchGroup[] {
    const domain = o.domain ?? this.defaultDomain();
    if (!(MATCH_TYPES as readonly string[]).includes(matchType)) throw new Error(`FakeAws.seedMatches: matchType must be one of ${MATCH_TYPES.join(', ')}`);
    const stored = groups.map((g) => {
      if (!isIdList(g.profileIds) || g.profileIds.length < 1) throw new Error('FakeAws.seedMatches: profileIds must be 1 or more ids ([a-f0-9]{32})');
      if (g.confidenceScore !== undefined && !(g.confidenceScore >= 0 && g.confidenceScore <= 1)) throw new Error('FakeAws.seedMatches: confidenceScore is 0-1');
      return { matchId: g.matchId ?? hexId(), profileIds: [...g.profileIds],
        ...(matchType === 'ML_BASED_MATCHING' ? { confidenceScore: g.confidenceScore ?? 0.9 } : { ruleLevel: g.ruleLevel ?? 1 }) };
    });
    this.matching.set(`${domain}/${matchType}`, { generatedAt: o.generatedAt ?? Date.now(), groups: stored });
    return stored.map((g) => ({ ...g, profileIds: [...g.profileIds] }));
  }

  /** A profile's history records, oldest first (seeded and recorded). */
  history(profileId: string): FakeHistoryRecord[] { return (this.historyRecords.get(profileId) ?? []).map((r) => ({ ...r })); }

  /** Seeds the embedded store's seed profiles (config/embedded-profiles.json) with everything they carry beside the
   *  profile: custom search keys, calculated attributes, objects and segments. The same data, both stores: calculated
   *  attributes whole (IsDataPartial "false") with no LastObjectTimestamp, segments with no LastComputedAt. */
  seedLikeEmbedded(seeds: ReadonlyArray<Record<string, unknown>>): void {
    for (const seed of seeds as EmbeddedSeed[]) {
      const { searchKeys = {}, calculatedAttributes, objects = {}, segments = [], ...profile } = seed;
      const { ProfileId } = this.seedProfile(profile);
      for (const [name, values] of Object.entries(searchKeys)) this.seedKey(ProfileId, name, values);
      if (calculatedAttributes) this.seedCalculatedAttributes(ProfileId, calculatedAttributes);
      for (const [type, list] of Object.entries(objects)) list.forEach((o, i) => this.seedObject(ProfileId, type, o, `${ProfileId}-${type}-${i}`));
      for (const name of segments) {
        const key = `${this.defaultDomain()}/${name}`;
        this.seedSegment(name, [...(this.segments.get(key)?.members ?? []), ProfileId], undefined, { computedAt: null });
      }
    }
  }

  /** Seeds a SeedDocument (or an array of profiles); returns the ProfileIds of its profiles, in order. */
  seedDocument(doc: SeedDocument | Array<Record<string, unknown>>): string[] {
    const d: SeedDocument = Array.isArray(doc) ? { profiles: doc } : doc;
    const list = <T>(v: T[] | undefined, what: string): T[] => {
      if (v !== undefined && !Array.isArray(v)) throw new Error(`seed: ${what} must be an array`);
      return (v ?? []).map((e) => { if (!isObject(e)) throw new Error(`seed: every entry of ${what} must be an object`); return e; });
    };
    const ids = list(d.profiles, 'profiles').map((p) => this.seedProfile(p).ProfileId);
    for (const { profileId, values, ...opts } of list(d.calculatedAttributes, 'calculatedAttributes')) {
      if (!isObject(values)) throw new Error('seed: calculatedAttributes[].values must be an object');
      this.seedCalculatedAttributes(profileId, values, opts);
    }
    for (const o of list(d.objects, 'objects')) {
      if (!isObject(o.object)) throw new Error('seed: objects[].object must be an object');
      this.seedObject(o.profileId, o.objectTypeName, o.object, o.uniqueKey);
    }
    for (const s of list(d.segments, 'segments')) {
      if (!Array.isArray(s.profileIds) || !s.profileIds.every(isStr)) throw new Error('seed: segments[].profileIds must be a list of ids');
      this.seedSegment(s.name, s.profileIds, s.domain, s.computedAt === undefined ? {} : { computedAt: s.computedAt });
    }
    return ids;
  }

  objects(objectTypeName?: string): FakeObject[] {
    return this.stored
      .filter((o) => objectTypeName === undefined || o.objectTypeName === objectTypeName)
      .map(({ profileId, objectTypeName: t, object, uniqueKey, at }) => ({ profileId, objectTypeName: t, object, uniqueKey, at }));
  }

  profileKeys(profileId: string): Array<{ keyName: string; values: string[] }> {
    return [...(this.keys.get(profileId) ?? new Map<string, Set<string>>())].map(([keyName, v]) => ({ keyName, values: [...v] }));
  }

  contactAttributes(contactId: string): Record<string, string> | undefined { return this.contacts.get(contactId); }

  /**
   * When each ContactId was first written as a `_ctrContactId` key by AddProfileKey (epoch ms, this process's clock,
   * as the call was handled): the contact is associated with the profile from then on. `since`: only keys written
   * at or after it.
   */
  contactKeyTimes(since = 0): { count: number; at: Record<string, number> } {
    const at: Record<string, number> = {};
    for (const [contactId, ms] of this.contactKeys) if (ms >= since) at[contactId] = ms;
    return { count: Object.keys(at).length, at };
  }

  setLatency(ms: Latency): void { this.latency = ms; }

  /** Sets the account quota (the fields given; 0 turns a limit off). Windows already counted go on. */
  setQuota(q: FakeQuota): void {
    for (const [k, v] of Object.entries(q) as Array<[keyof FakeQuota, unknown]>) {
      if (k !== 'accountQuotaPerSecond' && k !== 'connectQuotaPerSecond') continue;
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`FakeAws.setQuota: ${k} must be a whole number, 0 or more`);
      this.quota[k] = v;
    }
  }

  quotaLimits(): Required<FakeQuota> { return { ...this.quota }; }

  /** Calls sent and refused per second and operation, oldest second first (every routed call, quota on or off). */
  quotaStats(): QuotaSecond[] {
    return [...this.perSecond].sort(([a], [b]) => a - b).map(([second, operations]) => ({ second, operations: structuredClone(operations) }));
  }

  /** Values of one field of every object of a type (e.g. the ContactIds of the contact records), and when the last was stored. */
  objectField(objectTypeName: string, field: string): { count: number; values: string[]; latestAt: number | undefined } {
    const objects = this.stored.filter((o) => o.objectTypeName === objectTypeName);
    const values = objects.map((o) => o.object[field]).filter((v): v is string | number => typeof v === 'string' || typeof v === 'number').map(String);
    return { count: objects.length, values, latestAt: objects.length > 0 ? Math.max(...objects.map((o) => o.at)) : undefined };
  }

  fail(fault: Fault): void { this.faults.push({ ...fault }); }
  /** Drops the faults not yet used up (reset() does too, with everything else). */
  clearFaults(): void { this.faults = []; }

  /** How many requests are held unanswered now (hang). */
  get heldCount(): number { return this.held.length; }

  /** While on, matching requests are held unanswered; hang(false) releases them (answered late), stop()/reset() drop them. */
  hang(on: boolean, operations?: string[]): void {
    if (on) { this.hangOps = operations ? new Set(operations) : 'all'; return; }
    this.hangOps = null;
    const held = this.held;
    this.held = [];
    for (const h of held) h.run();
  }

  // ---- request pipeline -------------------------------------------------------------------------------------------

  private defaultDomain(): string { return this.domains.keys().next().value ?? 'test-domain'; }

  private seeded(profileId: unknown, method: string): { domain: string; profile: FakeProfile } {
    const entry = typeof profileId === 'string' ? this.store.get(profileId) : undefined;
    if (!entry) throw new Error(`FakeAws.${method}: unknown profile ${String(profileId)} (seedProfile it first)`);
    return entry;
  }

  /** Stores one history record of a profile (what an operation did to it, or a seeded one). */
  private recordHistory(profileId: string, actionType: HistoryAction, objectTypeName: string, createdAt: number,
    more: Partial<Pick<FakeHistoryRecord, 'id' | 'lastUpdatedAt' | 'uniqueKey' | 'performedBy' | 'content'>> = {}): FakeHistoryRecord {
    const record: FakeHistoryRecord = { id: more.id ?? hexId(), profileId, actionType, objectTypeName, createdAt, ...more };
    const list = this.historyRecords.get(profileId);
    if (list) list.push(record); else this.historyRecords.set(profileId, [record]);
    return record;
  }

  private dropHeld(): void {
    for (const h of this.held) h.res.socket?.destroy();
    this.held = [];
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const at = Date.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://fake');
    readBody(req).then((raw) => {
      if (url.pathname.startsWith('/__fake/')) return this.control(method, url.pathname, url.searchParams, raw, res);
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string' && target.startsWith(KINESIS_TARGET_PREFIX)) return this.onKinesis(target.slice(KINESIS_TARGET_PREFIX.length), raw, res, at);
      const route = ROUTES.find(([m, re]) => m === method && re.test(url.pathname));
      const service = url.pathname.startsWith('/contact') ? 'connect' : 'profiles';
      let body: unknown = raw;
      let badJson = false;
      let params: string[] = [];
      try { body = raw.trim() === '' ? {} : JSON.parse(raw); } catch { badJson = true; }
      if (!badJson && !isObject(body)) badJson = true;
      try { params = (route?.[1].exec(url.pathname) ?? []).slice(1).map((p) => decodeURIComponent(p)); } catch { badJson = true; }
      const domain = service === 'profiles' ? params[0] : undefined;
      const call: FakeCall = { service, operation: route?.[2] ?? 'Unknown', ...(domain !== undefined && { domain }), body, at, status: 0 };
      this.calls.push(call);
      const refused = route !== undefined && !this.admit(call);
      const run = (): void => this.answer(call, res, refused, () => {
        if (badJson) throw new AwsError(400, 'SerializationException', 'Request body or path is not valid JSON / UTF-8');
        if (!route) throw new AwsError(404, 'UnknownOperationException', `No operation for ${method} ${url.pathname}`);
        return this.dispatch(call.operation, params, body as Json, url.searchParams, at);
      });
      if (this.hangOps === 'all' || this.hangOps?.has(call.operation)) this.held.push({ run, res });
      else run();
    }, () => res.destroy());
  }

  /** A Kinesis call (awsJson1_1: the operation in X-Amz-Target, the input as the JSON body): latency, faults and hang as for the others, no account quota. */
  private onKinesis(operation: string, raw: string, res: ServerResponse, at: number): void {
    let body: unknown;
    try { body = raw.trim() === '' ? {} : JSON.parse(raw); } catch { body = raw; }
    const call: FakeCall = { service: 'kinesis', operation, body, at, status: 0 };
    this.calls.push(call);
    const run = (): void => this.answer(call, res, false, () => {
      if (!isObject(body)) throw new AwsError(400, 'SerializationException', 'Request body is not a JSON object');
      try {
        return this.kinesis.handle(operation, body);
      } catch (e) {
        throw e instanceof KinesisError ? new AwsError(e.status, e.errorType, e.message) : e;
      }
    });
    if (this.hangOps === 'all' || this.hangOps?.has(operation)) this.held.push({ run, res });
    else run();
  }

  /**
   * The account quota, at a call's arrival: false when its operation already had its quota of calls let through in the
   * last 1000 ms. Counts the call in its second's stats either way.
   */
  private admit(call: FakeCall): boolean {
    const op = call.operation;
    const limit = call.service === 'connect' ? this.quota.connectQuotaPerSecond : this.quota.accountQuotaPerSecond;
    const admitted = this.admitted.get(op) ?? this.admitted.set(op, new SlidingWindow()).get(op)!;
    const arrived = this.arrived.get(op) ?? this.arrived.set(op, new SlidingWindow()).get(op)!;
    const ok = limit <= 0 || admitted.count(call.at) < limit;
    if (ok) admitted.add(call.at);
    arrived.add(call.at);
    const second = Math.floor(call.at / 1000);
    const ops = this.perSecond.get(second) ?? this.perSecond.set(second, {}).get(second)!;
    const stat = (ops[op] ??= { sent: 0, refused: 0, windowMax: 0 });
    stat.sent++;
    if (!ok) stat.refused++;
    stat.windowMax = Math.max(stat.windowMax, arrived.count(call.at));
    return ok;
  }

  private answer(call: FakeCall, res: ServerResponse, refused: boolean, handle: () => unknown): void {
    let status = 200;
    let payload: unknown;
    const headers: Record<string, string> = {};
    try {
      if (refused) throw new AwsError(429, 'ThrottlingException', ACCOUNT_THROTTLE_MESSAGE);
      const fault = this.takeFault(call.operation);
      if (fault) {
        if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
        throw new AwsError(fault.status, fault.errorType, fault.message ?? `${fault.errorType} (injected by FakeAws)`);
      }
      payload = handle();
    } catch (e) {
      const err = e instanceof AwsError ? e
        : new AwsError(500, { connect: 'InternalServiceException', profiles: 'InternalServerException', kinesis: 'InternalFailureException' }[call.service], String(e));
      status = err.status;
      headers['x-amzn-ErrorType'] = err.errorType;
      // awsJson1_1 (Kinesis) names the error in the body's __type too, beside a lower-case message
      payload = call.service === 'kinesis' ? { __type: err.errorType, message: err.message } : { Message: err.message };
    }
    if (call.service === 'kinesis') headers['content-type'] = 'application/x-amz-json-1.1';
    call.status = status;
    const l = this.latency;
    const ms = typeof l === 'number' ? l : l[call.operation] ?? l['*'] ?? 0;
    if (ms <= 0) return send(res, status, payload, headers);
    const t = setTimeout(() => { this.timers.delete(t); send(res, status, payload, headers); }, ms);
    this.timers.add(t);
  }

  private takeFault(operation: string): Fault | undefined {
    const fault = this.faults.find((f) => !f.operations || f.operations.includes(operation));
    if (fault?.times !== undefined && --fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  private dispatch(op: string, params: string[], body: Json, query: URLSearchParams, at: number): unknown {
    if (op === 'UpdateContactAttributes') return this.updateContactAttributes(body);
    const domain = params[0] ?? '';
    const info = this.domains.get(domain);
    if (!info) throw notFound(`Domain ${domain} does not exist`);
    const typeName = params[1] ?? '';
    switch (op) {
      case 'GetDomain': return this.getDomain(domain, info);
      case 'CreateProfile': {
        const { DomainName: _d, ProfileId: _p, ...fields } = body;
        const profile = this.seedProfile(fields, domain);
        this.recordHistory(profile.ProfileId, 'CREATED', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify(profile) });
        this.emitProfileEvent(domain, 'CREATED', profile, at);
        return { ProfileId: profile.ProfileId };
      }
      case 'UpdateProfile': return this.updateProfile(domain, body, at);
      case 'DeleteProfile': return this.deleteProfile(domain, body, at);
      case 'SearchProfiles': return this.search(domain, body, query);
      case 'AddProfileKey': return this.addProfileKey(domain, body, at);
      case 'PutProfileObject': return this.putObject(domain, body, at);
      case 'ListProfileObjectTypes':
        return this.page([...this.types].filter(([k]) => k.startsWith(`${domain}/`)).map(([, t]) => Object.fromEntries(
          LIST_TYPE_FIELDS.map((f) => [f, t[f]]))), query, 100);
      case 'GetProfileObjectType': return this.objectType(domain, typeName);
      case 'PutProfileObjectType': {
        if (!isStr(body.Description)) throw badRequest('Description is required');
        const prev = this.types.get(`${domain}/${typeName}`);
        const { DomainName: _d, ...rest } = body;
        const now = epochSeconds(Date.now());
        const type = { ...rest, ObjectTypeName: typeName, CreatedAt: prev?.CreatedAt ?? now, LastUpdatedAt: now };
        this.types.set(`${domain}/${typeName}`, type);
        return type;
      }
      case 'DeleteProfileObjectType':
        this.objectType(domain, typeName);
        this.types.delete(`${domain}/${typeName}`);
        this.stored = this.stored.filter((o) => o.domain !== domain || o.objectTypeName !== typeName);
        return { Message: `Object type ${typeName} deleted` };
      case 'ListProfileObjects': return this.listObjects(domain, body, query);
      case 'ListCalculatedAttributesForProfile': return this.listCalculated(domain, params[1] ?? '', query);
      case 'GetSegmentMembership': return this.segmentMembership(domain, params[1] ?? '', body);
      case 'ListProfileHistoryRecords': return this.listHistory(domain, body, query);
      case 'GetProfileHistoryRecord': return this.getHistoryRecord(domain, params[1] ?? '', params[2] ?? '');
      case 'MergeProfiles': return this.merge(domain, body, at);
      case 'GetMatches': return this.getMatches(domain, query);
      case 'GetSimilarProfiles': return this.similarProfiles(domain, body, query);
      default: throw new AwsError(404, 'UnknownOperationException', op);
    }
  }

  // ---- operations -------------------------------------------------------------------------------------------------

  private getDomain(domain: string, info: DomainInfo): Json {
    const created = epochSeconds(info.createdAt);
    const ProfileCount = [...this.store.values()].filter((e) => e.domain === domain).length;
    const ObjectCount = this.stored.filter((o) => o.domain === domain).length;
    return { DomainName: domain, DefaultExpirationDays: 366, DeadLetterQueueUrl: info.deadLetterQueueUrl,
      DefaultEncryptionKey: info.defaultEncryptionKey, CreatedAt: created, LastUpdatedAt: created, Stats: { ProfileCount, ObjectCount } };
  }

  private profileIn(domain: string, profileId: unknown): FakeProfile {
    if (!isStr(profileId)) throw badRequest('ProfileId is required');
    const entry = this.store.get(profileId);
    if (!entry || entry.domain !== domain) throw notFound(`Profile ${profileId} not found`);
    return entry.profile;
  }

  /** Real limit: one PutProfileObject/UpdateProfile per profile per second. */
  private throttleWrite(profileId: string, at: number): void {
    const last = this.lastWrite.get(profileId);
    if (this.writeIntervalMs > 0 && last !== undefined && at - last < this.writeIntervalMs) {
      throw new AwsError(429, 'ThrottlingException', OBJECT_THROTTLE_MESSAGE);
    }
    this.lastWrite.set(profileId, at);
  }

  /** UpdateProfile: given fields replace, "" clears a field; Attributes/Address maps merge ("" removes an entry). Recorded
   *  UPDATED, its Content the whole profile as the update left it. */
  private updateProfile(domain: string, body: Json, at: number): Json {
    const profile = this.profileIn(domain, body.ProfileId);
    this.throttleWrite(profile.ProfileId, at);
    for (const [k, v] of Object.entries(body)) {
      if (k === 'ProfileId' || k === 'DomainName' || v === undefined || v === null) continue;
      if (v === '') { delete profile[k]; continue; }
      if (!isObject(v)) { profile[k] = v; continue; }
      const merged: Json = { ...(isObject(profile[k]) ? profile[k] : {}) };
      for (const [sk, sv] of Object.entries(v)) if (sv === '') delete merged[sk]; else merged[sk] = sv;
      profile[k] = merged;
    }
    this.recordHistory(profile.ProfileId, 'UPDATED', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify(profile) });
    this.emitProfileEvent(domain, 'UPDATED', profile, at);
    return { ProfileId: profile.ProfileId };
  }

  /**
   * DeleteProfile: the profile, its keys and objects go; recorded DELETED_BY_CUSTOMER. Nothing is written to the event
   * stream: the guide documents no delete record (see profileEvent); a test that wants one writes it.
   */
  private deleteProfile(domain: string, body: Json, at: number): Json {
    const profile = this.profileIn(domain, body.ProfileId);
    this.store.delete(profile.ProfileId); this.keys.delete(profile.ProfileId);
    this.stored = this.stored.filter((o) => o.profileId !== profile.ProfileId);
    this.recordHistory(profile.ProfileId, 'DELETED_BY_CUSTOMER', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify(profile) });
    return { Message: `Profile ${profile.ProfileId} deleted` };
  }

  private keyValues(profile: FakeProfile, keyName: string): string[] {
    const fromFields = (STANDARD_KEYS[keyName] ?? []).map((f) => profile[f]).filter(isStr);
    return [...fromFields, ...(this.keys.get(profile.ProfileId)?.get(keyName) ?? [])];
  }

  private addKey(profileId: string, keyName: string, values: string[]): void {
    const byName = this.keys.get(profileId) ?? this.keys.set(profileId, new Map()).get(profileId)!;
    const set = byName.get(keyName) ?? byName.set(keyName, new Set()).get(keyName)!;
    for (const v of values) set.add(v);
  }

  private addProfileKey(domain: string, body: Json, at: number): Json {
    if (!isStr(body.KeyName) || !isStrList(body.Values)) throw badRequest('KeyName and Values are required');
    const profile = this.profileIn(domain, body.ProfileId);
    this.addKey(profile.ProfileId, body.KeyName, body.Values);
    if (body.KeyName === CONTACT_KEY) {
      // the time it was handled, not received: a held call (hang) writes the key when it is let go
      const now = Date.now();
      for (const contactId of body.Values) if (!this.contactKeys.has(contactId)) this.contactKeys.set(contactId, now);
    }
    this.recordHistory(profile.ProfileId, 'ADDED_PROFILE_KEY', HISTORY_PROFILE_TYPE, at,
      { content: JSON.stringify({ KeyName: body.KeyName, Values: body.Values }) });
    return { KeyName: body.KeyName, Values: body.Values };
  }

  /**
   * MergeProfiles (the API reference's rules): the merged profiles' keys and objects move to the main profile and the
   * merged profiles are deleted; fields are a union: a field the main profile lacks takes the first merged profile's value
   * (in ProfileIdsToBeMerged's order), a conflict keeps the main profile's, unless FieldSourceProfileIds names a profile
   * for the field: then that profile's value, "even if it is a NULL value" (the field is cleared). Attributes likewise,
   * one by one. Checked as the model has it: MainProfileId a uuid, ProfileIdsToBeMerged 1-20 uuids, every
   * FieldSourceProfileIds value a uuid; and, this fake's choice where the reference says nothing, a source must be one of
   * the profiles merged, the main profile must not be among those merged, and unknown FieldSourceProfileIds members are
   * refused. Every profile must exist in the domain (404 otherwise). History: MERGED on the main profile (its Content the
   * profile as merged), DELETED_BY_MERGE on each merged one.
   */
  private merge(domain: string, body: Json, at: number): Json {
    const { MainProfileId: main, ProfileIdsToBeMerged: merged, FieldSourceProfileIds: sources = {} } = body;
    if (typeof main !== 'string' || !UUID.test(main)) throw badRequest('MainProfileId is required ([a-f0-9]{32})');
    if (!isIdList(merged) || merged.length < 1 || merged.length > 20) throw badRequest('ProfileIdsToBeMerged must hold 1 to 20 profile ids ([a-f0-9]{32})');
    if (merged.includes(main) || new Set(merged).size !== merged.length) throw badRequest('ProfileIdsToBeMerged must not repeat an id nor hold MainProfileId');
    if (!isObject(sources)) throw badRequest('FieldSourceProfileIds must be an object');
    const all = [main, ...merged];
    const fieldSources = new Map<string, string>();
    const attributeSources = new Map<string, string>();
    for (const [field, id] of Object.entries(sources)) {
      if (field === 'Attributes') {
        if (!isObject(id)) throw badRequest('FieldSourceProfileIds.Attributes must map attribute names to profile ids');
        for (const [name, source] of Object.entries(id)) {
          if (!isValue(name) || typeof source !== 'string' || !UUID.test(source)) throw badRequest(`FieldSourceProfileIds.Attributes.${name}: a profile id ([a-f0-9]{32})`);
          attributeSources.set(name, source);
        }
        continue;
      }
      if (!(MERGE_SOURCE_FIELDS as readonly string[]).includes(field)) throw badRequest(`FieldSourceProfileIds has no member ${field}`);
      if (typeof id !== 'string' || !UUID.test(id)) throw badRequest(`FieldSourceProfileIds.${field}: a profile id ([a-f0-9]{32})`);
      fieldSources.set(field, id);
    }
    for (const id of [...fieldSources.values(), ...attributeSources.values()]) {
      if (!all.includes(id)) throw badRequest(`FieldSourceProfileIds names ${id}, which is not one of the profiles merged`);
    }
    const profiles = all.map((id) => this.profileIn(domain, id));
    const [target, ...others] = profiles as [FakeProfile, ...FakeProfile[]];
    const byId = new Map(profiles.map((p) => [p.ProfileId, p]));
    const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';
    const fields = new Set(profiles.flatMap((p) => Object.keys(p)).filter((f) => f !== 'ProfileId' && f !== 'Attributes'));
    for (const field of fields) {
      const governing = Object.entries(WITH_TEXT_FORM).find(([, text]) => text === field)?.[0] ?? field;
      const source = fieldSources.get(governing);
      if (source !== undefined) {
        const value = byId.get(source)![field];
        if (present(value)) target[field] = structuredClone(value); else delete target[field];
      } else if (!present(target[field])) {
        const from = others.find((p) => present(p[field]));
        if (from) target[field] = structuredClone(from[field]);
      }
    }
    const attributes = (p: FakeProfile): Record<string, string> => (isObject(p.Attributes) ? p.Attributes as Record<string, string> : {});
    const attrs: Record<string, string> = { ...attributes(target) };
    for (const name of new Set(profiles.flatMap((p) => Object.keys(attributes(p))))) {
      const source = attributeSources.get(name);
      if (source !== undefined) {
        const value = attributes(byId.get(source)!)[name];
        if (present(value)) attrs[name] = value!; else delete attrs[name];
      } else if (!present(attrs[name])) {
        const from = others.find((p) => present(attributes(p)[name]));
        if (from) attrs[name] = attributes(from)[name]!;
      }
    }
    if (Object.keys(attrs).length > 0) target.Attributes = attrs; else delete target.Attributes;
    for (const p of others) {
      const id = p.ProfileId;
      for (const { keyName, values } of this.profileKeys(id)) this.addKey(target.ProfileId, keyName, values);
      this.keys.delete(id);
      for (const o of this.stored) if (o.profileId === id) o.profileId = target.ProfileId;
      this.calculated.delete(id);
      this.lastWrite.delete(id);
      this.store.delete(id);
      this.recordHistory(id, 'DELETED_BY_MERGE', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify({ MainProfileId: target.ProfileId }) });
    }
    this.recordHistory(target.ProfileId, 'MERGED', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify(target) });
    // one MERGED record on the domain's event stream, as seedMerge writes it
    this.emitProfileEvent(domain, 'MERGED', target, at, { mergeId: randomUUID(), duplicates: others });
    return { Message: `Merged ${merged.length} profile(s) into ${target.ProfileId}` };
  }

  private matchesOf(domain: string, type: MatchType): Matching {
    const m = this.matching.get(`${domain}/${type}`);
    if (!m) throw badRequest(`${type} is not enabled for domain ${domain}`);
    return m;
  }

  /** GetMatches: the ML identity resolution job's groups (seedMatches), paged (max-results 1-100, default 100: the model gives none). */
  private getMatches(domain: string, query: URLSearchParams): Json {
    const { offset, max } = pageArgs(query, 100);
    const m = this.matchesOf(domain, 'ML_BASED_MATCHING');
    const end = offset + max;
    return {
      MatchGenerationDate: epochSeconds(m.generatedAt),
      PotentialMatches: m.groups.length,
      Matches: m.groups.slice(offset, end).map((g) => ({ MatchId: g.matchId, ProfileIds: g.profileIds, ConfidenceScore: g.confidenceScore })),
      NextToken: end < m.groups.length ? Buffer.from(String(end)).toString('base64url') : undefined,
    };
  }

  /**
   * GetSimilarProfiles: the group of that MatchType holding a profile whose SearchKey (a search key, as SearchProfiles
   * reads it: `_profileId`, `_phone`, a custom key) has the SearchValue; its ProfileIds paged (max-results 1-100, default
   * 20). No such group: 200 with no ProfileIds (the reference does not say; this fake's choice).
   */
  private similarProfiles(domain: string, body: Json, query: URLSearchParams): Json {
    const { MatchType: type, SearchKey: key, SearchValue: value } = body;
    if (!(MATCH_TYPES as readonly unknown[]).includes(type)) throw badRequest(`MatchType must be one of ${MATCH_TYPES.join(', ')}`);
    if (!isValue(key) || !isValue(value)) throw badRequest('SearchKey and SearchValue are required (1-255 chars)');
    const { offset, max } = pageArgs(query, 20);
    const m = this.matchesOf(domain, type as MatchType);
    const ids = new Set([...this.store.values()].filter((e) => e.domain === domain && this.keyValues(e.profile, key).includes(value)).map((e) => e.profile.ProfileId));
    if (key === '_profileId') ids.add(value);
    const group = m.groups.find((g) => g.profileIds.some((id) => ids.has(id)));
    if (!group) return { ProfileIds: [], MatchType: type };
    const end = offset + max;
    return {
      ProfileIds: group.profileIds.slice(offset, end), MatchId: group.matchId, MatchType: type,
      RuleLevel: group.ruleLevel, ConfidenceScore: group.confidenceScore,
      NextToken: end < group.profileIds.length ? Buffer.from(String(end)).toString('base64url') : undefined,
    };
  }

  /** Exact string matching, like the service: '+14255550123' does not find '4255550123'. */
  private search(domain: string, body: Json, query: URLSearchParams): Json {
    const more = body.AdditionalSearchKeys;
    const extra: unknown[] = more === undefined ? [] : Array.isArray(more) ? more : [null];
    const keys = [{ KeyName: body.KeyName, Values: body.Values }, ...extra];
    if (!keys.every(isSearchKey)) {
      throw badRequest('KeyName ([a-zA-Z0-9_-], 1-64 chars) and a non-empty Values list (1-255 chars each) are required for every search key');
    }
    const op = body.LogicalOperator ?? 'OR';
    if (op !== 'OR' && op !== 'AND') throw badRequest('LogicalOperator must be AND or OR');
    if (extra.length < (more === undefined ? 0 : 1) || extra.length > 4) throw badRequest('AdditionalSearchKeys must hold 1 to 4 keys');
    const hits: FakeProfile[] = [];
    for (const { domain: d, profile } of this.store.values()) {
      if (d !== domain) continue;
      const found = keys
        .map((k) => ({ KeyName: k.KeyName, Values: k.Values.filter((v) => this.keyValues(profile, k.KeyName).includes(v)) }))
        .filter((f) => f.Values.length > 0);
      if (op === 'AND' ? found.length === keys.length : found.length > 0) hits.push({ ...profile, FoundByItems: found });
    }
    return this.page(hits, query, 20);
  }

  private page(items: unknown[], query: URLSearchParams, defaultMax: number): Json {
    const { offset, max } = pageArgs(query, defaultMax);
    const end = offset + max;
    return { Items: items.slice(offset, end), NextToken: end < items.length ? Buffer.from(String(end)).toString('base64url') : undefined };
  }

  private objectType(domain: string, name: string): Json {
    const type = this.types.get(`${domain}/${name}`);
    if (!type) throw notFound(`Object type ${name} not found in domain ${domain}`);
    return type;
  }

  /**
   * PutProfileObject: the type's PROFILE key(s) find the profile (key name searched like SearchProfiles; the key's
   * FieldNames resolve through Fields[name].Source `_source.x` into the object). UNIQUE key: same value replaces.
   * Fields with Target `_profile.X[.Y]` update the profile; non-LOOKUP_ONLY custom keys are indexed on the profile.
   * Recorded INGESTED (the object's type, its unique key, the object as Content), after CREATED when it created the profile.
   */
  private putObject(domain: string, body: Json, at: number): Json {
    if (!isStr(body.ObjectTypeName) || !isStr(body.Object)) throw badRequest('ObjectTypeName and Object are required');
    const typeName = body.ObjectTypeName;
    const type = this.objectType(domain, typeName);
    let obj: unknown;
    try { obj = JSON.parse(body.Object); } catch { throw badRequest('Object is not valid JSON'); }
    if (!isObject(obj)) throw badRequest('Object must be a JSON object');
    const object = obj;
    const fields = typeFields(type);
    const keyDefs = typeKeyDefs(type);
    const valueOf = (def: TypeKey): string | undefined => keyValue(fields, object, def);

    let profile: FakeProfile | undefined;
    for (const { keyName, def } of keyDefs.filter((k) => hasId(k.def, 'PROFILE'))) {
      const v = valueOf(def);
      const entry = v === undefined ? undefined
        : [...this.store.values()].find((e) => e.domain === domain && this.keyValues(e.profile, keyName).includes(v));
      if (entry) { profile = entry.profile; break; }
    }
    const created = !profile && type.AllowProfileCreation === true;
    if (created) profile = this.seedProfile({}, domain);
    if (!profile) throw badRequest(`No profile matches the PROFILE keys of object type ${typeName}`);
    this.throttleWrite(profile.ProfileId, at);

    const uniqueDef = keyDefs.find((k) => hasId(k.def, 'UNIQUE'));
    const uniqueValue = uniqueDef ? valueOf(uniqueDef.def) : undefined;
    if (uniqueDef && uniqueValue === undefined) throw badRequest(`Object lacks the UNIQUE key ${uniqueDef.keyName}`);
    const existing = uniqueValue === undefined ? undefined
      : this.stored.find((o) => o.domain === domain && o.objectTypeName === typeName && o.uniqueValue === uniqueValue);
    const record: StoredObject = {
      domain, profileId: profile.ProfileId, objectTypeName: typeName, object, uniqueValue,
      uniqueKey: existing?.uniqueKey ?? newUniqueKey(), at,
    };
    if (existing) this.stored[this.stored.indexOf(existing)] = record; else this.stored.push(record);

    const before = JSON.stringify(profile);
    for (const f of Object.values(fields)) {
      const [field, sub] = f.Target?.startsWith('_profile.') ? f.Target.slice('_profile.'.length).split('.') : [];
      const v = f.Source ? readSource(object, f.Source) : undefined;
      if (!field || field === 'ProfileId' || v === undefined) continue;
      profile[field] = sub ? { ...(isObject(profile[field]) ? profile[field] : {}), [sub]: v } : v;
    }
    for (const { keyName, def } of keyDefs) {
      const v = valueOf(def);
      if (v !== undefined && !hasId(def, 'LOOKUP_ONLY') && !(keyName in STANDARD_KEYS)) this.addKey(profile.ProfileId, keyName, [v]);
    }
    if (created) this.recordHistory(profile.ProfileId, 'CREATED', HISTORY_PROFILE_TYPE, at, { content: JSON.stringify(profile) });
    this.recordHistory(profile.ProfileId, 'INGESTED', typeName, at, { uniqueKey: record.uniqueKey, content: body.Object });
    this.emitObjectEvent(domain, existing ? 'UPDATED' : 'CREATED', record, at);
    if (created) this.emitProfileEvent(domain, 'CREATED', profile, at);
    else if (JSON.stringify(profile) !== before) this.emitProfileEvent(domain, 'UPDATED', profile, at);
    return { ProfileObjectUniqueKey: record.uniqueKey };
  }

  /** ListProfileObjects: the profile's objects of the type (PutProfileObject's and seedObject's), in notByTime order.
   *  ObjectFilter: objects whose value for that key of the object type is one of Values; a KeyName that is not a key
   *  of the type is a BadRequestException. A type neither defined nor seeded in the domain is a 404. */
  private listObjects(domain: string, body: Json, query: URLSearchParams): Json {
    const { ObjectTypeName: typeName, ProfileId: profileId, ObjectFilter: filter } = body;
    if (typeof typeName !== 'string' || !TYPE_NAME.test(typeName)) throw badRequest('ObjectTypeName is required ([a-zA-Z_][a-zA-Z_0-9-]*, 1-255 chars)');
    if (typeof profileId !== 'string' || !UUID.test(profileId)) throw badRequest('ProfileId is required ([a-f0-9]{32})');
    if (filter !== undefined && !isSearchKey(filter)) throw badRequest('ObjectFilter needs a KeyName and a non-empty Values list');
    pageArgs(query, 20); // input errors before missing resources
    this.profileIn(domain, profileId);
    const type = this.types.get(`${domain}/${typeName}`);
    const ofType = this.stored.filter((o) => o.domain === domain && o.objectTypeName === typeName);
    if (!type && ofType.length === 0) throw notFound(`Object type ${typeName} not found in domain ${domain}`);
    let objects = ofType.filter((o) => o.profileId === profileId);
    if (filter) {
      const defs = type ? typeKeyDefs(type).filter((k) => k.keyName === filter.KeyName) : [];
      if (defs.length === 0) throw badRequest(`${filter.KeyName} is not a key of object type ${typeName}`);
      const fields = typeFields(type!);
      objects = objects.filter((o) => defs.some(({ def }) => {
        const v = keyValue(fields, o.object, def);
        return v !== undefined && filter.Values.includes(v);
      }));
    }
    return this.page(notByTime(objects).map((o) => ({ ObjectTypeName: typeName, ProfileObjectUniqueKey: o.uniqueKey, Object: JSON.stringify(o.object) })), query, 20);
  }

  /** ListCalculatedAttributesForProfile: the seeded attributes, by name; 404 for an unknown profile. */
  private listCalculated(domain: string, profileId: string, query: URLSearchParams): Json {
    if (!UUID.test(profileId)) throw badRequest('ProfileId must be 32 hex digits ([a-f0-9]{32})');
    pageArgs(query, 20);
    this.profileIn(domain, profileId);
    const items = [...(this.calculated.get(profileId) ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([CalculatedAttributeName, a]) => ({ CalculatedAttributeName, ...a }));
    return this.page(items, query, 20);
  }

  /** GetSegmentMembership: PRESENT/ABSENT per profile of the domain (no `Profile` member: optional in the model),
   *  an id with no profile in the domain goes to Failures (Status 404); an unknown segment is a 404. */
  private segmentMembership(domain: string, name: string, body: Json): Json {
    const ids = body.ProfileIds;
    if (!NAME.test(name)) throw badRequest('SegmentDefinitionName must be 1-64 chars of [a-zA-Z0-9_-]');
    if (!isIdList(ids) || ids.length < 1 || ids.length > 100) throw badRequest('ProfileIds must hold 1 to 100 profile ids ([a-f0-9]{32})');
    const segment = this.segments.get(`${domain}/${name}`);
    if (!segment) throw notFound(`Segment definition ${name} not found in domain ${domain}`);
    const known = (id: string): boolean => this.store.get(id)?.domain === domain;
    return {
      SegmentDefinitionName: name,
      Profiles: ids.filter(known).map((ProfileId) => ({ ProfileId, QueryResult: segment.members.has(ProfileId) ? 'PRESENT' : 'ABSENT' })),
      Failures: ids.filter((id) => !known(id)).map((ProfileId) => ({ ProfileId, Message: `Profile ${ProfileId} not found`, Status: 404 })),
      ...(segment.computedAt !== undefined && { LastComputedAt: epochSeconds(segment.computedAt) }),
    };
  }

  /**
   * ListProfileHistoryRecords: the profile's records, filtered by ObjectTypeName, ActionType and PerformedBy when given.
   * Order: the API documents none, so they come as ListProfileObjects' do (notByTime), never newest- or oldest-first;
   * max-results 1..100 (the model's maxSize100), default 20 (the model gives none). 404 for a profile the domain has no
   * record of (neither the profile nor history of it).
   */
  private listHistory(domain: string, body: Json, query: URLSearchParams): Json {
    const { ProfileId: profileId, ObjectTypeName: typeName, ActionType: action, PerformedBy: by } = body;
    if (typeof profileId !== 'string' || !UUID.test(profileId)) throw badRequest('ProfileId is required ([a-f0-9]{32})');
    if (typeName !== undefined && (typeof typeName !== 'string' || !TYPE_NAME.test(typeName))) throw badRequest('ObjectTypeName must match [a-zA-Z_][a-zA-Z_0-9-]*, 1-255 chars');
    if (action !== undefined && !isAction(action)) throw badRequest(`ActionType must be one of ${HISTORY_ACTIONS.join(', ')}`);
    if (by !== undefined && !isValue(by)) throw badRequest('PerformedBy must be 1-255 chars');
    pageArgs(query, 20); // input errors before missing resources
    const records = this.historyIn(domain, profileId).filter((r) =>
      (typeName === undefined || r.objectTypeName === typeName) && (action === undefined || r.actionType === action) && (by === undefined || r.performedBy === by));
    const { Items, NextToken } = this.page(notByTime(records.map((r) => ({ ...r, at: r.createdAt }))).map((r) => this.historyItem(r)), query, 20);
    return { ProfileHistoryRecords: Items, NextToken };
  }

  /** GetProfileHistoryRecord: one record, with its Content; 404 when the profile has no record of that Id. */
  private getHistoryRecord(domain: string, profileId: string, id: string): Json {
    if (!UUID.test(profileId) || !UUID.test(id)) throw badRequest('ProfileId and Id must be 32 hex digits ([a-f0-9]{32})');
    const record = this.historyIn(domain, profileId).find((r) => r.id === id);
    if (!record) throw notFound(`Profile history record ${id} not found`);
    return { ...this.historyItem(record), Content: record.content };
  }

  private historyIn(domain: string, profileId: string): FakeHistoryRecord[] {
    const records = this.historyRecords.get(profileId);
    const entry = this.store.get(profileId);
    if (entry ? entry.domain !== domain : !records) throw notFound(`Profile ${profileId} not found`);
    return records ?? [];
  }

  /** A record as the wire carries it (ProfileHistoryRecord): timestamps in epoch seconds. */
  private historyItem(r: FakeHistoryRecord): Json {
    return { Id: r.id, ObjectTypeName: r.objectTypeName, CreatedAt: epochSeconds(r.createdAt), ActionType: r.actionType,
      LastUpdatedAt: epochSeconds(r.lastUpdatedAt ?? r.createdAt), ProfileObjectUniqueKey: r.uniqueKey, PerformedBy: r.performedBy };
  }

  private updateContactAttributes(body: Json): Json {
    const { InstanceId, InitialContactId, Attributes } = body;
    if (!isStr(InstanceId) || !isStr(InitialContactId) || !isObject(Attributes)) {
      throw new AwsError(400, 'InvalidParameterException', 'InstanceId, InitialContactId and Attributes are required');
    }
    if (!Object.values(Attributes).every((v) => typeof v === 'string')) {
      throw new AwsError(400, 'InvalidParameterException', 'Attribute values must be strings');
    }
    this.contacts.set(InitialContactId, { ...this.contacts.get(InitialContactId), ...(Attributes as Record<string, string>) });
    return {};
  }

  // ---- control API (for a benchmark steering a FakeAws in another process); not recorded in `calls` ---------------

  private control(method: string, path: string, query: URLSearchParams, raw: string, res: ServerResponse): void {
    let body: Json;
    try {
      const parsed: unknown = raw ? JSON.parse(raw) : {};
      body = isObject(parsed) ? parsed : { items: parsed };
    } catch { return send(res, 400, { Message: 'bad JSON' }); }
    switch (`${method} ${path}`) {
      case 'GET /__fake/calls': {
        const byOperation: Record<string, number> = {};
        const byStatus: Record<string, number> = {};
        for (const c of this.calls) {
          byOperation[c.operation] = (byOperation[c.operation] ?? 0) + 1;
          byStatus[c.status] = (byStatus[c.status] ?? 0) + 1;
        }
        return send(res, 200, { total: this.calls.length, byOperation, byStatus });
      }
      case 'POST /__fake/latency':
        this.setLatency(typeof body.ms === 'number' ? body.ms : isObject(body.ms) ? (body.ms as Record<string, number>) : 0);
        break;
      case 'POST /__fake/hang': this.hang(body.on === true, isStrList(body.operations) ? body.operations : undefined); break;
      case 'POST /__fake/fail': this.fail(body as unknown as Fault); break;
      case 'POST /__fake/reset': this.reset(); break;
      case 'POST /__fake/quota':
        try { this.setQuota(body); } catch (e) { return send(res, 400, { Message: e instanceof Error ? e.message : String(e) }); }
        return send(res, 200, this.quotaLimits());
      case 'GET /__fake/quota-stats': return send(res, 200, { ...this.quotaLimits(), seconds: this.quotaStats() });
      case 'GET /__fake/objects': {
        const type = query.get('type');
        const field = query.get('field');
        if (!type || !field) return send(res, 400, { Message: 'type and field are required' });
        return send(res, 200, this.objectField(type, field));
      }
      case 'GET /__fake/contact-keys': {
        const since = Number(query.get('since') ?? 0);
        if (!Number.isFinite(since)) return send(res, 400, { Message: 'since must be epoch ms' });
        return send(res, 200, this.contactKeyTimes(since));
      }
      case 'GET /__fake/profiles': {
        const field = query.get('field');
        if (!field) return send(res, 400, { Message: 'field is required' });
        const values = this.profiles().map((p) => p[field]).filter((v): v is string => typeof v === 'string');
        return send(res, 200, { count: this.store.size, values });
      }
      case 'POST /__fake/history': { // { profileId, records: HistorySeed[] } (createdAt in ms or ISO 8601)
        try {
          if (!isStr(body.profileId) || !Array.isArray(body.records) || !body.records.every(isObject)) throw new Error('profileId and records (a list of objects) are required');
          return send(res, 200, { Ids: this.seedHistory(body.profileId, body.records as unknown as HistorySeed[]).map((r) => r.id) });
        } catch (e) { return send(res, 400, { Message: e instanceof Error ? e.message : String(e) }); }
      }
      case 'POST /__fake/event-stream': { // { streamName, shards?, domain? }: the domain's changes go to that Kinesis stream
        try {
          if (!isStr(body.streamName)) throw new Error('streamName is required');
          const shards = body.shards === undefined ? 1 : Number(body.shards);
          if (!Number.isInteger(shards) || shards < 1 || shards > 16) throw new Error('shards must be 1 to 16');
          return send(res, 200, { StreamARN: this.setEventStream(body.streamName, { shards, ...(isStr(body.domain) && { domain: body.domain }) }) });
        } catch (e) { return send(res, 400, { Message: e instanceof Error ? e.message : String(e) }); }
      }
      case 'POST /__fake/seed': { // an array of profiles, or a SeedDocument
        try {
          return send(res, 200, { ProfileIds: this.seedDocument(Array.isArray(body.items) ? body.items.filter(isObject) : body) });
        } catch (e) { return send(res, 400, { Message: e instanceof Error ? e.message : String(e) }); }
      }
      default: return send(res, 404, { Message: `unknown control route ${method} ${path}` });
    }
    send(res, 200, { ok: true });
  }
}
