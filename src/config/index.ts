import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { CountryCode } from 'libphonenumber-js/max';
import { z } from 'zod';
import { SHARED_OPERATIONS } from '../aws-operations.js';
import { parseAttributeMapping, type AttributeMapping } from '../domain/mapping.js';
import { ConfigError } from '../errors.js';
import type { ProfileSeed } from '../domain/profile.js';
import type { RedisEndpoint } from '../redis/client.js';
import { envSchema, settings } from './schema.js';

/** ID&V attempts (cache/attempts.ts): failures per caller and per claimed key within the window, then the lockout; a limit of 0 counts nothing. */
export interface AttemptLimits {
  perCaller: number;
  perKey: number;
  windowMs: number;
  lockoutMs: number;
}

export interface Config {
  /** what this configuration was read from: another thread of the service reads the same (the record worker's) */
  source: { env: Env; baseDir: string };
  nodeEnv: 'development' | 'test' | 'production';
  port: number;
  /** the /metrics listener's port (never the same listener as `port`: a load balancer in front of it would expose the metrics) */
  metricsPort: number;
  /** unset: the embedded store */
  domain: string | undefined;
  aws: { region: string | undefined; customerProfilesEndpoint: string | undefined; connectEndpoint: string | undefined; kinesisEndpoint: string | undefined };
  /**
   * The domain's event stream (a Kinesis stream), read to drop what is cached of the profiles that change outside the
   * service (stream/); unset: not read. `leaseMs`: how long a replica's hold on a shard lasts without renewal.
   */
  profileEvents: { streamArn: string; pollMs: number; leaseMs: number } | undefined;
  /** empty: no authentication (refused in production) */
  authTokens: string[];
  /** empty: the admin endpoints are off */
  adminTokens: string[];
  /** AES-256-GCM keys for data at rest in Redis; the first encrypts */
  dataKeys: Array<{ id: string; key: Buffer }>;
  defaultCountry: CountryCode;
  resolveDeadlineMs: number;
  logLevel: string;
  shutdownGraceMs: number;
  createProfiles: boolean;
  redis: RedisEndpoint;
  redisKeyPrefix: string;
  /**
   * Where every Redis key of this service starts: `<REDIS_KEY_PREFIX>:<domain, or 'embedded'>`, so several
   * domains (or environments) can share one Redis. Computed here once: the state, the record queue, the
   * pacer and the operator commands all build their keys under it.
   */
  keyNamespace: string;
  redisCommandTimeoutMs: number;
  cache: { ttlMs: number; notFoundTtlMs: number; staleMaxAgeMs: number; enrichmentTtlMs: number };
  /** enrichment calls per operation per second, fleet-wide */
  enrichmentCallsPerSecond: number;
  /**
   * The fleet's share of the account's Customer Profiles quota (cache/quota.ts): calls a second per
   * operation, shared by every replica. Enrichment's operations take at most enrichmentCallsPerSecond.
   */
  quota: { accountPerSecond: number; shares: { default: number; perOperation: ReadonlyMap<string, number> } };
  createLockTtlMs: number;
  identityHashSecret: string;
  records: {
    objectType: string;
    contactAttributes: string[];
    writesPerSecond: number;
    maxAttempts: number;
    lockMs: number;
    deadLetterDays: number;
    worker: boolean;
    connectStamp: boolean;
    connectStampPerSecond: number;
  };
  repeatWindowMs: number;
  idempotencyTtlMs: number;
  /** how long a contact's resolution answers its later legs (transfers, callbacks); 0: off */
  contactLegWindowMs: number;
  /** the duplicate sets kept (0: none recorded) and for how long after each was last seen */
  duplicates: { maxSets: number; ttlMs: number };
  /** ID&V attempts: failures per caller and per claimed key within the window, and the lockout */
  idvAttempts: AttemptLimits;
  /** how far back a verified answer's step-up signals read the profile's history; 0: not read */
  riskChangeWindowDays: number;
  attributeMapping: AttributeMapping;
  embeddedProfiles: ProfileSeed[];
}

