import express, { type Express } from 'express';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Eraser } from './contact/erase.js';
import type { ContactResolver } from './contact/resolve.js';
import type { ProfileUpdater } from './contact/update.js';
import { adminRoutes } from './http/admin-routes.js';
import { errorHandler, notFound } from './http/errors.js';
import { hardeningHeaders } from './http/guards.js';
import { useRequestLog } from './http/request-log.js';
import { resolveRoute } from './http/resolve-route.js';
import type { Logger } from './ops/logger.js';
import type { Metrics } from './ops/metrics.js';

export interface Readiness {
  /** false while starting or draining */
  ready(): boolean;
  /** each dependency's state, for the /readyz body */
  details(): Record<string, unknown>;
}

export interface AppDeps {
  resolver: ContactResolver;
  /** `operation: "update"` */
  updater: ProfileUpdater;
  logger: Logger;
  authTokens: readonly string[];
  /** the admin endpoints, with their own tokens; undefined: off (404) */
  admin?: { tokens: readonly string[]; eraser: Eraser; defaultCountry: CountryCode } | undefined;
  resolveDeadlineMs: number;
  readiness: Readiness;
  metrics: Metrics;
}

/** An Express app with what every listener of the service has: no fingerprint, no ETags, no query parsing, the hardening headers. */
function baseApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.use(hardeningHeaders);
  return app;
}

/** The Express app. It never listens and never reads the environment: main.ts and tests do that. Each capability registers its routes. */
export function buildApp(deps: AppDeps): Express {
  const app = baseApp();
  useRequestLog(app, { logger: deps.logger, metrics: deps.metrics, ready: () => deps.readiness.ready() });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.readiness.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', dependencies: deps.readiness.details() });
  });
  resolveRoute(app, deps);
  if (deps.admin) adminRoutes(app, { ...deps.admin, updater: deps.updater, resolveDeadlineMs: deps.resolveDeadlineMs, metrics: deps.metrics });
  app.use(notFound);
  app.use(errorHandler((err) => deps.logger.error({ err }, 'unexpected error')));
  return app;
}

/**
 * The metrics listener's app (METRICS_PORT): GET /metrics and nothing else. The main app has no
 * /metrics (404), so a load balancer that forwards the main port never exposes the metrics; only what
 * can reach METRICS_PORT (the scraper) reads them. Scrapes are neither logged nor counted.
 */
export function buildMetricsApp(metrics: Metrics, logger: Logger): Express {
  const app = baseApp();
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });
  app.use(notFound);
  app.use(errorHandler((err) => logger.error({ err }, 'metrics scrape failed')));
  return app;
}
