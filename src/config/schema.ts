import { hkdfSync } from 'node:crypto';
import { z } from 'zod';
import { isCountryCode } from '../domain/identity.js';

// Every setting: its environment name, validator and description. Defaults live in config/default.json.
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `an integer between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `an integer between ${min} and ${max}`).max(max, `an integer between ${min} and ${max}`));

const bool = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'true or false' }))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' });
const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0));

/**
 * HKDF-SHA256 info (with an empty salt) that turns each secret of DATA_KEYS's JSON form into its
 * AES-256 key. Changing it changes every key: values sealed before would no longer open.
 */
export const DATA_KEYS_HKDF_INFO = 'connect-profile-resolver DATA_KEYS';

/** The AES-256 key a secret of DATA_KEYS's JSON form stands for. */
export function deriveDataKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), DATA_KEYS_HKDF_INFO, 32));
}

const JSON_KEYS = 'a JSON object {"<keyId>": "<secret of at least 32 characters>", ...}, newest first';

/** What is wrong with DATA_KEYS's JSON form, never quoting a secret; undefined when nothing is. */
function jsonKeysProblem(text: string, parsed: unknown): string | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return JSON_KEYS;
  const entries = Object.entries(parsed);
  if (entries.length === 0) return 'at least one key';
  // an id that is not one is not quoted: it may be a secret put in the wrong place
  if (entries.some(([id]) => !/^[A-Za-z0-9_-]{1,16}$/.test(id) || /^\d+$/.test(id))) {
    return `${JSON_KEYS}: key ids of 1-16 letters, digits, _ or -, not all digits`;
  }
  const short = entries.find(([, secret]) => typeof secret !== 'string' || secret.length < 32);
  if (short) return `${JSON_KEYS}: the secret of key "${short[0]}" is not a string of at least 32 characters`;
  // JSON.parse keeps only the last value of a repeated member: count them in the text (the ids are
  // plain [A-Za-z0-9_-], and a secret's own quotes are escaped)
  const repeated = entries.map(([id]) => id).find((id) => (text.match(new RegExp(`(?<!\\\\)"${id}"\\s*:`, 'g')) ?? []).length > 1);
  if (repeated !== undefined) return `distinct key ids (key id "${repeated}" appears twice)`;
  return undefined;
}

// The form AWS Secrets Manager generates (SecretStringTemplate "{}", GenerateStringKey "<keyId>"):
// ids in newest-first order, each secret turned into a key by HKDF. JavaScript puts all-digit
// (array index) names ahead of the others whatever their order in the text, so ids are not all
// digits: the order of the object is then the order it was written in.
const dataKeysJson = z.string().transform((text, ctx) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON.parse's message: it quotes the text, which holds the secrets
    ctx.addIssue({ code: 'custom', message: `${JSON_KEYS} (this is not valid JSON)` });
    return z.NEVER;
  }
  const problem = jsonKeysProblem(text, parsed);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return Object.entries(parsed as Record<string, string>).map(([id, secret]) => ({ id, key: deriveDataKey(secret) }));
});

// The original form: "keyId:base64 of 32 bytes", comma-separated, newest first.
const dataKeysList = list
  .pipe(
    z
      .array(z.string().regex(/^[A-Za-z0-9_-]{1,16}:[A-Za-z0-9+/]{43}=$/, 'keyId:base64 of 32 random bytes (openssl rand -base64 32)'))
      .min(1, 'at least one key'),
  )
  .transform((specs, ctx) => {
    const keys = specs.map((spec) => ({ id: spec.slice(0, spec.indexOf(':')), key: Buffer.from(spec.slice(spec.indexOf(':') + 1), 'base64') }));
    const repeated = keys.find((k, i) => keys.findIndex((other) => other.id === k.id) !== i);
    if (repeated) {
      ctx.addIssue({ code: 'custom', message: `distinct key ids (key id "${repeated.id}" appears twice)` });
      return z.NEVER;
    }
    return keys;
  });

/** DATA_KEYS in either form, as the keys it holds, newest first. */
const dataKeys = z
  .string()
  .transform((text, ctx) => {
    const parsed = (text.trimStart().startsWith('{') ? dataKeysJson : dataKeysList).safeParse(text);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
    return z.NEVER;
  });

export const settings = {
  NODE_ENV: z.enum(['development', 'test', 'production'], { error: 'development, test or production' }).describe(
    'production refuses to start without CUSTOMER_PROFILES_DOMAIN and AUTH_TOKENS',
  ),
  PORT: int(0, 65535).describe('listen port'),
  METRICS_PORT: int(0, 65535).describe(
    'port of the /metrics listener, for the Prometheus scraper only (the main port answers 404 for /metrics); must differ from PORT',
  ),
  CUSTOMER_PROFILES_DOMAIN: z
    .string()
    .regex(/^[a-zA-Z0-9_-]{1,64}$/, '1-64 letters, digits, _ or -')
    .optional()
    .describe('Customer Profiles domain name; unset: the embedded in-process store'),
  AWS_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region such as us-east-1')
    .optional()
    .describe('AWS region of the domain and the Connect instance; required with a domain'),
  AWS_ENDPOINT_URL_CUSTOMER_PROFILES: url.optional().describe('Customer Profiles endpoint override (VPC endpoint, tests)'),
  AWS_ENDPOINT_URL_CONNECT: url.optional().describe('Amazon Connect endpoint override'),
  AWS_ENDPOINT_URL_KINESIS: url.optional().describe('Kinesis endpoint override (VPC endpoint, tests), for PROFILE_EVENT_STREAM_ARN'),
  PROFILE_EVENT_STREAM_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:kinesis:[a-z]{2}(-[a-z]+)+-\d:\d{12}:stream\/[a-zA-Z0-9_.-]{1,128}$/, 'a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)')
    .optional()
    .describe(
      "the Kinesis stream the domain's event stream writes to (its Uri): profile changes made outside the service (an agent's edit, a merge) drop the cached lookups of the profile; unset: the cache learns only of the service's own updates",
    ),
  PROFILE_EVENT_POLL_MS: int(200, 10000).describe(
    "how often each shard of PROFILE_EVENT_STREAM_ARN is read (GetRecords), by one replica of the fleet; Kinesis allows 5 reads a second per shard, shared with the stream's other readers",
  ),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, error: 'a redis:// or rediss:// URL' })
    .optional()
    .describe('a single Redis (rediss:// for TLS; password in the URL); unset: in-process state'),
  REDIS_CLUSTER_NODES: list
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'host:port')).min(1, 'at least one host:port'))
    .optional()
    .describe('comma-separated host:port seeds of a Redis Cluster'),
  REDIS_CLUSTER_PASSWORD: z.string().min(1).optional().describe('password of the cluster nodes'),
  REDIS_CLUSTER_TLS: bool.optional().describe('connect to the cluster nodes with TLS'),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, '1-32 letters, digits, _ or -').describe('first part of every Redis key'),
  REDIS_COMMAND_TIMEOUT_MS: int(5, 5000).describe('the most Redis may take to answer one command (on a single Redis, not counting a stall of the event loop) before it counts as failed'),
  CACHE_TTL_SECONDS: int(0, 86400).describe('how long a looked-up profile answers from the cache without asking Customer Profiles'),
  CACHE_NOT_FOUND_TTL_SECONDS: int(0, 3600).describe('the same for "no profile" (creation off)'),
  CACHE_STALE_MAX_AGE_SECONDS: int(0, 604800).describe('the oldest cached answer given (degraded) when Customer Profiles fails'),
  ENRICHMENT_TTL_SECONDS: int(0, 86400).describe(
    'how long calculated attributes, objects and segment memberships answer from the cache (they change with every contact)',
  ),
  ENRICHMENT_CALLS_PER_SECOND: int(1, 100).describe(
    'enrichment calls per operation per second, fleet-wide (Customer Profiles allows about 100 per operation per account); past it enrichment is skipped',
  ),
  CUSTOMER_PROFILES_ACCOUNT_QUOTA: int(1, 100000).describe(
    "the account's Customer Profiles quota: requests a second per operation (about 100 unless AWS raised yours; Service Quotas shows it)",
  ),
  CUSTOMER_PROFILES_FLEET_SHARE_PERCENT: int(1, 100).describe(
    'the share of that quota the whole fleet uses, per operation, in percent; the rest is left to the agent workspace and every other tool in the account',
  ),
  CUSTOMER_PROFILES_SHARE: list
    .pipe(z.array(z.string().regex(/^[A-Za-z]{1,64}=\d{1,6}$/, 'Operation=callsPerSecond pairs, comma-separated')))
    .optional()
    .describe('the fleet share of named operations, in calls a second (e.g. SearchProfiles=80,CreateProfile=40); the others take the percent'),
  CREATE_LOCK_TTL_MS: int(200, 30000).describe('expiry of the fleet-wide lock around creating one caller\'s profile'),
  IDENTITY_HASH_SECRET: z.string().min(16, 'at least 16 characters').describe('HMAC key that turns identities into Redis key names'),
  RECORD_OBJECT_TYPE: z
    .string()
    .regex(/^[a-zA-Z][a-zA-Z_0-9-]{0,254}$/, 'an object type name (letters, digits, _ and -, not starting with _)')
    .describe('the Customer Profiles object type of contact records (npm run setup-domain creates it)'),
  RECORD_CONTACT_ATTRIBUTES: list
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'attribute names')).max(50, 'at most 50 attributes'))
    .describe('contact attributes copied into each contact record'),
  RECORD_WRITES_PER_SECOND: int(1, 100000)
    .optional()
    .describe(
      "contact records the whole fleet starts writing per second (each is one AddProfileKey and one PutProfileObject); unset: PutProfileObject's fleet share",
    ),
  RECORD_MAX_ATTEMPTS: int(1, 50).describe('attempts at a record (5xx, network) before it becomes a dead letter; throttling does not count'),
  RECORD_JOB_LOCK_MS: int(1000, 600000).describe("how long a replica's hold on a record lasts without renewal: a dead replica's records are taken over after it"),
  RECORD_DEAD_LETTER_DAYS: int(1, 365).describe('how long dead letters are kept before they are dropped (they hold personal data)'),
  RECORD_WORKER: bool.describe('this replica writes contact records (false: it only queues them)'),
  CONNECT_STAMP: bool.describe('also write profileId, customerStatus and the screen pop (profileSearchKey/Value) onto the contact (UpdateContactAttributes)'),
  CONNECT_STAMP_PER_SECOND: int(1, 10).describe("UpdateContactAttributes calls per second, fleet-wide (Connect allows 10 per account)"),
  AUTH_TOKENS_FILE: z.string().min(1).optional().describe('a file of bearer tokens (one per line or comma-separated), e.g. a mounted secret; adds to AUTH_TOKENS'),
  ADMIN_TOKENS: list
    .pipe(z.array(z.string().min(16, 'tokens of at least 16 characters').max(512, 'tokens of at most 512 characters')))
    .optional()
    .describe('bearer tokens for the admin endpoints (erasure, profile updates by an operator); unset: admin endpoints are off'),
  ADMIN_TOKENS_FILE: z.string().min(1).optional().describe('a file of admin tokens; adds to ADMIN_TOKENS'),
  DATA_KEYS: dataKeys.describe(
    'AES-256-GCM keys for data in Redis, newest first: the first encrypts, all decrypt (rotation); "id:base64key,..." or a JSON object {"id": "secret of 32+ characters", ...} whose keys are derived with HKDF-SHA256',
  ),
  DATA_KEYS_FILE: z.string().min(1).optional().describe('a file holding DATA_KEYS, in either form (replaces the variable)'),
  AUTH_TOKENS: list
    .pipe(z.array(z.string().min(16, 'tokens of at least 16 characters').max(512, 'tokens of at most 512 characters')))
    .optional()
    .describe('comma-separated bearer tokens accepted (several during a rotation)'),
  DEFAULT_COUNTRY: z
    .string()
    .refine(isCountryCode, 'an ISO 3166-1 alpha-2 region such as US or GB')
    .describe('region for numbers without a country code'),
  RESOLVE_DEADLINE_MS: int(100, 8000).describe('the most one resolve may take before a fallback answer (Connect waits at most 8 s)'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    error: 'fatal, error, warn, info, debug, trace or silent',
  }),
  SHUTDOWN_GRACE_MS: int(0, 120000).describe('the most a SIGTERM drain may take'),
  CREATE_PROFILES: bool.describe('create a profile for a caller with none (a flow can turn it off per call)'),
  REPEAT_WINDOW_HOURS: int(1, 720).describe('a contact within this many hours of another by the same customer is a repeat contact'),
  IDV_MAX_FAILURES_PER_CALLER: int(0, 1000).describe(
    'failed ID&V checks (MISMATCH, or claimed keys that find nobody) one caller may make within IDV_FAILURE_WINDOW_SECONDS before their checks are locked; 0: no limit',
  ),
  IDV_MAX_FAILURES_PER_KEY: int(0, 1000).describe(
    'failed ID&V checks one claimed key value (an account number) may take from any callers within the window before it is locked; 0: no limit',
  ),
  RISK_CHANGE_WINDOW_DAYS: int(0, 3650).describe(
    "how far back a verified caller's answer looks for changes of the profile's phone, e-mail, address, or a merge; 0: the history is not read",
  ),
  IDV_FAILURE_WINDOW_SECONDS: int(1, 86400).describe('the window failed ID&V checks are counted in'),
  IDV_LOCKOUT_SECONDS: int(1, 86400).describe('how long a locked caller or key answers verification LOCKED without a check'),
  CONTACT_LEG_WINDOW_SECONDS: int(0, 86400).describe(
    "how long a contact's resolution (and its verification) answers the contact's later legs (a transfer, a callback); 0: never",
  ),
  DUPLICATE_SETS_MAX: int(0, 1_000_000).describe(
    'how many duplicate sets (the profiles a MULTIPLE answer found together) are kept for npm run duplicates; past it the least recently seen go; 0: none are recorded',
  ),
  DUPLICATE_SETS_DAYS: int(1, 365).describe('how long a duplicate set is kept after the last MULTIPLE answer that named it'),
  IDEMPOTENCY_TTL_SECONDS: int(30, 86400).describe(
    "how long the answer for a ContactId is kept for Connect's Lambda retries (up to 3, each up to 8 s)",
  ),
  ATTRIBUTE_MAPPING_FILE: z.string().min(1).describe('JSON file of extra answer keys -> profile fields'),
  EMBEDDED_PROFILES_FILE: z.string().min(1).describe('JSON file of profiles the embedded store starts with'),
} as const;

export const envSchema = z.object(settings);
export type EnvSettings = z.infer<typeof envSchema>;
