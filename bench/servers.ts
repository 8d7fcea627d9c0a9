// The processes a run measures (the built service, the floor, the naive peer) and what they share: a private
// redis-server (test/support/redis.ts, the tests' own helper), the HTTP fake of the AWS APIs, the callers.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import type { Redis } from 'ioredis';
import type { RedisServer } from '../test/support/redis.js';
import { percentiles, type Latency } from './load.js';
import type { QuietBudget } from './measure.js';
import { DEADLINE_MS, DOMAIN, UNPACED_ACCOUNT_QUOTA, type Options } from './options.js';
import { ROOT, startLogged, startPiped, type Child } from './procs.js';
import type { Callers, Events, FakeControl } from './traffic.js';

/** Everything a run has started, and how it drives them. */
export interface Env {
  opts: Options;
  redis: RedisServer;
  /** for INFO (commands per contact) */
  redisClient: Redis;
  fakeChild: Child;
  fake: FakeControl;
  workDir: string;
  callers: Callers;
  events: Events;
  /** the service's AUTH_TOKENS, and the headers that carry it */
  token: string;
  headers: Record<string, string>;
  /** the time left for waiting on a busy machine (see measure.ts) */
  quiet: QuietBudget;
}

/** A process under test. */
export interface Server {
  kind: 'floor' | 'service' | 'naive';
  url: string;
  /** the service's metrics listener (METRICS_PORT) */
  metricsUrl?: string;
  child: Child;
}

export const newToken = (): string => randomBytes(24).toString('base64url');
export const headersFor = (token: string): Record<string, string> => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });

export const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), LANG: 'C.UTF-8' };
const awsEnv = (fakeUrl: string) => ({
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHFAKE',
  AWS_SECRET_ACCESS_KEY: 'bench-fake-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fakeUrl,
  // the fake serves Kinesis on the same port (the hit-stream scenario's event stream)
  AWS_ENDPOINT_URL_KINESIS: fakeUrl,
  CUSTOMER_PROFILES_DOMAIN: DOMAIN,
});

// The scenarios measure the lookup with the attribute mapping of profile fields (the one of every earlier run), except
// the enrichment group, which runs on config/attributes.json as shipped: three enrichment calls a cold lookup (the
// calculated attributes, the latest Orders object, the vip-customers segment).
export const PROFILE_MAPPING = { attributes: { middleName: 'MiddleName', businessName: 'BusinessName', partyType: 'PartyTypeString', city: 'Address.City', customerTier: 'Attributes.tier', preferredLanguage: 'Attributes.preferredLanguage' } };
export const profileMappingFile = (workDir: string): string => path.join(workDir, 'profile-mapping.json');
export const SHIPPED_MAPPING_FILE = path.join(ROOT, 'config/attributes.json');

export const serviceEnv = (fakeUrl: string, redisUrl: string, token: string, mappingFile?: string) => ({
  ...baseEnv,
  ...awsEnv(fakeUrl),
  NODE_ENV: 'production',
  PORT: '0',
  // /metrics on a listener of its own (a free port too): see startService
  METRICS_PORT: '0',
  // what production runs: one JSON line per request on stdout (here: a file)
  LOG_LEVEL: 'info',
  REDIS_URL: redisUrl,
  AUTH_TOKENS: token,
  IDENTITY_HASH_SECRET: randomBytes(24).toString('base64url'),
  DATA_KEYS: `bench:${randomBytes(32).toString('base64')}`,
  RESOLVE_DEADLINE_MS: String(DEADLINE_MS),
  ...(mappingFile && { ATTRIBUTE_MAPPING_FILE: mappingFile }),
});

/**
 * The built service, started clean: no cache, no queue backlog, no profiles left from the scenarios before. With
 * `eventStream`, the domain's changes go to a stream of the fake's Kinesis (one shard) that the service reads
 * (PROFILE_EVENT_STREAM_ARN, the default poll).
 */
