import type { Express } from 'express';
import { buildApp, buildMetricsApp } from './app.js';
import { createSharedState } from './cache/index.js';
import { createRedisClient } from './cache/redis.js';
import type { Config } from './config/index.js';
import { Eraser } from './contact/erase.js';
import { ContactResolver } from './contact/resolve.js';
import { ProfileUpdater } from './contact/update.js';
import { awsObserver, instrumentAwsClient, Reachability } from './ops/aws-instrumentation.js';
import type { Logger } from './ops/logger.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { createHotPathClients, CustomerProfilesStore } from './profiles/customer-profiles.js';
import { EmbeddedProfileStore } from './profiles/embedded.js';
import type { ProfileStore } from './profiles/profile.js';
import { createAwsRecordWriter, createRecordQueues, recordWriter } from './records/pipeline.js';
import type { QueueHooks, RecordQueue } from './records/queue.js';
import { RedisRecordQueue } from './records/redis-queue.js';
import { RecordThread } from './records/thread.js';
import type { RecordWriter } from './records/writer.js';

export type ServiceState = 'starting' | 'ready' | 'draining';

export interface Service {
  app: Express;
  /** GET /metrics alone, for its own listener (METRICS_PORT) */
  metricsApp: Express;
  metrics: Metrics;
  store: ProfileStore;
  records: RecordQueue;
  setState(state: ServiceState): void;
  /**
   * Waits (bounded) for Redis to connect, so the replica does not take traffic while its creation
   * locks would fail over to in-process ones, then starts the record worker (RECORD_WORKER; when it
   * has a thread, until the thread is up). If Redis is not there in time the service starts without
   * it and uses it once it connects.
   */
  start(redisTimeoutMs?: number): Promise<void>;
  /** releases clients and connections */
  close(): Promise<void>;
}

