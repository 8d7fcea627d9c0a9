import { z } from 'zod';
import { ADDRESS_FIELDS, ADDRESS_PARTS, EMAIL_FIELDS, PHONE_FIELDS, SCALAR_PROFILE_FIELDS, type Profile } from './profile.js';

/** Answer keys the service always sends; a mapping may not reuse them. */
export const CORE_KEYS = [
  'customerStatus',
  'profileId',
  'profileMatchCount',
  'profileSearchKey',
  'profileSearchValue',
  'identityType',
  'phoneE164',
  'phoneCountry',
  'emailAddress',
  'firstName',
  'lastName',
  'accountNumber',
  'isRepeatContact',
  'lastContactAt',
  'contactRecordStatus',
  'degraded',
  'verification',
  'matchedBy',
  'carriedFromContactId',
  'phoneChangedRecently',
  'emailChangedRecently',
  'addressChangedRecently',
  'mergedRecently',
  'recentFailedChecks',
  'enrichment',
  'enrichmentPartial',
  'enrichmentAsOf',
  'fallbackReason',
] as const;

type Getter = (p: Profile) => string | undefined;

/**
 * A read beyond the profile itself, made after the profile is chosen (see the use case's enrich step):
 * one `ListCalculatedAttributesForProfile` for all calculated attributes, one `ListProfileObjects` per
 * object type, one `GetSegmentMembership` per segment. Plain data: it is part of the cache version.
 */
export type EnrichmentCall =
  | { id: 'calculated-attributes'; kind: 'calculated' }
  | { id: string; kind: 'object'; objectType: string; latestBy: string[]; where?: { key: string; values: string[] } }
  | { id: string; kind: 'segment'; segment: string };
export type EnrichmentKind = EnrichmentCall['kind'];
/**
 * How far a value can be trusted as current, as Customer Profiles says it: `partial`, its calculated
 * attribute was computed from part of the profile's data (ListCalculatedAttributesForProfile's
 * IsDataPartial "true"; undefined when the item did not say); `asOf` (epoch ms), the newest object a
 * calculated attribute includes (LastObjectTimestamp) or when a segment's membership was last
 * computed (GetSegmentMembership's LastComputedAt).
 */
export interface Freshness {
  partial?: boolean;
  asOf?: number;
}
/** One calculated attribute of a profile: its value and what ListCalculatedAttributesForProfile said of its freshness. */
export interface CalculatedValue extends Freshness {
  value: string;
}
/** A profile's membership of one segment, and when the segment was computed (epoch ms, when told). */
export interface Membership {
  member: boolean;
  computedAt?: number;
}
/** What a call brings: calculated attributes by name, the latest object, or membership. */
export type EnrichmentResult = Record<string, CalculatedValue> | Record<string, unknown> | Membership | undefined;

/** One extra answer key and how to read it: from the profile (`read`) or from an enrichment call (`call`). */
export interface MappedAttribute {
  key: string;
  source: string;
  read?: Getter;
  call?: EnrichmentCall;
  /** the key's value out of its call's result */
  pick?: (result: EnrichmentResult) => string | undefined;
  /** what the result says of the value's freshness (calculated attributes and segments; undefined: nothing) */
  freshness?: (result: EnrichmentResult) => Freshness | undefined;
  /**
   * Personal (a name, a number, an address, an order id): not answered for a profile that only keys the
   * caller claimed found, until verified (see disclosesPersonal). Else routing-only (a tier, a segment, a
   * language, a count). From the source by default (personalByDefault); the file's "personal" and
   * "routing" lists decide for the keys they name.
   */
  personal: boolean;
}
export type AttributeMapping = readonly MappedAttribute[];