export async function startService(env: Env, label: string, mappingFile = profileMappingFile(env.workDir), o: { eventStream?: boolean } = {}): Promise<Server> {
  await env.redis.flush();
  await env.fake.reset();
  await env.fake.latency(env.opts.latency);
  const stream = o.eventStream ? { PROFILE_EVENT_STREAM_ARN: await env.fake.eventStream(`bench-${label}`, DOMAIN) } : {};
  // The rows of one service measure what it adds to the AWS calls, not the account's quota: at the default (100 a
  // second per operation, the fleet's share 60) 4 connections of cold known callers at 50 ms already ask ~70
  // searches a second and wait for the share's slots (+14 ms at p50 on 7 Dec 2026, 543 ms at 32 connections). The
  // fake enforces no quota in these rows; a share of 600 a second is above what 32 connections send. The surge and
  // the association bench keep the defaults (bench/surge.ts, bench/association.ts).
  const quota = { CUSTOMER_PROFILES_ACCOUNT_QUOTA: String(UNPACED_ACCOUNT_QUOTA) };
  return launchService(env, label, { ...serviceEnv(env.fake.url, env.redis.url, env.token, mappingFile), ...quota, ...stream });
}

/**
 * Edits `profileIds` in turn at the fake, `perSecond`, as agents would in the agent workspace (UpdateProfile through
 * the SDK): each is an UPDATED record in the domain's event stream. Returns a stop that resolves to the edits made.
 */
export async function editProfiles(env: Env, profileIds: readonly string[], perSecond: number): Promise<() => Promise<number>> {
  const { UpdateProfileCommand } = await import('@aws-sdk/client-customer-profiles');
  const client = await fakeProfilesClient(env);
  let made = 0;
  const sending = new Set<Promise<unknown>>();
  const timer = setInterval(() => {
    const profileId = profileIds[made % profileIds.length]!;
    made++;
    const sent = client.send(new UpdateProfileCommand({ DomainName: DOMAIN, ProfileId: profileId, FirstName: `Edited${made}` })).catch(() => undefined);
    sending.add(sent);
    void sent.finally(() => sending.delete(sent));
  }, 1000 / perSecond);
  return async () => {
    clearInterval(timer);
    await Promise.all(sending);
    client.destroy();
    return made;
  };
}

/** The built service with this environment (a replica of a fleet: the same secrets as the others), nothing reset. */
export async function launchService(env: Env, label: string, processEnv: NodeJS.ProcessEnv): Promise<Server> {
  const logFile = path.join(env.workDir, `service-${label}.log`);
  // --cpu-prof: V8 CPU profiles of each service process, written when it exits, one file per thread in
  // bench/results/profiles/<label>/ (CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile: thread 0 is the main
  // thread, 1 the record thread). A --cpu-prof-name would give both threads one file, the second overwriting.
  const prof = env.opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.join(ROOT, 'bench/results/profiles', label)] : [];
  const { child, match } = await startLogged('service', [...prof, 'dist/src/main.js'], processEnv, logFile, /"port":(\d+,"metricsPort":\d+)[^\n]*"msg":"listening"/);
  const [port, metricsPort] = match.split(',"metricsPort":');
  const url = `http://127.0.0.1:${port}`;
  const ready = await fetch(`${url}/readyz`);
  if (!ready.ok) throw new Error(`the service is not ready: ${ready.status} ${await ready.text()}`);
  return { kind: 'service', url, metricsUrl: `http://127.0.0.1:${metricsPort}`, child };
}

const FLOOR_KEY = 'bench:floor:answer';
const FLOOR_ANSWER = { customerStatus: 'KNOWN', profileId: '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d', profileMatchCount: '1', identityType: 'PHONE', phoneE164: '+14255550123', phoneCountry: 'US', emailAddress: '', firstName: 'Bench0', lastName: 'Caller', accountNumber: 'B-100000', isRepeatContact: 'true', lastContactAt: '2026-11-22T11:00:00.000Z', contactRecordStatus: 'QUEUED', degraded: 'false', middleName: '', businessName: '', partyType: 'INDIVIDUAL', city: 'Seattle', customerTier: 'gold', preferredLanguage: '' };

