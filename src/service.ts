import type { Express } from 'express';
import { buildApp } from './app.js';
import { MemoryIdempotencyStore } from './cache/idempotency.js';
import type { Config } from './config/index.js';
import { MemoryRecentContacts } from './contact/recent-contacts.js';
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
  /** releases clients and connections */
  close(): Promise<void>;
}

/** Builds every part of the service from the configuration; main.ts and integration tests share it. */
export function createService(config: Config, logger: Logger): Service {
  let store: ProfileStore;
  const closers: Array<() => void> = [];
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

  const resolver = new ContactResolver({
    store,
    recentContacts: new MemoryRecentContacts(config.repeatWindowMs),
    idempotency: new MemoryIdempotencyStore(config.idempotencyTtlMs),
    mapping: config.attributeMapping,
    defaultCountry: config.defaultCountry,
    createProfiles: config.createProfiles,
  });
  let state: ServiceState = 'starting';
  const app = buildApp({
    resolver,
    logger,
    authTokens: config.authTokens,
    resolveDeadlineMs: config.resolveDeadlineMs,
    readiness: {
      ready: () => state === 'ready',
      details: () => ({ state, profileStore: store.kind }),
    },
  });
  return {
    app,
    store,
    setState: (s) => {
      state = s;
    },
    close: () => {
      for (const close of closers) close();
      return Promise.resolve();
    },
  };
}