export type Env = Record<string, string | undefined>;

// never echoed in an error message
const SECRET = new Set(['AUTH_TOKENS', 'ADMIN_TOKENS', 'DATA_KEYS', 'IDENTITY_HASH_SECRET', 'REDIS_URL', 'REDIS_CLUSTER_PASSWORD']);

/** A value as it may be echoed in an error: any user:password@ in it removed. */
function withoutCredentials(value: string | undefined): string | undefined {
  return value?.replace(/[^\s,/@]*:[^\s,/@]*@/g, '<redacted>@');
}

/** Tokens or keys from a mounted-secret file: one per line or comma-separated. */
/** A file's text, trimmed; undefined when it cannot be read (the problem is recorded). */
function readText(path: string, variable: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    problems.push(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** Values one per line or comma-separated. */
const splitList = (text: string): string[] =>
  text
    .split(/[\n,]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);

function readList(path: string, variable: string, problems: string[]): string[] {
  const text = readText(path, variable, problems);
  return text === undefined ? [] : splitList(text);
}

/** DATA_KEYS_FILE's content as DATA_KEYS takes it: a JSON object as it is, otherwise its keys one per line or comma-separated. */
function readDataKeys(path: string, variable: string, problems: string[]): string | undefined {
  const text = readText(path, variable, problems);
  return text === undefined || text.startsWith('{') ? text : splitList(text).join(',');
}

const profileSchema = z.looseObject({
  ProfileId: z.string().regex(/^[0-9a-f]{32}$/, '32 lower-case hex characters'),
  // what a domain holds beside the profile (see ProfileSeed)
  searchKeys: z.record(z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/), z.array(z.string().min(1).max(255))).optional(),
  calculatedAttributes: z.record(z.string(), z.string()).optional(),
  objects: z.record(z.string(), z.array(z.record(z.string(), z.unknown()))).optional(),
  segments: z.array(z.string()).optional(),
});

function readJson(path: string, variable: string, problems: string[]): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    problems.push(`${variable}: cannot read ${path} as JSON (${(err as Error).message})`);
    return undefined;
  }
}

type Settings = z.infer<typeof envSchema>;

/** config/default.json overlaid by the environment (an empty variable is not set), validated by the schema. */
function parseSettings(env: Env, baseDir: string): { s: Settings; defaults: Env; input: Env } {
  const defaults = JSON.parse(readFileSync(resolve(baseDir, 'config/default.json'), 'utf8')) as Env;
  const input: Env = { NODE_ENV: 'development', ...defaults };
  for (const name of Object.keys(settings)) {
    const value = env[name];
    // an empty variable (common in container specs) means "not set"
    if (value !== undefined && value.trim() !== '') input[name] = value.trim();
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0]);
        return `${name}: expected ${i.message} (got ${JSON.stringify(SECRET.has(name) ? '<redacted>' : withoutCredentials(input[name]))})`;
      }),
    );
  }
  return { s: parsed.data, defaults, input };
}

/** The tokens and data keys, from their variables and their mounted-secret files. */
function readSecrets(s: Settings, fromBase: (p: string) => string, problems: string[]): Pick<Config, 'authTokens' | 'adminTokens' | 'dataKeys'> {
  const fileTokens = (variable: string, path: string | undefined) => {
    const tokens = path ? readList(fromBase(path), variable, problems) : [];
    if (tokens.some((t) => t.length < 16 || t.length > 512)) problems.push(`${variable}: tokens of 16 to 512 characters`);
    return tokens;
  };
  const authTokens = [...(s.AUTH_TOKENS ?? []), ...fileTokens('AUTH_TOKENS_FILE', s.AUTH_TOKENS_FILE)];
  const adminTokens = [...(s.ADMIN_TOKENS ?? []), ...fileTokens('ADMIN_TOKENS_FILE', s.ADMIN_TOKENS_FILE)];
  if (adminTokens.some((t) => authTokens.includes(t))) problems.push('ADMIN_TOKENS: an admin token must not also be a resolve token');
  const keyVariable = s.DATA_KEYS_FILE ? 'DATA_KEYS_FILE' : 'DATA_KEYS';
  let dataKeys: Config['dataKeys'] = s.DATA_KEYS;
  if (s.DATA_KEYS_FILE) {
    // the file's keys pass the same validator as the variable's, in either form
    const text = readDataKeys(fromBase(s.DATA_KEYS_FILE), keyVariable, problems);
    const fromFile = text === undefined ? undefined : settings.DATA_KEYS.safeParse(text);
    if (fromFile?.success) dataKeys = fromFile.data;
    else if (fromFile) problems.push(`${keyVariable}: expected ${fromFile.error.issues[0]?.message ?? 'keyId:base64 keys'}`);
  }
  return { authTokens, adminTokens, dataKeys };
}