const MAX_MAPPED = 64;
/** Each is one more AWS call, side by side, on a lookup that is not cached. */
const MAX_ENRICHMENT_CALLS = 10;
// Connect contact attribute names: letters, digits, '-' and '_' are safe in every flow block and in $.External.
const KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ATTRIBUTE_SOURCE = /^Attributes\.([A-Za-z0-9_.:-]{1,255})$/;
// Names as the Customer Profiles model constrains them (CalculatedAttributeName, typeName, SegmentDefinitionName).
const CALCULATED_SOURCE = /^CalculatedAttributes\.([a-zA-Z_][a-zA-Z_0-9-]{0,254})$/;
const OBJECT_SOURCE = /^Objects\.([a-zA-Z_][a-zA-Z_0-9-]{0,254})\.([A-Za-z0-9_-]{1,255}(?:\.[A-Za-z0-9_-]{1,255})*)$/;
const SEGMENT_SOURCE = /^Segments\.([a-zA-Z0-9_-]{1,64})$/;
const FIELD_PATH = /^[A-Za-z0-9_-]{1,255}(?:\.[A-Za-z0-9_-]{1,255})*$/;

// The profile fields that say who someone is or how to reach them.
const PERSONAL_FIELDS: ReadonlySet<string> = new Set([
  'AccountNumber',
  'AdditionalInformation',
  'BusinessName',
  'FirstName',
  'MiddleName',
  'LastName',
  'BirthDate',
  'Gender',
  'GenderString',
  ...PHONE_FIELDS,
  ...EMAIL_FIELDS,
]);

/**
 * What is clearly personal, by its source: the names, numbers, e-mail addresses, birth date and gender of
 * the profile, any part of an address, and an object's fields (an order id, a case id: objects are the
 * customer's own records). Routing-only: the party and profile type, custom attributes (`Attributes.tier`,
 * `Attributes.preferredLanguage`), calculated attributes and segments. A custom attribute that holds
 * something personal is named in the file's "personal" list.
 */
export function personalByDefault(source: string): boolean {
  if (PERSONAL_FIELDS.has(source)) return true;
  if ((ADDRESS_FIELDS as readonly string[]).some((f) => source.startsWith(`${f}.`))) return true;
  return OBJECT_SOURCE.test(source);
}

function getterFor(source: string): Getter | undefined {
  if ((SCALAR_PROFILE_FIELDS as readonly string[]).includes(source)) {
    const field = source as (typeof SCALAR_PROFILE_FIELDS)[number];
    return (p) => p[field];
  }
  const custom = ATTRIBUTE_SOURCE.exec(source);
  if (custom) {
    const name = custom[1]!;
    return (p) => (p.Attributes && Object.hasOwn(p.Attributes, name) ? p.Attributes[name] : undefined);
  }
  const [field, part, ...rest] = source.split('.');
  if (
    rest.length === 0 &&
    (ADDRESS_FIELDS as readonly string[]).includes(field!) &&
    (ADDRESS_PARTS as readonly string[]).includes(part!)
  ) {
    const f = field as (typeof ADDRESS_FIELDS)[number];
    const a = part as (typeof ADDRESS_PARTS)[number];
    return (p) => p[f]?.[a];
  }
  return undefined;
}

