import type { Express } from 'express';
import { buildApp } from './app.js';
import { createSharedState } from './cache/index.js';
import { createRedisClient } from './cache/redis.js';
import type { Config } from './config/index.js';
import { ContactResolver } from './contact/resolve.js';
import type { Logger } from './ops/logger.js';
import { createCustomerProfilesClient, CustomerProfilesStore } from './profiles/customer-profiles.js';
import { EmbeddedProfileStore } from './profiles/embedded.js';
import type { ProfileStore } from './profiles/profile.js';

export type ServiceState = 'starting' | 'ready' | 'draining';

export interface Service {
  app: Express;
  store: ProfileStore;
  setState(state: ServiceState): void;
  /**
   * Waits (bounded) for Redis to connect, so the replica does not take traffic while its creation
   * locks would fail over to in-process ones. Resolves false if Redis is not there in time: the
   * service then starts without it and uses it once it connects.
   */
  connect(timeoutMs?: number): Promise<boolean>;
  /** releases clients and connections */
  close(): Promise<void>;
}

/** Builds every part of the service from the configuration; main.ts and integration tests share it. */
export function createService(config: Config, logger: Logger): Service {
  let store: ProfileStore;
  const closers: Array<() => Promise<unknown> | void> = [];
  if (config.domain) {
    const client = createCustomerProfilesClient({
      region: config.aws.region!,
      endpoint: config.aws.customerProfilesEndpoint,
      requestTimeoutMs: config.resolveDeadlineMs,
    });
    closers.push(() => client.destroy());
    store = new CustomerProfilesStore(client, config.domain);
  } else {
    store = new EmbeddedProfileStore(config.embeddedProfiles);
    logger.warn(
      { profiles: config.embeddedProfiles.length },
      'EMBEDDED MODE: no CUSTOMER_PROFILES_DOMAIN, profiles live in this process only and vanish on exit. Not for production.',
    );
  }
  if (config.authTokens.length === 0) {
    logger.warn('NO AUTHENTICATION: AUTH_TOKENS is not set, anyone who can reach this port can resolve contacts.');
  }

  const redis = createRedisClient(config);
  const state = createSharedState({
    redis,
    logger,
    keyPrefix: config.redisKeyPrefix,
    domain: config.domain ?? 'embedded',
    identityHashSecret: config.identityHashSecret,
    mapping: config.attributeMapping,
    idempotencyTtlMs: config.idempotencyTtlMs,
    repeatWindowMs: config.repeatWindowMs,
    cacheKeepMs: Math.max(config.cache.ttlMs, config.cache.staleMaxAgeMs),
    createLockTtlMs: config.createLockTtlMs,
  });
  if (redis) {
    // ioredis reports connection trouble as 'error' events; without a listener they would crash the process
    redis.on('error', (err: Error) => state.health.failed('connection', err));
    closers.push(() => redis.quit().catch(() => redis.disconnect()));
  } else {
    logger.warn('NO REDIS: cache, idempotency and creation locks are in-process; replicas do not share them.');
  }

  const resolver = new ContactResolver({
    store,
    ...state,
    mapping: config.attributeMapping,
    defaultCountry: config.defaultCountry,
    createProfiles: config.createProfiles,
    cacheTtl: config.cache,
  });
  let serviceState: ServiceState = 'starting';
  const app = buildApp({
    resolver,
    logger,
    authTokens: config.authTokens,
    resolveDeadlineMs: config.resolveDeadlineMs,
    readiness: {
      ready: () => serviceState === 'ready',
      details: () => ({
        state: serviceState,
        profileStore: store.kind,
        redis: redis ? { mode: config.redis.mode, status: redis.status, lastError: state.health.lastError } : { mode: 'none' },
      }),
    },
  });
  return {
    app,
    store,
    setState: (s) => {
      serviceState = s;
    },
    connect: async (timeoutMs = 5000) => {
      if (!redis || redis.status === 'ready') return true;
      const ready = new Promise<boolean>((resolve) => redis.once('ready', () => resolve(true)));
      const late = new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, false).unref());
      const connected = await Promise.race([ready, late]);
      if (!connected) logger.warn({ timeoutMs }, 'Redis is not reachable yet: starting without it');
      return connected;
    },
    close: async () => {
      for (const close of closers) await close();
    },
  };
}
