// Builds the service as main.ts does (createService, from a configuration loaded the same way) and serves
// it on port 0, for HTTP component tests. The only test double is the upstream port (ProfileStore):
// ScriptedProfileStore wraps a real EmbeddedProfileStore and can be told to hang, be slow or fail; it
// goes in as the profile backend, in place of the one the configuration would choose. No Redis: the
// in-process state backend, as a replica without REDIS_URL runs.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CountryCode } from 'libphonenumber-js/max';
import { loadConfig } from '../../src/config/index.js';
import { parseAttributeMapping, type AttributeMapping, type EnrichmentCall, type EnrichmentResult } from '../../src/domain/mapping.js';
import type { MatchMode, SearchKey } from '../../src/domain/keys.js';
import type { Identity } from '../../src/domain/identity.js';
import type { ProfileBackend } from '../../src/backends/profiles.js';
import type { LocalRecordQueue } from '../../src/records/local-queue.js';
import { createLogger } from '../../src/ops/logger.js';
import type { Metrics } from '../../src/ops/metrics.js';
import { EmbeddedProfileStore } from '../../src/profiles/embedded.js';
import type { Profile } from '../../src/domain/profile.js';
import type { HistoryRecord } from '../../src/domain/history.js';
import { ProfileStoreError, type CreateContext, type Match, type ProfileStore } from '../../src/profiles/profile.js';
import { createService, type ServiceState } from '../../src/service.js';
import { REPO_ROOT } from './service.js';

/** How the upstream behaves on every call. */
export type UpstreamBehaviour =
  | { kind: 'normal' }
  /** answers after ms; with respectSignal it rejects (timeout) as soon as the request's signal aborts */
  | { kind: 'delay'; ms: number; respectSignal: boolean }
  /** never answers; with respectSignal it rejects (timeout) when the signal aborts */
  | { kind: 'hang'; respectSignal: boolean }
  /** rejects at once with this error */
  | { kind: 'fail'; error: unknown };

export const throttled = (): ProfileStoreError => new ProfileStoreError('throttled', 'SearchProfiles failed: ThrottlingException');

/** A test double of the upstream (the ProfileStore port): a real embedded store behind a scripted behaviour. */
export class ScriptedProfileStore implements ProfileStore {
  readonly kind = 'customer-profiles' as const;
  readonly calls = { search: 0, create: 0 };
  behaviour: UpstreamBehaviour = { kind: 'normal' };
  private readonly inner: EmbeddedProfileStore;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(seed: readonly Profile[] = []) {
    this.inner = new EmbeddedProfileStore(seed);
  }

  /** As the service's profile backend: records and updates go to the embedded store behind it. */
  backend(): ProfileBackend {
    return { store: this, recordTarget: this.inner, readiness: () => ({}), close: () => this.dispose() };
  }

  search(keys: readonly SearchKey[], mode: MatchMode, signal: AbortSignal): Promise<Match[]> {
    this.calls.search += 1;
    return this.behave(signal).then(() => this.inner.search(keys, mode, signal));
  }

  enrich(call: EnrichmentCall, profileId: string, signal: AbortSignal): Promise<EnrichmentResult> {
    return this.inner.enrich(call, profileId, signal);
  }

  history(profileId: string, sinceMs: number, signal: AbortSignal): Promise<HistoryRecord[]> {
    return this.inner.history(profileId, sinceMs, signal);
  }

  create(identity: Identity, context: CreateContext, signal: AbortSignal): Promise<Profile> {
    this.calls.create += 1;
    return this.behave(signal).then(() => this.inner.create(identity, context, signal));
  }

