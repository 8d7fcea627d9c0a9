import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config/index.js';
import { MemoryRecentContacts } from './contact/recent-contacts.js';
import { ContactResolver } from './contact/resolve.js';
import { ConfigError } from './errors.js';
import { createLogger } from './ops/logger.js';
import { createCustomerProfilesClient, CustomerProfilesStore } from './profiles/customer-profiles.js';
import { EmbeddedProfileStore } from './profiles/embedded.js';
import type { ProfileStore } from './profiles/profile.js';

const REPEAT_WINDOW_MS = 24 * 60 * 60 * 1000;

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** The composition root: configuration, clients, the app, the listener, the signals. */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);

  let store: ProfileStore;
  if (config.domain) {
    const client = createCustomerProfilesClient({
      region: config.aws.region!,
      endpoint: config.aws.customerProfilesEndpoint,
      requestTimeoutMs: config.resolveDeadlineMs,
    });
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
    recentContacts: new MemoryRecentContacts(REPEAT_WINDOW_MS),
    mapping: config.attributeMapping,
    defaultCountry: config.defaultCountry,
    createProfiles: config.createProfiles,
  });
  let state: 'starting' | 'ready' | 'draining' = 'starting';
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

  const server = app.listen(config.port);
  await once(server, 'listening');
  state = 'ready';
  logger.info({ port: (server.address() as AddressInfo).port, store: store.kind, domain: config.domain }, 'listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    state = 'draining';
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'draining');
    const deadline = setTimeout(() => {
      logger.error('grace period over with requests still open: exiting');
      process.exit(1);
    }, config.shutdownGraceMs);
    deadline.unref();
    server.close(() => {
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