/** A scalar at a dotted path of an object, as a string; objects and arrays give undefined. */
function fieldAt(object: unknown, path: readonly string[]): string | undefined {
  let cur: unknown = object;
  for (const part of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string' || typeof cur === 'number' || typeof cur === 'boolean' ? String(cur) : undefined;
}

/** A timestamp field's value as epoch ms: ISO 8601 text, or epoch seconds or milliseconds. */
export function timeOf(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) {
    const n = Number(value);
    return n < 1e11 ? n * 1000 : n; // 1e11 s is the year 5138; 1e11 ms is 1973
  }
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The latest of a profile's objects of one type. ListProfileObjects documents no order, so "latest"
 * is the object whose `latestBy` field holds the latest time; objects without a readable time are
 * never chosen; a tie goes to the greater unique key, so every replica chooses the same.
 */
export function latestObject(
  objects: ReadonlyArray<{ uniqueKey: string; object: Record<string, unknown> }>,
  latestBy: readonly string[],
): Record<string, unknown> | undefined {
  let best: { uniqueKey: string; object: Record<string, unknown> } | undefined;
  let bestAt = -Infinity;
  for (const o of objects) {
    const at = timeOf(fieldAt(o.object, latestBy));
    if (at === undefined) continue;
    if (at > bestAt || (at === bestAt && best !== undefined && o.uniqueKey > best.uniqueKey)) {
      best = o;
      bestAt = at;
    }
  }
  return best?.object;
}

type ObjectSpec = { latestBy: string; where?: { key: string; values: string[] } | undefined };

function enrichmentFor(
  source: string,
  objects: Record<string, ObjectSpec>,
): (Pick<MappedAttribute, 'pick' | 'freshness'> & { call: EnrichmentCall }) | string | undefined {
  const calculated = CALCULATED_SOURCE.exec(source);
  if (calculated) {
    const name = calculated[1]!;
    const item = (r: EnrichmentResult) => {
      const values = r as Record<string, CalculatedValue> | undefined;
      return values && Object.hasOwn(values, name) ? values[name] : undefined;
    };
    const freshness = (r: EnrichmentResult): Freshness | undefined => {
      const a = item(r);
      return a && { ...(a.partial !== undefined && { partial: a.partial }), ...(a.asOf !== undefined && { asOf: a.asOf }) };
    };
    return { call: { id: 'calculated-attributes', kind: 'calculated' }, pick: (r) => item(r)?.value, freshness };
  }
  const object = OBJECT_SOURCE.exec(source);
  if (object) {
    const objectType = object[1]!;
    const path = object[2]!.split('.');
    const spec = Object.hasOwn(objects, objectType) ? objects[objectType] : undefined;
    if (!spec) return `"${source}" needs "objects": {"${objectType}": {"latestBy": "<the object's timestamp field>"}}`;
    const call: EnrichmentCall = {
      id: `object:${objectType}`,
      kind: 'object',
      objectType,
      latestBy: spec.latestBy.split('.'),
      ...(spec.where && { where: spec.where }),
    };
    return { call, pick: (r) => fieldAt(r, path) };
  }
  const segment = SEGMENT_SOURCE.exec(source);
  if (segment) {
    const name = segment[1]!;
    return {
      call: { id: `segment:${name}`, kind: 'segment', segment: name },
      pick: (r) => (r === undefined ? undefined : String((r as Membership).member === true)),
      freshness: (r) => {
        const computedAt = (r as Membership | undefined)?.computedAt;
        return computedAt === undefined ? undefined : { asOf: computedAt };
      },
    };
  }
  return undefined;
}

const objectSpec = z.object({
  latestBy: z.string().regex(FIELD_PATH, 'a field of the object (a dotted path for a nested one)'),
  where: z
    .object({
      key: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'a key of the object type'),
      values: z.array(z.string().min(1).max(255)).min(1).max(10),
    })
    .optional(),
});
const fileSchema = z.object({
  attributes: z.record(z.string(), z.string()).default({}),
  objects: z.record(z.string(), objectSpec).default({}),
  // answer keys that are personal, or routing-only, whatever their source says (personalByDefault)
  personal: z.array(z.string()).default([]),
  routing: z.array(z.string()).default([]),
});

const SOURCES_HELP =
  `a profile field (one of ${SCALAR_PROFILE_FIELDS.join(', ')}; <${ADDRESS_FIELDS.join('|')}>.<${ADDRESS_PARTS.join('|')}>; ` +
  'or Attributes.<name>), CalculatedAttributes.<name>, Objects.<ObjectTypeName>.<field> or Segments.<SegmentDefinitionName>';

