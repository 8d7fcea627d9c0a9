import { z } from 'zod';
import { ADDRESS_FIELDS, ADDRESS_PARTS, SCALAR_PROFILE_FIELDS, type Profile } from './profile.js';

/** Answer keys the service always sends; a mapping may not reuse them. */
export const CORE_KEYS = [
  'customerStatus',
  'profileId',
  'profileMatchCount',
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
] as const;

type Getter = (p: Profile) => string | undefined;
/** One extra answer key and how to read it from a profile. */
export interface MappedAttribute {
  key: string;
  source: string;
  read: Getter;
}
export type AttributeMapping = readonly MappedAttribute[];

const MAX_MAPPED = 64;
// Connect contact attribute names: letters, digits, '-' and '_' are safe in every flow block and in $.External.
const KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ATTRIBUTE_SOURCE = /^Attributes\.([A-Za-z0-9_.:-]{1,255})$/;

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

const fileSchema = z.object({
  attributes: z.record(z.string(), z.string()).default({}),
});

/** Validates the mapping file's content; returns problems as "key: what is wrong". */
export function parseAttributeMapping(raw: unknown): { mapping: AttributeMapping; problems: string[] } {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) return { mapping: [], problems: ['the file must be {"attributes": {"answerKey": "ProfileField"}}'] };
  const problems: string[] = [];
  const mapping: MappedAttribute[] = [];
  const entries = Object.entries(parsed.data.attributes);
  if (entries.length > MAX_MAPPED) problems.push(`at most ${MAX_MAPPED} mapped attributes (got ${entries.length})`);
  for (const [key, source] of entries) {
    if (!KEY.test(key)) problems.push(`"${key}": an answer key is a letter then up to 63 letters, digits, '-' or '_'`);
    else if ((CORE_KEYS as readonly string[]).includes(key)) problems.push(`"${key}": is a core answer key`);
    const read = getterFor(source);
    if (!read) {
      problems.push(
        `"${key}": "${source}" is not a profile field (one of ${SCALAR_PROFILE_FIELDS.join(', ')}; ` +
          `<${ADDRESS_FIELDS.join('|')}>.<${ADDRESS_PARTS.join('|')}>; or Attributes.<name>)`,
      );
    } else mapping.push({ key, source, read });
  }
  return { mapping, problems };
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

/**
 * The mapped values of a profile, sanitised, within the byte budget left after the core keys. Every
 * key is always present; the bytes of the empty pairs are set aside first, so values that come
 * early can never push later keys over the budget.
 */
export function readMapped(profile: Profile | undefined, mapping: AttributeMapping, budgetBytes: number): Record<string, string> {
  const out: Record<string, string> = {};
  let left = budgetBytes;
  for (const { key } of mapping) left -= jsonBytes(key, '');
  for (const { key, read } of mapping) {
    const value = profile ? sanitiseValue(read(profile)) : '';
    const extra = value === '' ? 0 : jsonBytes(key, value) - jsonBytes(key, '');
    if (extra <= left) {
      out[key] = value;
      left -= extra;
    } else out[key] = '';
  }
  return out;
}
