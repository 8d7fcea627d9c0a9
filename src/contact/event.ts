import type { CountryCode } from 'libphonenumber-js/max';
import { z } from 'zod';
import { InvalidEventError } from '../errors.js';
import { isCountryCode } from '../domain/identity.js';
import { MATCH_MODES, STANDARD_KEYS, type MatchMode } from '../domain/keys.js';
import { UPDATE_PREFIX } from '../domain/profile-update.js';

/** The channels Connect sends (in any letter case); OTHER: one Connect adds later, or none given. */
export const CHANNELS = ['VOICE', 'CHAT', 'TASK', 'EMAIL', 'OTHER'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface ContactEvent {
  contactId: string;
  initialContactId: string;
  previousContactId: string;
  channel: Channel;
  initiationMethod: string;
  instanceArn: string;
  queueName: string;
  customerEndpoint: Endpoint | null;
  systemEndpoint: Endpoint | null;
  /** contact attributes (user-defined), strings only */
  attributes: Record<string, string>;
  parameters: {
    phoneNumber?: string;
    emailAddress?: string;
    /** a region libphonenumber-js supports, upper-case */
    countryCode?: CountryCode;
    /** undefined: the service default */
    createProfile?: boolean;
    /** searched as `_account` */
    accountNumber?: string;
    /** searched as `_profileId` (lower-cased) */
    profileId?: string;
    /** a custom search key of the domain and its value (a key with an empty value is none) */
    search?: { key: string; value: string };
    matchMode: MatchMode;
  };
  /** `resolve` (the default) or `update`: write `update` (the `profile.*` parameters) to the contact's profile */
  operation: 'resolve' | 'update';
  /** the `profile.*` parameters as the flow sent them (validated by the update use case, which knows the region) */
  update: Record<string, unknown>;
}
export interface Endpoint {
  address: string | null;
  type: string;
}

// What the service needs of an event, read strictly: the ContactId (it keys the answer kept for Connect's
// retries and the contact record) and the identity it looks the caller up by (the customer endpoint,
// the flow parameters). Everything else it only carries into the contact record, or ignores: Connect
// adds fields over time and the samples in AWS's own documentation differ (a Queue that is a string,
// or null), so those are read loosely and never refuse an event.

// Connect ContactIds are UUIDs; anything in this shape is safe to log and to use in keys.
const CONTACT_ID = /^[A-Za-z0-9-]{1,128}$/;
const id = z.string().regex(CONTACT_ID, 'must be a contact id (letters, digits and -)');
const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);
const endpoint = z
  .object({ Address: text(1024).nullish(), Type: text(64).nullish() })
  .nullish();

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A field read loosely: whatever it holds (absent, null, any type) becomes what `read` makes of it; never a 400. */
const loose = <T>(read: (v: unknown) => T) => z.unknown().optional().transform(read);
/** A field only carried along: a string of at most `max` characters, else "". */
const carried = (max: number) => loose((v) => (typeof v === 'string' && v.length <= max ? v : ''));
/** A contact id only carried along (InitialContactId, PreviousContactId): undefined unless in the ContactId's shape. */
const carriedId = loose((v) => (typeof v === 'string' && CONTACT_ID.test(v) ? v : undefined));
const channel = loose((v): Channel => {
  const c = typeof v === 'string' ? v.trim().toUpperCase() : '';
  return (CHANNELS as readonly string[]).includes(c) ? (c as Channel) : 'OTHER';
});
// Queue: an object with a Name (Lambda Developer Guide), the name as a string (Administrator Guide) or null (SAM CLI).
const queueName = loose((v) => {
  const name = isRecord(v) ? v.Name : v;
  return typeof name === 'string' && name.length <= 256 ? name.trim() : '';
});
// Contact attributes are strings; a value of another type is left out (own keys only, as JSON.parse made them).
const attributes = loose((v) => (isRecord(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {}));
// The system endpoint (the number the caller dialled) is never the caller: only carried into the record.
const carriedEndpoint = loose((v) =>
  isRecord(v) ? { Address: typeof v.Address === 'string' ? v.Address : null, Type: typeof v.Type === 'string' ? v.Type : null } : null,
);

/**
 * A flow parameter as a flow sends it: a string, trimmed. Empty or blank (a flow passes "" for an
 * attribute that was never set) or null is the same as not given, for every parameter below.
 */
const given = z
  .string('must be a string')
  .nullish()
  .transform((v) => {
    const t = v?.trim();
    return t === undefined || t === '' ? undefined : t;
  });
const atMost = (max: number) => given.refine((v) => v === undefined || v.length <= max, `must be at most ${max} characters`);
/** A value of a fixed set, in any letter case. */
const oneOf = <T extends string>(values: readonly T[], message: string) =>
  given.transform((v) => v?.toLowerCase()).refine((v): v is T | undefined => v === undefined || (values as readonly string[]).includes(v), message);
// A search key value as Customer Profiles takes it: 1 to 255 characters.
const keyValue = atMost(255);
const RESERVED_KEYS = new Set<string>(Object.values(STANDARD_KEYS));

const parametersSchema = z
  .object(
    {
      phoneNumber: atMost(256),
      emailAddress: atMost(512),
      countryCode: given
        .transform((v) => v?.toUpperCase())
        .refine(
          (v): v is CountryCode | undefined => v === undefined || isCountryCode(v),
          'must be a region code libphonenumber-js supports (ISO 3166-1 alpha-2 such as US or DE; the United Kingdom is GB)',
        ),
      createProfile: oneOf(['true', 'false'], 'must be "true" or "false"'),
      accountNumber: keyValue,
      profileId: keyValue.refine((v) => v === undefined || /^[0-9a-f]{32}$/i.test(v), 'must be a profile id: 32 hex characters'),
      searchKey: keyValue
        .refine((v) => v === undefined || /^[a-zA-Z0-9_-]{1,64}$/.test(v), "must be a search key name: 1 to 64 letters, digits, '_' or '-'")
        .refine((v) => !RESERVED_KEYS.has(v ?? ''), 'is filled by the service: give phoneNumber, emailAddress, accountNumber or profileId instead'),
      searchValue: keyValue,
      matchMode: oneOf(MATCH_MODES, `must be one of ${MATCH_MODES.join(', ')}`),
      operation: oneOf(['resolve', 'update'], 'must be resolve or update'),
    },
    'must be an object',
  )
  // the profile.* parameters of an update, read by the update use case
  .catchall(z.unknown())
  // A constant searchKey with a searchValue from an attribute never set is "no custom key"; a value
  // with no key name is a flow that is wired wrong.
  .refine((p) => p.searchValue === undefined || p.searchKey !== undefined, {
    message: 'searchValue needs a searchKey (the search key name it is a value of)',
    path: ['searchKey'],
  });

const eventSchema = z.object({
  Details: z.object(
    {
      ContactData: z.object(
        {
          ContactId: id,
          InitialContactId: carriedId,
          PreviousContactId: carriedId,
          Channel: channel,
          InitiationMethod: carried(64),
          InstanceARN: carried(256),
          CustomerEndpoint: endpoint,
          SystemEndpoint: carriedEndpoint,
          Queue: queueName,
          Attributes: attributes,
        },
        'must be an object',
      ),
      // absent or null: no parameters (every parameter not given)
      Parameters: z.preprocess((v) => v ?? {}, parametersSchema),
    },
    'must be an object',
  ),
});

function toEndpoint(e: { Address?: string | null; Type?: string | null } | null | undefined): Endpoint | null {
  if (!e) return null;
  return { address: e.Address ?? null, type: (e.Type ?? '').trim().toUpperCase() };
}

/**
 * The field to name in a 400: a dotted path the flow author can follow. A key that cannot be written
 * in a dotted path (empty, or holding a dot) is named in the message instead, under its parent.
 */
function fieldOf(path: readonly PropertyKey[], message: string): { field: string; message: string } {
  const simple = (k: PropertyKey) => typeof k === 'number' || (typeof k === 'string' && /^[A-Za-z0-9_$-]+$/.test(k));
  const cut = path.findIndex((k) => !simple(k));
  if (cut < 0) return { field: path.join('.'), message };
  const parent = path.slice(0, cut).join('.') || 'body';
  return { field: parent, message: `key ${JSON.stringify(String(path[cut]))}: ${message}` };
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/**
 * Validates a Connect Lambda event: ContactId, the customer endpoint and the flow parameters strictly,
 * the rest loosely; unknown fields are ignored. Throws InvalidEventError naming the field.
 */
export function parseContactEvent(body: unknown): ContactEvent {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidEventError('body', 'must be the Amazon Connect Lambda event object');
  }
  const parsed = eventSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const missing = issue.code === 'invalid_type' && valueAt(body, issue.path) === undefined;
    const named = issue.path.length > 0 ? fieldOf(issue.path, missing ? 'is required' : issue.message) : { field: 'body', message: issue.message };
    throw new InvalidEventError(named.field, named.message);
  }
  const d = parsed.data.Details.ContactData;
  const p = parsed.data.Details.Parameters;
  const operation = p.operation === 'update' ? 'update' : 'resolve';
  const update = Object.fromEntries(Object.entries(p).filter(([name]) => name.startsWith(UPDATE_PREFIX)));
  if (operation === 'resolve' && Object.keys(update).length > 0) {
    throw new InvalidEventError('Details.Parameters', `key ${JSON.stringify(Object.keys(update)[0])}: profile.* parameters need operation "update"`);
  }
  return {
    contactId: d.ContactId,
    initialContactId: d.InitialContactId ?? d.ContactId,
    previousContactId: d.PreviousContactId ?? '',
    channel: d.Channel,
    initiationMethod: d.InitiationMethod,
    instanceArn: d.InstanceARN,
    queueName: d.Queue,
    customerEndpoint: toEndpoint(d.CustomerEndpoint),
    systemEndpoint: toEndpoint(d.SystemEndpoint),
    attributes: d.Attributes,
    parameters: {
      phoneNumber: p.phoneNumber,
      emailAddress: p.emailAddress,
      countryCode: p.countryCode,
      createProfile: p.createProfile === undefined ? undefined : p.createProfile === 'true',
      accountNumber: p.accountNumber,
      profileId: p.profileId?.toLowerCase(),
      search: p.searchKey !== undefined && p.searchValue !== undefined ? { key: p.searchKey, value: p.searchValue } : undefined,
      matchMode: p.matchMode ?? 'any',
    },
    operation,
    update,
  };
}