/** The answer the floor reads with its one GET (a cache hit's answer, as the service would give it). */
export async function setFloorAnswer(env: Env): Promise<void> {
  const client = env.redis.client();
  try {
    await client.set(FLOOR_KEY, JSON.stringify(FLOOR_ANSWER));
  } finally {
    await client.quit();
  }
}

/** bench/floor.ts: Express 5, the JSON body, one Redis GET (of the key setFloorAnswer writes). */
export async function startFloor(env: Env): Promise<Server> {
  const { child, match } = await startPiped('floor', ['--import', 'tsx', 'bench/floor.ts'], { ...baseEnv, NODE_ENV: 'production', REDIS_URL: env.redis.url, PORT: '0' }, /FLOOR_URL=(\S+)/);
  return { kind: 'floor', url: match, child };
}

/** bench/naive-peer.ts, against a reset fake. */
export async function startNaive(env: Env): Promise<Server> {
  await env.fake.reset();
  await env.fake.latency(env.opts.latency);
  const { child, match } = await startPiped('naive peer', ['--import', 'tsx', 'bench/naive-peer.ts'], { ...baseEnv, ...awsEnv(env.fake.url), NODE_ENV: 'production', PORT: '0' }, /NAIVE_URL=(\S+)/);
  return { kind: 'naive', url: match, child };
}

/** bench/fake-aws-server.ts: the HTTP fake of the AWS APIs, answering every call after `latencyMs`. */
export async function startFake(latencyMs: number): Promise<{ child: Child; url: string }> {
  const { child, match } = await startPiped('AWS fake', ['--import', 'tsx', 'bench/fake-aws-server.ts', '--port', '0', '--latency-ms', String(latencyMs), '--domain', DOMAIN], baseEnv, /FAKE_AWS_URL=(\S+)/);
  return { child, url: match };
}

/** Counters of the replicas' /metrics, summed: `name{labels}` -> value, for the names asked. */
export async function counters(replicas: readonly Server[], names: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of replicas) {
    const text = r.metricsUrl ? await (await fetch(`${r.metricsUrl}/metrics`)).text() : '';
    for (const m of text.matchAll(/^(\w+)(\{[^}]*\})? (\S+)$/gm)) {
      if (!names.includes(m[1]!)) continue;
      const key = `${m[1]}${m[2] ?? ''}`;
      out.set(key, (out.get(key) ?? 0) + Number(m[3]));
    }
  }
  return out;
}

/** the service's record queue depth (cpr_record_queue_depth on /metrics); undefined for the others */
export async function queueDepth(s: Server): Promise<number | undefined> {
  if (s.kind !== 'service' || !s.metricsUrl) return undefined;
  const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
  const m = /^cpr_record_queue_depth (\S+)$/m.exec(text);
  return m?.[1] ? Number(m[1]) : undefined;
}

/** A Customer Profiles client of this process, to the fake (the SDK loaded on first use). */
async function fakeProfilesClient(env: Env): Promise<CustomerProfilesClient> {
  const { CustomerProfilesClient } = await import('@aws-sdk/client-customer-profiles');
  return new CustomerProfilesClient({ region: 'us-east-1', endpoint: env.fake.url, credentials: { accessKeyId: 'AKIDBENCHFAKE', secretAccessKey: 'bench-fake-secret' } });
}

/** One AWS call through the SDK to the fake, alone (this process is idle): what a call costs beyond the fake's latency. */
export async function calibrate(env: Env): Promise<Latency> {
  const { SearchProfilesCommand } = await import('@aws-sdk/client-customer-profiles');
  const client = await fakeProfilesClient(env);
  const times: number[] = [];
  try {
    for (let i = 0; i < 25; i++) {
      const t = performance.now();
      await client.send(new SearchProfilesCommand({ DomainName: DOMAIN, KeyName: '_phone', Values: ['+12065550100'] }));
      if (i >= 5) times.push(performance.now() - t);
    }
  } finally {
    client.destroy();
  }
  return percentiles(Float64Array.from(times));
}