/** What no one setting can say wrong alone: production's requirements, settings that exclude each other. */
function checkTogether(s: Settings, defaults: Env, input: Env, authTokens: readonly string[], problems: string[]): void {
  if (s.NODE_ENV === 'production') {
    if (!s.CUSTOMER_PROFILES_DOMAIN) problems.push('CUSTOMER_PROFILES_DOMAIN: required when NODE_ENV=production (the embedded store is for local runs)');
    if (authTokens.length === 0) problems.push('AUTH_TOKENS: required when NODE_ENV=production (or AUTH_TOKENS_FILE)');
    if ((s.REDIS_URL || s.REDIS_CLUSTER_NODES) && s.IDENTITY_HASH_SECRET === defaults.IDENTITY_HASH_SECRET) {
      problems.push('IDENTITY_HASH_SECRET: set your own when NODE_ENV=production with Redis (the default is public)');
    }
    if ((s.REDIS_URL || s.REDIS_CLUSTER_NODES) && !s.DATA_KEYS_FILE && input.DATA_KEYS === defaults.DATA_KEYS) {
      problems.push('DATA_KEYS: set your own when NODE_ENV=production with Redis (the default is public)');
    }
  }
  // 0 picks a free port for each (tests): two listeners still
  if (s.METRICS_PORT === s.PORT && s.PORT !== 0) {
    problems.push(`METRICS_PORT: must differ from PORT (${s.PORT}): /metrics has a listener of its own, so that what reaches PORT (a load balancer) never reaches the metrics`);
  }
  if (s.REDIS_URL && s.REDIS_CLUSTER_NODES) problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  if (s.CUSTOMER_PROFILES_DOMAIN && !s.AWS_REGION) problems.push('AWS_REGION: required with CUSTOMER_PROFILES_DOMAIN');
  if (s.PROFILE_EVENT_STREAM_ARN && !s.CUSTOMER_PROFILES_DOMAIN) problems.push('PROFILE_EVENT_STREAM_ARN: needs CUSTOMER_PROFILES_DOMAIN (the stream carries that domain\'s changes)');
  const streamRegion = s.PROFILE_EVENT_STREAM_ARN?.split(':')[3];
  // CreateEventStream: "the same region and Amazon Web Services account as the customer profiles domain"
  if (streamRegion && s.AWS_REGION && streamRegion !== s.AWS_REGION) problems.push(`PROFILE_EVENT_STREAM_ARN: the stream is in ${streamRegion}, the domain in AWS_REGION ${s.AWS_REGION}: an event stream writes to a stream of the domain's region`);
}

const ENRICHMENT_OPERATIONS = ['ListCalculatedAttributesForProfile', 'ListProfileObjects', 'GetSegmentMembership'];