/** Builds every part of the service from the configuration; main.ts and integration tests share it. */
export function createService(config: Config, logger: Logger): Service {
  const metrics = createMetrics();
  const hooks: QueueHooks = {
    onOutcome: (outcome) => metrics.recordJobs.inc({ outcome: outcome.replace('-', '_') }),
    onDeadLetter: () => metrics.deadLetters.inc(),
  };
  const customerProfiles = new Reachability();
  const observe = awsObserver(metrics, customerProfiles);
  const redis = createRedisClient(config);
  const domain = config.domain ?? 'embedded';
  const state = createSharedState({
    redis,
    logger,
    keyPrefix: config.redisKeyPrefix,
    domain,
    identityHashSecret: config.identityHashSecret,
    dataKeys: config.dataKeys,
    mapping: config.attributeMapping,
    idempotencyTtlMs: config.idempotencyTtlMs,
    repeatWindowMs: config.repeatWindowMs,
    cacheKeepMs: Math.max(config.cache.ttlMs, config.cache.staleMaxAgeMs),
    createLockTtlMs: config.createLockTtlMs,
    enrichmentCallsPerSecond: config.enrichmentCallsPerSecond,
    onRedisError: (operation) => metrics.redisErrors.inc({ operation }),
    onLockWait: (seconds) => metrics.lockWaits.observe(seconds),
  });
  let store: ProfileStore;
  let writer: RecordWriter;
  const closers: Array<() => Promise<unknown> | void> = [];
  if (config.domain) {
    const { lookup: client, enrich: enrichClient } = createHotPathClients({
      region: config.aws.region!,
      endpoint: config.aws.customerProfilesEndpoint,
      requestTimeoutMs: config.resolveDeadlineMs,
    });
    instrumentAwsClient(client, 'customer-profiles', observe);
    // counted in the AWS metrics, but not in Customer Profiles' reachability (/readyz): a failing source
    // (a mistyped segment name, say) does not make the lookups' service look down
    instrumentAwsClient(enrichClient, 'customer-profiles', awsObserver(metrics));
    store = new CustomerProfilesStore(client, config.domain, enrichClient);
    // this process writes records only while Redis cannot take them (the fallback), or without Redis
    const aws = createAwsRecordWriter({ ...config, domain: config.domain }, redis, observe, state.pendingUpdates);
    writer = aws.writer;
    closers.push(() => {
      client.destroy();
      enrichClient.destroy();
      aws.close();
    });
  } else {
    const embedded = new EmbeddedProfileStore(config.embeddedProfiles);
    store = embedded;
    writer = recordWriter(config, embedded, redis, state.pendingUpdates);
    logger.warn(
      { profiles: config.embeddedProfiles.length },
      'EMBEDDED MODE: no CUSTOMER_PROFILES_DOMAIN, profiles live in this process only and vanish on exit. Not for production.',
    );
  }
  if (config.authTokens.length === 0) {
    logger.warn('NO AUTHENTICATION: AUTH_TOKENS is not set, anyone who can reach this port can resolve contacts.');
  }

  // With a Customer Profiles domain and Redis, the record worker runs in a thread of its own (thread.ts);
  // the embedded store lives in this process, so without a domain the worker does too.
  const thread = config.domain && redis && config.records.worker ? new RecordThread(config.source, logger, hooks, observe) : undefined;
  const queues = createRecordQueues(config, { redis, sealer: state.sealer, writer, logger, hooks, runWorker: !thread });
  const local = queues.local;
  const records: RecordQueue = queues.redis ?? local;

  if (redis) {
    // ioredis reports connection trouble as 'error' events; without a listener they would crash the process
    redis.on('error', (err: Error) => state.health.failed('connection', err));
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
  } else {
    logger.warn('NO REDIS: cache, idempotency and creation locks are in-process; replicas do not share them.');
  }

  const eraser = new Eraser(
    state,
    records instanceof RedisRecordQueue
      ? { kind: 'redis', redis: redis!, sealer: state.sealer!, records }
      : {
          kind: 'memory',
          cache: state.memory!.cache,
          idempotency: state.memory!.idempotency,
          recent: state.memory!.recentContacts,
          pending: state.memory!.pendingUpdates,
          records: local,
        },
  );
  const { health: _health, sealer: _sealer, memory: _memory, ...resolverState } = state;
  const resolver = new ContactResolver({
    store,
    ...resolverState,
    mapping: config.attributeMapping,
    defaultCountry: config.defaultCountry,
    createProfiles: config.createProfiles,
    cacheTtl: config.cache,
    records,
    recordAttributes: config.records.contactAttributes,
    onCacheLookup: (result) => metrics.cacheLookups.inc({ result }),
    onEnrichmentCall: (call, outcome) => metrics.enrichmentCalls.inc({ source: call.id, outcome }),
  });
  const updater = new ProfileUpdater({
    keys: state.keys,
    cache: state.cache,
    readContact: state.readContact,
    idempotency: state.idempotency,
    pendingUpdates: state.pendingUpdates,
    mapping: config.attributeMapping,
    defaultCountry: config.defaultCountry,
    records,
  });
  metrics.queue.depth = () => records.depth();
  metrics.queue.deadLetters = () => records.deadLetters.count();
  let serviceState: ServiceState = 'starting';
  let workerRunning = false;
  const app = buildApp({
    resolver,
    updater,
    logger,
    authTokens: config.authTokens,
    admin: config.adminTokens.length > 0 ? { tokens: config.adminTokens, eraser, defaultCountry: config.defaultCountry } : undefined,
    resolveDeadlineMs: config.resolveDeadlineMs,
    metrics,
    readiness: {
      ready: () => serviceState === 'ready',
      details: () => ({
        state: serviceState,
        profileStore: store.kind,
        ...(config.domain ? { customerProfiles: customerProfiles.state() } : {}),
        redis: redis ? { mode: config.redis.mode, status: redis.status, lastError: state.health.lastError } : { mode: 'none' },
        records: {
          queue: records.kind,
          worker: config.records.worker ? ((thread ? thread.running : workerRunning) ? 'running' : 'stopped') : 'off',
          ...(thread ? { thread: true } : {}),
        },
      }),
    },
  });
  return {
    app,
    metricsApp: buildMetricsApp(metrics, logger),
    metrics,
    store,
    records,
    setState: (s) => {
      serviceState = s;
    },
    start: async (timeoutMs = 5000) => {
      if (redis && redis.status !== 'ready') {
        const ready = new Promise<boolean>((resolve) => redis.once('ready', () => resolve(true)));
        const late = new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, false).unref());
        if (!(await Promise.race([ready, late]))) logger.warn({ timeoutMs }, 'Redis is not reachable yet: starting without it');
      }
      if (config.records.worker) {
        records.start();
        await thread?.start();
        workerRunning = true;
      }
    },
    close: async () => {
      await thread?.close();
      await records.close();
      workerRunning = false;
      for (const close of closers) await close();
    },
  };
}
