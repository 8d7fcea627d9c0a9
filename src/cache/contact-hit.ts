import { screenPop, type CustomerStatus, type Verification } from '../domain/answer.js';
import { attaches, STANDARD_KEYS, type CallerKeys, type SearchPair } from '../domain/keys.js';
import type { RecordJob } from '../records/job.js';
import type { RedisIdempotencyStore } from './idempotency.js';
import type { ContactReads } from './index.js';
import { duplicateSetId } from '../domain/duplicates.js';
import { SEEN_LUA, type DuplicateScriptArgs } from './duplicates.js';
import { lookupMember, type StateKeys } from './keys.js';
import type { CachedLookup, RedisProfileCache } from './profile-cache.js';
import { MAX_PER_PROFILE, RECENT_LUA, repeatInfo, type RepeatInfo } from './recent-contacts.js';
import { RedisScript, type RedisClient } from '../redis/client.js';
import type { Sealer } from '../redis/seal.js';

// A cache hit in one round trip, on a single Redis.
//
// A cache hit used to send four commands on three cluster slots: the MGET of the kept answer and the
// cached lookup (the caller's hash tag), the recent-contacts script (the profile's), the record's RPUSH
// (the record queue's) and the kept answer's SET. On a single Redis one script now does all of it: it
// reads the kept answer and the lookup, and when the lookup is a fresh hit it queues the record, updates
// the profile's history and keeps the answer by reference, in the same step. It decides without opening
// the lookup, from the lookup's clear head (below). What it cannot decide (a stale lookup, a miss, a
// lookup without a head) it only reads, and the resolver goes on as before. On a Redis Cluster the
// keys are in three slots: the MGET, then the writes side by side (two round trips), as before.

/** What a resolver knows of a contact before its reads: enough for a fresh cache hit's writes to go with them. */
export interface HitPlan {
  /** epoch ms: freshness is judged against it */
  now: number;
  ttl: { ttlMs: number; notFoundTtlMs: number; enrichmentTtlMs: number };
  /** the contact may create a profile: a cached NOT_FOUND does not answer it */
  createAllowed: boolean;
  /** the search key of the contact's phone number or e-mail address (see `attaches`) */
  identityKey: string | undefined;
  initialContactId: string;
  /** the contact's record, but for what its lookup decides */
  record: PartialRecord;
}

export type PartialRecord = Omit<RecordJob, 'profileId' | 'customerStatus' | 'profileSearch'> & {
  /** the contact's first key (searchedByOf): what the screen pop of a MULTIPLE lists the matches by */
  searchedBy?: SearchPair | undefined;
};

/** The record of a contact its lookup attaches to `profileId` (see attaches), with the screen pop its answer gave. */
export function completeRecord(
  { searchedBy, ...record }: PartialRecord,
  lookup: { status: CustomerStatus; verification?: Verification | undefined; summary: { profileId: string } },
): RecordJob {
  const profileSearch = screenPop({ status: lookup.status, verification: lookup.verification ?? 'NOT_CHECKED', summary: lookup.summary, searchedBy });
  return { ...record, profileId: lookup.summary.profileId, customerStatus: lookup.status, ...(profileSearch && { profileSearch }) };
}

/** The writes made with the reads (a fresh cache hit's): the resolver does not make them again. */
export interface HitWrites {
  repeat: RepeatInfo;
  recordStatus: 'QUEUED' | 'SKIPPED';
  /** the answer is kept, by reference to the lookup (see IdempotencyStore.put) */
  kept: boolean;
  /** the resolution is kept for the contact's later legs (see ContactLegs) */
  leg: boolean;
  /** a MULTIPLE lookup's duplicate set was noted (see DuplicateSets), or Redis refused it: not noted again */
  duplicates?: boolean;
}

/**
 * A cached lookup's clear head, in a key of its own beside the lookup (StateKeys.lookupHead), so that a
 * version that does not know it reads and writes the lookup as before. Nothing personal: the profile id,
 * times, counts, the status and verification, the names of the keys that matched.
 */
interface LookupHead {
  /** the nonce of the sealed value it describes: a value written without its head (an earlier version) does not match */
  n: string;
  /** cachedAt */
  c: number;
  s: CachedLookup['status'];
  /** the summary's profile id, '' without one */
  p: string;
  /** matchCount */
  k: number;
  v: Verification;
  /** matchedBy: key names */
  m: string[];
  /** how many enrichment sources the summary holds values of, and when the oldest was read (0: none) */
  q: number;
  e: number;
  /** a MULTIPLE lookup's duplicate set: its id, the key's name, the key's keyed hash, the profile ids comma-joined (absent: none) */
  d?: [string, string, string, string];
}