/** The fleet's calls a second per operation: the percent of the account quota, CUSTOMER_PROFILES_SHARE's, enrichment's cap. */
function quotaShares(s: Settings, problems: string[]): Config['quota']['shares'] {
  const account = s.CUSTOMER_PROFILES_ACCOUNT_QUOTA;
  const shares = { default: Math.max(1, Math.floor((account * s.CUSTOMER_PROFILES_FLEET_SHARE_PERCENT) / 100)), perOperation: new Map<string, number>() };
  for (const pair of s.CUSTOMER_PROFILES_SHARE ?? []) {
    const [operation, value] = pair.split('=') as [string, string];
    const perSecond = Number(value);
    if (!SHARED_OPERATIONS.includes(operation)) {
      problems.push(`CUSTOMER_PROFILES_SHARE: ${operation} is not an operation the service calls (${SHARED_OPERATIONS.join(', ')})`);
    } else if (perSecond < 1 || perSecond > account) {
      problems.push(`CUSTOMER_PROFILES_SHARE: ${operation}'s share must be between 1 and CUSTOMER_PROFILES_ACCOUNT_QUOTA (${account})`);
    } else shares.perOperation.set(operation, perSecond);
  }
  for (const operation of ENRICHMENT_OPERATIONS) {
    shares.perOperation.set(operation, Math.min(shares.perOperation.get(operation) ?? shares.default, s.ENRICHMENT_CALLS_PER_SECOND));
  }
  return shares;
}

/** The attribute mapping, and without a domain the embedded store's seed profiles. */
function readFiles(s: Settings, fromBase: (p: string) => string, problems: string[]): Pick<Config, 'attributeMapping' | 'embeddedProfiles'> {
  const { mapping, problems: mappingProblems } = parseAttributeMapping(
    readJson(fromBase(s.ATTRIBUTE_MAPPING_FILE), 'ATTRIBUTE_MAPPING_FILE', problems),
  );
  problems.push(...mappingProblems.map((p) => `ATTRIBUTE_MAPPING_FILE: ${p}`));
  let embeddedProfiles: ProfileSeed[] = [];
  if (!s.CUSTOMER_PROFILES_DOMAIN) {
    const seed = z
      .object({ profiles: z.array(profileSchema) })
      .safeParse(readJson(fromBase(s.EMBEDDED_PROFILES_FILE), 'EMBEDDED_PROFILES_FILE', problems));
    if (seed.success) embeddedProfiles = seed.data.profiles;
    else {
      const issue = seed.error.issues[0]!;
      problems.push(`EMBEDDED_PROFILES_FILE: ${issue.path.join('.')}: ${issue.message}; expected {"profiles": [{"ProfileId": "<32 hex>", ...}]}`);
    }
  }
  return { attributeMapping: mapping, embeddedProfiles };
}

/**
 * A replica's hold on a shard of the event stream: ten polls (renewed every third of it, so two renewals can fail
 * before another replica takes the shard), at least 3 s, at most 30 s. A replica that dies stops reading its shards
 * for at most this long.
 */
export function profileEventLeaseMs(pollMs: number): number {
  return Math.min(30_000, Math.max(3000, 10 * pollMs));
}

/**
 * Reads the configuration once: config/default.json, overlaid by the environment, validated by one schema.
 * Throws ConfigError naming every variable that is wrong.
 */