/** Validates the mapping file's content; returns problems as "key: what is wrong". */
export function parseAttributeMapping(raw: unknown): { mapping: AttributeMapping; problems: string[] } {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}; ` : '';
    return {
      mapping: [],
      problems: [`${where}the file must be {"attributes": {"answerKey": "source"}, "objects": {"ObjectTypeName": {"latestBy": "field"}}, "personal": ["answerKey"], "routing": ["answerKey"]}`],
    };
  }
  const problems: string[] = [];
  const mapping: MappedAttribute[] = [];
  const { attributes, objects, personal, routing } = parsed.data;
  const entries = Object.entries(attributes);
  for (const [list, names] of [['personal', personal], ['routing', routing]] as const) {
    for (const name of names) if (!Object.hasOwn(attributes, name)) problems.push(`${list}: "${name}" is not a key of "attributes"`);
  }
  for (const name of personal) if (routing.includes(name)) problems.push(`"${name}": in both "personal" and "routing"`);
  const personalOf = (key: string, source: string) => (personal.includes(key) ? true : routing.includes(key) ? false : personalByDefault(source));
  if (entries.length > MAX_MAPPED) problems.push(`at most ${MAX_MAPPED} mapped attributes (got ${entries.length})`);
  const usedTypes = new Set<string>();
  const calls = new Set<string>();
  for (const [key, source] of entries) {
    if (!KEY.test(key)) problems.push(`"${key}": an answer key is a letter then up to 63 letters, digits, '-' or '_'`);
    else if ((CORE_KEYS as readonly string[]).includes(key)) problems.push(`"${key}": is a core answer key`);
    const read = getterFor(source);
    if (read) {
      mapping.push({ key, source, read, personal: personalOf(key, source) });
      continue;
    }
    const enrichment = enrichmentFor(source, objects);
    if (typeof enrichment === 'string') problems.push(`"${key}": ${enrichment}`);
    else if (enrichment) {
      mapping.push({ key, source, ...enrichment, personal: personalOf(key, source) });
      calls.add(enrichment.call.id);
      if (enrichment.call.kind === 'object') usedTypes.add(enrichment.call.objectType);
    } else problems.push(`"${key}": "${source}" is not ${SOURCES_HELP}`);
  }
  for (const type of Object.keys(objects)) {
    if (!usedTypes.has(type)) problems.push(`objects.${type}: no attribute reads Objects.${type}.<field>`);
  }
  if (calls.size > MAX_ENRICHMENT_CALLS) {
    problems.push(`at most ${MAX_ENRICHMENT_CALLS} enrichment calls a lookup (calculated attributes, object types and segments together; got ${calls.size})`);
  }
  return { mapping, problems };
}

const callsOf = new WeakMap<AttributeMapping, EnrichmentCall[]>();
/** The distinct enrichment calls a mapping needs, in the order of its keys. */
export function enrichmentCalls(mapping: AttributeMapping): EnrichmentCall[] {
  let calls = callsOf.get(mapping);
  if (!calls) {
    const byId = new Map<string, EnrichmentCall>();
    for (const m of mapping) if (m.call && !byId.has(m.call.id)) byId.set(m.call.id, m.call);
    calls = [...byId.values()];
    callsOf.set(mapping, calls);
  }
  return calls;
}

// Values go into Connect contact attributes and are spoken, shown to agents and compared in flows:
// no control characters, bounded length. The whole answer stays well under Lambda's 32 KB
// response limit for Connect.
const MAX_VALUE_BYTES = 1024;
export const MAX_ANSWER_BYTES = 16 * 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

export function sanitiseValue(value: string | undefined): string {
  if (value === undefined) return '';
  let out = value.replace(CONTROL, ' ').trim();
  if (Buffer.byteLength(out) > MAX_VALUE_BYTES) {
    out = Buffer.from(out).subarray(0, MAX_VALUE_BYTES).toString('utf8');
    // a cut in the middle of a character leaves U+FFFD at the end: drop it
    out = out.replace(/\uFFFD+$/, '').trimEnd();
  }
  return out;
}

/** Bytes the pair takes in the JSON answer: "key":"value", with escapes. */
export function jsonBytes(key: string, value: string): number {
  return Buffer.byteLength(JSON.stringify(key)) + Buffer.byteLength(JSON.stringify(value)) + 2;
}

/** The profile's own mapped values (the `read` keys), sanitised; enrichment keys come from their calls. */
export function readProfile(profile: Profile, mapping: AttributeMapping): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, read } of mapping) if (read) out[key] = sanitiseValue(read(profile));
  return out;
}

/**
 * Every mapped key with its value, within the byte budget left after the core keys. Every key is
 * always present ('' when there is no value); the bytes of the empty pairs are set aside first, so
 * values that come early can never push later keys over the budget.
 */
export function fitMapped(mapping: AttributeMapping, values: Readonly<Record<string, string>>, budgetBytes: number): Record<string, string> {
  const out: Record<string, string> = {};
  let left = budgetBytes;
  for (const { key } of mapping) left -= jsonBytes(key, '');
  for (const { key } of mapping) {
    const value = Object.hasOwn(values, key) ? values[key]! : '';
    const extra = value === '' ? 0 : jsonBytes(key, value) - jsonBytes(key, '');
    if (extra <= left) {
      out[key] = value;
      left -= extra;
    } else out[key] = '';
  }
  return out;
}