/** The nonce of a sealed value (`<keyId>.<nonce>.<body>`, see Sealer): one seal's, never another's. */
function nonceOf(sealed: string): string {
  return sealed.split('.')[1] ?? '';
}

/** The head of a lookup as sealed (`sealed`: its value in Redis). */
export function lookupHead(lookup: CachedLookup, sealed: string): string {
  const enriched = Object.values(lookup.summary?.enriched ?? {});
  const head: LookupHead = {
    n: nonceOf(sealed),
    c: lookup.cachedAt,
    s: lookup.status,
    p: lookup.summary?.profileId ?? '',
    k: lookup.matchCount,
    v: lookup.verification ?? 'NOT_CHECKED',
    m: lookup.matchedBy ?? [],
    q: enriched.length,
    e: enriched.length === 0 ? 0 : Math.min(...enriched.map((x) => x.at)),
  };
  const d = lookup.status === 'MULTIPLE' ? lookup.duplicates : undefined;
  if (d) head.d = [duplicateSetId(d), d.key, d.keyHash, d.ids.join(',')];
  return JSON.stringify(head);
}

/** The list a cache hit's record is appended to, beside the queue's inbox (the same hash tag): see RedisRecordQueue.move. */
export function hitInbox(queuePrefix: string): string {
  return `${queuePrefix}:contact-records:hits`;
}

/**
 * A cache hit's record in the hit inbox. The script cannot seal: the record is sealed before it without
 * the profile id and status, and with the name of the lookup's key; the script appends the lookup as it
 * read it (sealed, bound to that key). The mover opens both and completes the record (openHitEntry), so
 * what it is written to is as authenticated as before: a changed head cannot send it to another profile.
 * In clear, as in a queued record: the ContactId, the time and the caller's keyed tag (for an erasure).
 */
export interface HitEntry {
  hit: 1;
  contactId: string;
  receivedAt: string;
  identityTag: string;
  /** `PartialRecord & { lookupKey }`, bound to the job id (the ContactId) */
  sealed: string;
  /** the cached lookup as the script read it */
  lookup: string;
}

/**
 * The record of a hit inbox entry, completed from its lookup; undefined when either does not open
 * (tampered, or sealed with a key not in DATA_KEYS); 'detached' when the lookup does not attach the
 * contact to a profile (then the script was told otherwise by a head that was not the lookup's).
 */
export function openHitEntry(sealer: Sealer, entry: HitEntry): RecordJob | 'detached' | undefined {
  const sealed = sealer.open<PartialRecord & { lookupKey: string }>(entry.sealed, entry.contactId);
  if (!sealed) return undefined;
  const { lookupKey, ...record } = sealed;
  const lookup = typeof entry.lookup === 'string' ? sealer.open<CachedLookup>(entry.lookup, lookupKey) : undefined;
  if (!lookup) return undefined;
  const summary = lookup.summary;
  const identityKey = record.identityType === 'PHONE' ? STANDARD_KEYS.phone : record.identityType === 'EMAIL' ? STANDARD_KEYS.email : undefined;
  if (!summary?.profileId || !attaches(lookup, identityKey)) return 'detached';
  return completeRecord(record, { ...lookup, summary });
}