export function loadConfig(env: Env, baseDir: string = process.cwd()): Config {
  const { s, defaults, input } = parseSettings(env, baseDir);
  const problems: string[] = [];
  const fromBase = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const secrets = readSecrets(s, fromBase, problems);
  checkTogether(s, defaults, input, secrets.authTokens, problems);
  const shares = quotaShares(s, problems);
  const files = readFiles(s, fromBase, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  // the settings' variables only (other variables, such as the AWS SDK's, a thread has in its process.env)
  const source = { env: Object.fromEntries<string | undefined>(Object.keys(settings).filter((name) => env[name] !== undefined).map((name) => [name, env[name]])), baseDir };
  return {
    source,
    nodeEnv: s.NODE_ENV,
    port: s.PORT,
    metricsPort: s.METRICS_PORT,
    domain: s.CUSTOMER_PROFILES_DOMAIN,
    aws: {
      region: s.AWS_REGION,
      customerProfilesEndpoint: s.AWS_ENDPOINT_URL_CUSTOMER_PROFILES,
      connectEndpoint: s.AWS_ENDPOINT_URL_CONNECT,
      kinesisEndpoint: s.AWS_ENDPOINT_URL_KINESIS,
    },
    profileEvents: s.PROFILE_EVENT_STREAM_ARN
      ? { streamArn: s.PROFILE_EVENT_STREAM_ARN, pollMs: s.PROFILE_EVENT_POLL_MS, leaseMs: profileEventLeaseMs(s.PROFILE_EVENT_POLL_MS) }
      : undefined,
    ...secrets,
    defaultCountry: s.DEFAULT_COUNTRY,
    resolveDeadlineMs: s.RESOLVE_DEADLINE_MS,
    logLevel: s.LOG_LEVEL,
    shutdownGraceMs: s.SHUTDOWN_GRACE_MS,
    createProfiles: s.CREATE_PROFILES,
    redis: s.REDIS_URL
      ? { mode: 'single', url: s.REDIS_URL }
      : s.REDIS_CLUSTER_NODES
        ? {
            mode: 'cluster',
            nodes: s.REDIS_CLUSTER_NODES.map((n) => {
              const i = n.lastIndexOf(':');
              return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
            }),
            password: s.REDIS_CLUSTER_PASSWORD,
            tls: s.REDIS_CLUSTER_TLS ?? false,
          }
        : { mode: 'none' },
    redisKeyPrefix: s.REDIS_KEY_PREFIX,
    keyNamespace: `${s.REDIS_KEY_PREFIX}:${s.CUSTOMER_PROFILES_DOMAIN ?? 'embedded'}`,
    redisCommandTimeoutMs: s.REDIS_COMMAND_TIMEOUT_MS,
    cache: {
      ttlMs: s.CACHE_TTL_SECONDS * 1000,
      notFoundTtlMs: s.CACHE_NOT_FOUND_TTL_SECONDS * 1000,
      staleMaxAgeMs: s.CACHE_STALE_MAX_AGE_SECONDS * 1000,
      enrichmentTtlMs: s.ENRICHMENT_TTL_SECONDS * 1000,
    },
    enrichmentCallsPerSecond: s.ENRICHMENT_CALLS_PER_SECOND,
    quota: { accountPerSecond: s.CUSTOMER_PROFILES_ACCOUNT_QUOTA, shares },
    createLockTtlMs: s.CREATE_LOCK_TTL_MS,
    identityHashSecret: s.IDENTITY_HASH_SECRET,
    records: {
      objectType: s.RECORD_OBJECT_TYPE,
      contactAttributes: s.RECORD_CONTACT_ATTRIBUTES,
      writesPerSecond: s.RECORD_WRITES_PER_SECOND ?? shares.perOperation.get('PutProfileObject') ?? shares.default,
      maxAttempts: s.RECORD_MAX_ATTEMPTS,
      lockMs: s.RECORD_JOB_LOCK_MS,
      deadLetterDays: s.RECORD_DEAD_LETTER_DAYS,
      worker: s.RECORD_WORKER,
      connectStamp: s.CONNECT_STAMP,
      connectStampPerSecond: s.CONNECT_STAMP_PER_SECOND,
    },
    repeatWindowMs: s.REPEAT_WINDOW_HOURS * 3_600_000,
    idempotencyTtlMs: s.IDEMPOTENCY_TTL_SECONDS * 1000,
    contactLegWindowMs: s.CONTACT_LEG_WINDOW_SECONDS * 1000,
    duplicates: { maxSets: s.DUPLICATE_SETS_MAX, ttlMs: s.DUPLICATE_SETS_DAYS * 86_400_000 },
    riskChangeWindowDays: s.RISK_CHANGE_WINDOW_DAYS,
    idvAttempts: {
      perCaller: s.IDV_MAX_FAILURES_PER_CALLER,
      perKey: s.IDV_MAX_FAILURES_PER_KEY,
      windowMs: s.IDV_FAILURE_WINDOW_SECONDS * 1000,
      lockoutMs: s.IDV_LOCKOUT_SECONDS * 1000,
    },
    ...files,
  };
}