  /** Clears pending delays so nothing outlives the test. */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private behave(signal: AbortSignal): Promise<void> {
    const b = this.behaviour;
    switch (b.kind) {
      case 'normal':
        return Promise.resolve();
      case 'fail':
        return Promise.reject(b.error instanceof Error ? b.error : new Error(String(b.error)));
      case 'delay':
      case 'hang':
        return new Promise<void>((resolve, reject) => {
          if (b.kind === 'delay') {
            const t = setTimeout(() => {
              this.timers.delete(t);
              resolve();
            }, b.ms);
            this.timers.add(t);
          }
          if (b.respectSignal) {
            signal.addEventListener('abort', () => reject(new ProfileStoreError('timeout', 'aborted by the deadline')), { once: true });
          }
        });
    }
  }
}

/** A pino destination that keeps every log line, parsed. */
export class CapturedLog {
  readonly lines: Array<Record<string, unknown>> = [];
  write(msg: string): void {
    for (const line of msg.split('\n')) if (line.trim() !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
}

export interface TestAppOptions {
  seed?: readonly Profile[];
  store?: ScriptedProfileStore;
  authTokens?: readonly string[];
  resolveDeadlineMs?: number;
  createProfiles?: boolean;
  defaultCountry?: CountryCode;
  repeatWindowMs?: number;
  mapping?: AttributeMapping;
}

export interface RunningApp {
  url: string;
  store: ScriptedProfileStore;
  /** the in-process queue of records and updates (not started: what is queued stays there) */
  records: LocalRecordQueue;
  log: CapturedLog;
  /** the app's metrics (its private registry) */
  metrics: Metrics;
  /** the service's state, as main.ts sets it (ready once listening; draining on SIGTERM) */
  setState: (state: ServiceState) => void;
  /** POSTs an event to /v1/resolve with the first auth token (unless headers say otherwise). */
  resolve: (body: unknown, headers?: Record<string, string>) => Promise<Response>;
  stop: () => Promise<void>;
}

export const TEST_TOKENS = ['token-current-0123456789', 'token-next-9876543210'] as const;

const noMapping = (): AttributeMapping => {
  const { mapping, problems } = parseAttributeMapping({ attributes: {} });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return mapping;
};

/** Listens on port 0 until the server is bound; returns its base URL. */
export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server, dropping keep-alive and hanging connections. */
export async function close(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}

/**
 * Builds the service through createService, as main.ts does, and serves it on port 0. The record worker
 * is not started (as with RECORD_WORKER=false): records are queued (contactRecordStatus QUEUED) and
 * stay in the in-process queue; the record pipeline has tests of its own.
 */
export async function startApp(o: TestAppOptions = {}): Promise<RunningApp> {
  const store = o.store ?? new ScriptedProfileStore(o.seed ?? []);
  const log = new CapturedLog();
  const authTokens = o.authTokens ?? TEST_TOKENS;
  const env = {
    LOG_LEVEL: 'info',
    DEFAULT_COUNTRY: o.defaultCountry ?? 'US',
    RESOLVE_DEADLINE_MS: String(o.resolveDeadlineMs ?? 2000),
    CREATE_PROFILES: String(o.createProfiles ?? true),
  };
  // what the environment cannot say (a mapping without a file, no tokens, a window in ms) is set on the configuration
  const config = {
    ...loadConfig(env, REPO_ROOT),
    authTokens: [...authTokens],
    attributeMapping: o.mapping ?? noMapping(),
    ...(o.repeatWindowMs !== undefined ? { repeatWindowMs: o.repeatWindowMs } : {}),
  };
  const service = createService(config, createLogger(config.logLevel, log), { profiles: store.backend() });
  service.setState('ready');
  const server = createServer(service.app);
  const url = await listen(server);
  return {
    url,
    store,
    records: service.records as LocalRecordQueue,
    log,
    metrics: service.metrics,
    setState: (state) => service.setState(state),
    resolve: (body, headers = {}) =>
      fetch(`${url}/v1/resolve`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(authTokens[0] ? { authorization: `Bearer ${authTokens[0]}` } : {}),
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    stop: async () => {
      await close(server);
      await service.close();
    },
  };
}

/** A port that was open a moment ago and is now closed: connections to it are refused. */
export async function deadPort(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await close(server);
  return url;
}