// HIT (KEYS kept answer, cached lookup, its head, hit inbox, the contact's leg; ARGV below): the reads, and a fresh hit's
// writes. The profile's history key is built here from the head's profile id: it is in another slot,
// which only a single Redis allows (never run on a cluster). Writes: the record first (a full Redis
// refuses it, the script's first write, and then nothing is written: the resolver makes the writes
// itself, as before), then the history (a failure: no repeat flag, as in RedisRecentContacts), then the
// answer kept by reference, when every enrichment source of the lookup is fresh or there is none to call (a
// MISMATCH calls none: it shows nothing of the profile) (otherwise the resolver enriches and keeps the answer
// itself), then the contact's resolution for its later legs, when the lookup
// names a profile (a failure: a later leg looks the caller up). The kept answer is the JSON that
// RedisIdempotencyStore.put writes for a cache hit (KeptByReference, with clearOutcome's fields); the leg
// the JSON RedisContactLegs.remember writes (ContactLeg).
//   ARGV 1 now, 2 a KNOWN or MULTIPLE lookup cached after this is fresh, 3 the same for NOT_FOUND ('': it
//   does not answer this contact), 4 enrichment values read after this are fresh, 5 the mapping's
//   enrichment sources, 6 the contact's identity key name or '', 7 InitialContactId, 8 the repeat
//   window's start, 9 the window (ms), 10 the history's bound, 11-12 the history key before and after the
//   profile id, 13 the record's entry without its closing brace, 14 the kept answer's TTL (ms), 15 the
//   leg's JSON without what the head gives and its closing brace ('': legs are not kept), 16 the leg's TTL (ms),
//   17 the duplicate sets' base ('': not recorded), 18 their TTL (ms), 19 how many are kept, 20 the lookup's member
//   in a profile's index (`<tag> <variant>`)
//   -> {1, kept answer, lookup or ''} | {0, lookup or ''} (nothing written) | {0, lookup, 1, newest other contact's time or '', record status, 1 if kept else 0,
//      the writes Redis refused: 'r' the history, 'k' the kept answer, 'l' the leg, 'd' the duplicate set; 1 if the set was noted or refused}
// A MULTIPLE lookup whose head names its duplicate set (`d`) notes it (SEEN_LUA, cache/duplicates.ts), last: so a
// MULTIPLE cache hit records its set in the same round trip, and a Connect retry (answered above) does not.
const HIT = new RedisScript(`${RECENT_LUA}${SEEN_LUA}
local function iso(ms)
  local s = math.floor(ms / 1000)
  local days = math.floor(s / 86400)
  local rem = s - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60, ms % 1000)
end
local reads = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3])
local answer, lookup, raw = reads[1], reads[2], reads[3]
if answer then return {1, answer, lookup or ''} end
if not lookup then return {0, ''} end
if not raw then return {0, lookup} end
local ok, h = pcall(cjson.decode, raw)
if not ok or type(h) ~= 'table' or h.n ~= string.match(lookup, '^[^.]*%.([^.]*)%.') then return {0, lookup} end
local since = h.s == 'NOT_FOUND' and ARGV[3] or ARGV[2]
if since == '' or not (tonumber(h.c) > tonumber(since)) then return {0, lookup} end
local last, status, failed = false, 'SKIPPED', ''
local attach = h.v ~= 'MISMATCH'
for _, name in ipairs(h.m) do
  if name == ARGV[6] then attach = true end
end
if h.p ~= '' and attach then
  local pushed = redis.pcall('RPUSH', KEYS[4], ARGV[13] .. ',"lookup":' .. cjson.encode(lookup) .. '}')
  if type(pushed) == 'table' and pushed.err then return {0, lookup} end
  status = 'QUEUED'
  local done, at = pcall(recent, ARGV[11] .. h.p .. ARGV[12], ARGV[7], ARGV[1], ARGV[8], tonumber(ARGV[10]), ARGV[9])
  if done then last = at else failed = failed .. 'r' end
end
local sources = tonumber(ARGV[5])
local enrichment = (h.p == '' or sources == 0 or h.v == 'MISMATCH') and 'NONE' or 'COMPLETE'
local kept = 0
local matched = #h.m == 0 and '[]' or cjson.encode(h.m)
if enrichment == 'NONE' or (h.q >= sources and h.e > tonumber(ARGV[4])) then
  local value = '{"profileId":' .. cjson.encode(h.p) .. ',"lookup":' .. cjson.encode(lookup)
    .. ',"outcome":{"status":' .. cjson.encode(h.s) .. ',"matchCount":' .. h.k .. ',"degraded":false'
    .. ',"repeat":{"isRepeat":' .. (last and 'true' or 'false') .. ',"lastContactAt":"' .. (last and iso(tonumber(last)) or '') .. '"}'
    .. ',"recordStatus":"' .. status .. '","verification":' .. cjson.encode(h.v) .. ',"matchedBy":' .. matched
    .. ',"enrichment":"' .. enrichment .. '"}}'
  local set = redis.pcall('SET', KEYS[1], value, 'PX', ARGV[14])
  if type(set) == 'table' and set.err then failed = failed .. 'k' else kept = 1 end
end
if h.p ~= '' and ARGV[15] ~= '' then
  local leg = ARGV[15] .. ',"profileId":' .. cjson.encode(h.p) .. ',"status":' .. cjson.encode(h.s) .. ',"matchCount":' .. h.k
    .. ',"verification":' .. cjson.encode(h.v) .. ',"matchedBy":' .. matched .. '}'
  local set = redis.pcall('SET', KEYS[5], leg, 'PX', ARGV[16])
  if type(set) == 'table' and set.err then failed = failed .. 'l' end
end
local noted = 0
if ARGV[17] ~= '' and h.s == 'MULTIPLE' and type(h.d) == 'table' and #h.d == 4 then
  noted = 1
  if not pcall(seen, ARGV[17], h.d[1], h.d[2], h.d[3], h.d[4], ARGV[20], ARGV[1], ARGV[18], ARGV[19]) then failed = failed .. 'd' end
end
return {0, lookup, 1, last or '', status, kept, failed, noted}
`);

