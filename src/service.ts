import type { Express } from 'express';
import { buildApp, buildMetricsApp } from './app.js';
import { customerProfilesBackend, embeddedBackend, type ProfileBackend } from './backends/profiles.js';
import { memoryState } from './backends/memory-state.js';
import { profileEvents } from './backends/profile-events.js';
import { redisState } from './backends/redis-state.js';
import { SHARED_OPERATIONS } from './aws-operations.js';
import { AccountQuota } from './cache/quota.js';
import type { Config } from './config/index.js';
import { ContactResolver } from './contact/resolve.js';
import { ProfileUpdater } from './contact/update.js';
import type { Logger } from './ops/logger.js';
import { createMetrics, quotaObserver, type Metrics } from './ops/metrics.js';
import type { ProfileStore } from './profiles/profile.js';
import type { RecordQueue } from './records/queue.js';

export type ServiceState = 'starting' | 'ready' | 'draining';

export interface Service {
  app: Express;
  /** GET /metrics alone, for its own listener (METRICS_PORT) */
  metricsApp: Express;
  metrics: Metrics;
  store: ProfileStore;
  records: RecordQueue;
  setState(state: ServiceState): void;
  /** waits (bounded) for Redis, then starts the record worker (see StateBackend.start) */
  start(redisTimeoutMs?: number): Promise<void>;
  /** stops the record worker, then releases clients and connections */
  close(): Promise<void>;
}

/** What a test may put in place of what the configuration chooses. */
export interface ServiceOverrides {
  profiles?: ProfileBackend;
  /** the use cases' clock (epoch ms): tests move it; Date.now otherwise */
  now?: () => number;
}

/**
 * Builds the service from its configuration: main.ts and the tests share it. Two choices, made here once:
 * the profile backend (a Customer Profiles domain, or the embedded store) and the state backend (Redis,
 * or this process alone).
 */
export function createService(config: Config, logger: Logger, overrides: ServiceOverrides = {}): Service {
  const metrics = createMetrics();
  const quota = new AccountQuota(config.quota.shares, quotaObserver(metrics));
  for (const operation of SHARED_OPERATIONS) metrics.quotaShare.set({ operation }, quota.share(operation));
  const profiles = overrides.profiles ?? (config.domain ? customerProfilesBackend({ ...config, domain: config.domain }, metrics, quota) : embeddedBackend(config, logger));
  const state = (config.redis.mode === 'none' ? memoryState : redisState)({ config, logger, metrics, profiles, quota });
  // the domain's changes made elsewhere (an agent's edit, a merge) reach the cache: PROFILE_EVENT_STREAM_ARN
  const events = profileEvents(config, state, metrics, logger);
  if (config.authTokens.length === 0) logger.warn('NO AUTHENTICATION: AUTH_TOKENS is not set, anyone who can reach this port can resolve contacts.');

  const common = { ...state.shared, mapping: config.attributeMapping, defaultCountry: config.defaultCountry, records: state.records };
  const resolver = new ContactResolver({
    ...common,
    store: profiles.store,
    createProfiles: config.createProfiles,
    cacheTtl: config.cache,
    legWindowMs: config.contactLegWindowMs,
    riskChangeWindowDays: config.riskChangeWindowDays,
    recordAttributes: config.records.contactAttributes,
    onCacheLookup: (result) => metrics.cacheLookups.inc({ result }),
    onEnrichmentCall: (call, outcome) => metrics.enrichmentCalls.inc({ source: call.id, outcome }),
    onVerification: (result) => metrics.verificationChecks.inc({ result }),
    onLockout: (subject, contactId) => {
      metrics.verificationLockouts.inc({ subject });
      // the subject's kind and the contact that locked it; never the key or the caller, even hashed
      logger.warn({ contactId, subject }, 'ID&V lockout');
    },
    now: overrides.now,
  });
  metrics.queue.depth = () => state.records.depth();
  metrics.queue.deadLetters = () => state.records.deadLetters.count();
  let serviceState: ServiceState = 'starting';
  const app = buildApp({
    resolver,
    updater: new ProfileUpdater(common),
    logger,
    metrics,
    authTokens: config.authTokens,
    admin: config.adminTokens.length > 0 ? { tokens: config.adminTokens, eraser: state.eraser, defaultCountry: config.defaultCountry } : undefined,
    resolveDeadlineMs: config.resolveDeadlineMs,
    readiness: {
      ready: () => serviceState === 'ready',
      details: () => ({
        state: serviceState,
        profileStore: profiles.store.kind,
        ...profiles.readiness(),
        ...state.readiness(),
        ...(events && { profileEvents: events.readiness() }),
      }),
    },
  });
  return {
    app,
    metricsApp: buildMetricsApp(metrics, logger),
    metrics,
    store: profiles.store,
    records: state.records,
    setState: (s) => (serviceState = s),
    start: async (redisTimeoutMs) => {
      await state.start(redisTimeoutMs);
      events?.start();
    },
    close: async () => {
      await events?.close();
      await state.close();
      profiles.close();
    },
  };
}
