import { z } from 'zod';
import { InvalidEventError } from '../errors.js';
import { MATCH_MODES, STANDARD_KEYS, type MatchMode } from '../domain/keys.js';
import { UPDATE_PREFIX } from '../domain/profile-update.js';

export const CHANNELS = ['VOICE', 'CHAT', 'TASK', 'EMAIL'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What the service uses of an Amazon Connect contact-flow Lambda event. */
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
    countryCode?: string;
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

// Connect ContactIds are UUIDs; anything in this shape is safe to log and to use in keys.
const id = z.string().regex(/^[A-Za-z0-9-]{1,128}$/, 'must be a contact id (letters, digits and -)');
const optionalId = id.nullish();
const text = (max: number) => z.string().max(max, `must be at most ${max} characters`);
const endpoint = z
  .object({ Address: text(1024).nullish(), Type: text(64).nullish() })
  .nullish();
// A search key value as Customer Profiles takes it: 1 to 255 characters. Surrounding blanks are dropped,
// and an empty value is the same as none: a flow passes "" for an attribute that was never set.
const keyValue = z
  .string()
  .transform((v) => v.trim())
  .refine((v) => v.length <= 255, 'must be at most 255 characters')
  .transform((v) => (v === '' ? undefined : v))
  .optional();
const RESERVED_KEYS = new Set<string>(Object.values(STANDARD_KEYS));
const stringMap = z.record(z.string().max(256), z.string().max(32 * 1024, 'must be at most 32768 characters'));

const eventSchema = z.object({
  Name: z.literal('ContactFlowEvent', 'must be "ContactFlowEvent"').optional(),
  Details: z.object(
    {
      ContactData: z.object(
        {
          ContactId: id,
          InitialContactId: optionalId,
          PreviousContactId: optionalId,
          Channel: z.enum(CHANNELS, `must be one of ${CHANNELS.join(', ')}`),
          InitiationMethod: text(64).nullish(),
          InstanceARN: text(256).nullish(),
          CustomerEndpoint: endpoint,
          SystemEndpoint: endpoint,
          Queue: z.object({ Name: text(256).nullish() }).nullish(),
          Attributes: stringMap.nullish(),
        },
        'must be an object',
      ),
      Parameters: z
        .object({
          phoneNumber: text(256).optional(),
          emailAddress: text(512).optional(),
          countryCode: z
            .string()
            .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 region such as US')
            .optional(),
          createProfile: z
            .string()
            .regex(/^(true|false)$/i, 'must be "true" or "false"')
            .optional(),
          accountNumber: keyValue,
          profileId: keyValue.refine((v) => v === undefined || /^[0-9a-f]{32}$/i.test(v), 'must be a profile id: 32 hex characters'),
          searchKey: keyValue.refine(
            (v) => v === undefined || /^[a-zA-Z0-9_-]{1,64}$/.test(v),
            "must be a search key name: 1 to 64 letters, digits, '_' or '-'",
          ).refine((v) => !RESERVED_KEYS.has(v ?? ''), 'is filled by the service: give phoneNumber, emailAddress, accountNumber or profileId instead'),
          searchValue: keyValue,
          matchMode: z
            .string()
            .transform((v) => v.trim().toLowerCase())
            .refine((v) => v === '' || (MATCH_MODES as readonly string[]).includes(v), `must be one of ${MATCH_MODES.join(', ')}`)
            .optional(),
          operation: z
            .string()
            .transform((v) => v.trim().toLowerCase())
            .refine((v) => v === '' || v === 'resolve' || v === 'update', 'must be resolve or update')
            .optional(),
        })
        // the profile.* parameters of an update, read by the update use case
        .catchall(z.unknown())
        // A constant searchKey with a searchValue from an attribute never set is "no custom key"; a value
        // with no key name is a flow that is wired wrong.
        .refine((p) => p.searchValue === undefined || p.searchKey !== undefined, {
          message: 'searchValue needs a searchKey (the search key name it is a value of)',
          path: ['searchKey'],
        })
        .nullish(),
    },
    'must be an object',
  ),
});

function toEndpoint(e: { Address?: string | null; Type?: string | null } | null | undefined): Endpoint | null {
  if (!e) return null;
  return { address: e.Address ?? null, type: e.Type ?? '' };
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

/** Validates a Connect Lambda event; unknown fields are ignored. Throws InvalidEventError naming the field. */
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
  const p = parsed.data.Details.Parameters ?? {};
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
    initiationMethod: d.InitiationMethod ?? '',
    instanceArn: d.InstanceARN ?? '',
    queueName: d.Queue?.Name ?? '',
    customerEndpoint: toEndpoint(d.CustomerEndpoint),
    systemEndpoint: toEndpoint(d.SystemEndpoint),
    attributes: d.Attributes ?? {},
    parameters: {
      phoneNumber: p.phoneNumber,
      emailAddress: p.emailAddress,
      countryCode: p.countryCode?.toUpperCase(),
      createProfile: p.createProfile === undefined ? undefined : p.createProfile.toLowerCase() === 'true',
      accountNumber: p.accountNumber,
      profileId: p.profileId?.toLowerCase(),
      search: p.searchKey !== undefined && p.searchValue !== undefined ? { key: p.searchKey, value: p.searchValue } : undefined,
      matchMode: (p.matchMode || 'any') as MatchMode,
    },
    operation,
    update,
  };
}