export interface ContactHitOptions {
  redis: RedisClient;
  keys: StateKeys;
  cache: Pick<RedisProfileCache, 'open'>;
  idempotency: Pick<RedisIdempotencyStore, 'open'>;
  sealer: Sealer;
  /** the record queue's key prefix (recordQueuePrefix) */
  queuePrefix: string;
  repeatWindowMs: number;
  /** CONTACT_LEG_WINDOW_SECONDS in ms (0: legs are not kept) */
  legWindowMs: number;
  idempotencyTtlMs: number;
  /** how many enrichment sources the attribute mapping has */
  sources: number;
  /** where a MULTIPLE hit notes its duplicate set (RedisDuplicateSets.scriptArgs; base '': not noted) */
  duplicates?: DuplicateScriptArgs | undefined;
  /** told of a write the script could not make (Redis refused it): `recent.record`, `idempotency.put`, `legs.remember` or `duplicates.seen`, counted as those stores count theirs */
  onWriteFailed?: (operation: string) => void;
}

/** A contact's reads on a single Redis, with a fresh cache hit's writes in the same script. */
export class ContactHit {
  private readonly inbox: string;
  private readonly history: [string, string];

  constructor(private readonly o: ContactHitOptions) {
    this.inbox = hitInbox(o.queuePrefix);
    const [before, after] = o.keys.recentContacts('\n').split('\n');
    this.history = [before!, after!];
  }

  async read(tag: string, variant: string, contactId: string, callerKeys: Pick<CallerKeys, 'identity' | 'extra'>, plan: HitPlan): Promise<ContactReads> {
    const { keys, sealer } = this.o;
    const lookupKey = keys.profileCache(tag, variant);
    const { record, now, ttl } = plan;
    // a cache hit's one seal: the record, bound to its job id (the ContactId), with the name of the key its lookup is bound to
    const entry: Omit<HitEntry, 'lookup'> = {
      hit: 1,
      contactId: record.contactId,
      receivedAt: record.receivedAt,
      identityTag: record.identityTag,
      sealed: sealer.seal({ ...record, lookupKey }, record.contactId),
    };
    // the contact's resolution for its later legs (ContactLeg), but for what the lookup's head gives
    const leg = this.o.legWindowMs > 0 ? JSON.stringify({ contactId, at: now, identityTag: plan.identityKey ? tag : '', tag, variant }).slice(0, -1) : '';
    const reply = (await HIT.run(
      this.o.redis,
      [keys.contactAnswer(tag, contactId, variant), lookupKey, keys.lookupHead(tag, variant), this.inbox, keys.contactLeg(contactId)],
      [
        now,
        now - ttl.ttlMs,
        plan.createAllowed ? '' : now - ttl.notFoundTtlMs,
        now - ttl.enrichmentTtlMs,
        this.o.sources,
        plan.identityKey ?? '',
        plan.initialContactId,
        now - this.o.repeatWindowMs,
        this.o.repeatWindowMs,
        MAX_PER_PROFILE,
        ...this.history,
        JSON.stringify(entry).slice(0, -1),
        this.o.idempotencyTtlMs,
        leg,
        this.o.legWindowMs,
        this.o.duplicates?.base ?? '',
        this.o.duplicates?.ttlMs ?? 0,
        this.o.duplicates?.maxSets ?? 0,
        lookupMember(tag, variant),
      ],
    )) as [0 | 1, string, string?, string?, string?, number?, string?, number?];
    const [kind, first, second] = reply;
    const raw = (kind === 1 ? second : first) || undefined;
    const cached = raw ? this.o.cache.open(tag, raw, variant) : undefined;
    const earlier = kind === 1 ? this.o.idempotency.open(tag, contactId, first, variant, callerKeys) : undefined;
    const reads: ContactReads = { earlier, cached, sealedLookup: cached ? raw : undefined };
    // Written: the lookup was a fresh hit for this contact. Not told when the lookup does not open here
    // (a DATA_KEYS without the key it was sealed with): this replica then looks the caller up as on a miss,
    // and queues the record again, which is the same job (its ContactId).
    if (kind === 0 && reply.length > 2 && cached) {
      const [, , , last, recordStatus, kept, failed = '', noted] = reply;
      if (failed.includes('r')) this.o.onWriteFailed?.('recent.record');
      if (failed.includes('k')) this.o.onWriteFailed?.('idempotency.put');
      if (failed.includes('l')) this.o.onWriteFailed?.('legs.remember');
      if (failed.includes('d')) this.o.onWriteFailed?.('duplicates.seen');
      reads.written = {
        repeat: repeatInfo(last ? Number(last) : 0),
        recordStatus: recordStatus as HitWrites['recordStatus'],
        kept: kept === 1,
        leg: leg !== '' && cached.summary !== undefined && !failed.includes('l'),
        ...(noted === 1 && { duplicates: true }),
      };
    }
    return reads;
  }
}
