import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CountryCode } from 'libphonenumber-js/max';
import type { Eraser } from './contact/erase.js';
import { parseContactEvent, type ContactEvent } from './contact/event.js';
import { isCountryCode, normaliseEmail, normalisePhone } from './domain/identity.js';
import type { ContactResolver, Resolved } from './contact/resolve.js';
import type { ProfileUpdater } from './contact/update.js';
import { UPDATE_PREFIX } from './domain/profile-update.js';
import { AppError, refusalCode } from './errors.js';
import { bearerAuth } from './http/auth.js';
import { deadlineBudget, safetyMargin } from './http/deadline.js';
import { STANDARD_KEYS, type CallerKeys } from './domain/keys.js';
import { errorHandler, notFound, type Refusal } from './http/errors.js';
import { checkJsonShape, hardeningHeaders } from './http/guards.js';
import { bindRequestContext, type RequestContext } from './ops/context.js';
import { maskEmail, maskPhone, type Logger } from './ops/logger.js';
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
  admin?: { tokens: readonly string[]; eraser: Pick<Eraser, 'erase'>; defaultCountry: CountryCode } | undefined;
  resolveDeadlineMs: number;
  readiness: Readiness;
  metrics: Metrics;
}

interface RequestLog {
  contactId?: string;
  channel?: string;
  customerStatus?: string;
  identity?: string;
  identitySource?: string;
  failure?: string;
  source?: string;
  operation?: string;
  updateStatus?: string;
  /** the names of the fields an update sets (never their values) */
  updatedFields?: string[];
}

function maskedIdentity(r: Resolved): string | undefined {
  const phone = r.answer.phoneE164;
  const email = r.answer.emailAddress;
  if (phone) return maskPhone(phone);
  if (email) return maskEmail(email);
  return undefined;
}

/** The Express app. It never listens and never reads the environment: main.ts and tests do that. */
export function buildApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.use(hardeningHeaders);

  // Per request: arrival time, a number and the AWS calls made (RequestContext), then one
  // log line and the HTTP metrics when the answer has gone.
  let requests = 0;
  app.use((req, res, next) => {
    const arrived = performance.now();
    const reqId = ++requests;
    const ctx: RequestContext = { awsCalls: [] };
    res.locals.arrivedAt = arrived;
    res.locals.ctx = ctx;
    res.locals.log = {} satisfies RequestLog;
    // while draining, ask keep-alive clients to go, so the server can close
    if (!deps.readiness.ready()) res.setHeader('Connection', 'close');
    res.on('finish', () => {
      const seconds = (performance.now() - arrived) / 1000;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const labels = { route, method: req.method, status: String(res.statusCode) };
      deps.metrics.httpRequests.inc(labels);
      deps.metrics.httpDuration.observe(labels, seconds);
      if (route === '/healthz' || route === '/readyz') return; // probes: metrics only
      const log = res.locals.log as RequestLog;
      const line = { reqId, method: req.method, route, status: res.statusCode, durationMs: Math.round(seconds * 10_000) / 10, ...log, aws: ctx.awsCalls };
      if (res.statusCode >= 500) deps.logger.error(line, 'request failed');
      else if (res.statusCode >= 400) {
        // why it was refused: the code, the field and the message of the answer (never a value sent)
        const refusal = res.locals.refusal as Refusal | undefined;
        deps.metrics.refusals.inc({ code: refusalCode(refusal?.code) });
        deps.logger.warn({ ...line, ...refusal }, 'request refused');
      } else deps.logger.info(line, 'request');
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.readiness.ready();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', dependencies: deps.readiness.details() });
  });

  const requireJson: RequestHandler = (req, _res, next) => {
    // false: a body of another type; null: no body at all (then the event is missing: 400)
    if (req.is('application/json') === false) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 415, 'Content-Type must be application/json');
    }
    next();
  };
  const auth: RequestHandler[] = deps.authTokens.length > 0 ? [bearerAuth(deps.authTokens)] : [];
  const readJson = express.json({ limit: '64kb', strict: true, type: 'application/json', verify: (_req, _res, buf) => checkJsonShape(buf) });

  app.post('/v1/resolve', ...auth, requireJson, readJson, async (req: Request, res: Response) => {
    const log = res.locals.log as RequestLog;
    const event: ContactEvent = parseContactEvent(req.body);
    log.contactId = event.contactId;
    log.channel = event.channel;

    const budget = deadlineBudget(req.headers['x-deadline-ms'], deps.resolveDeadlineMs);
    const left = budget - safetyMargin(budget) - (performance.now() - (res.locals.arrivedAt as number));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, left));
    try {
      // the request's work carries its signal, and through it the request's context (the AWS calls made)
      bindRequestContext(controller.signal, res.locals.ctx as RequestContext);
      if (event.operation === 'update') {
        const updated = await deps.updater.update(event, controller.signal);
        deps.metrics.profileUpdates.inc({ status: updated.status });
        Object.assign(log, { operation: 'update', updateStatus: updated.status, updatedFields: updated.fields });
        res.json(updated.answer);
        return;
      }
      const resolved = await deps.resolver.resolve(event, controller.signal);
      const m = deps.metrics;
      m.resolveOutcomes.inc({ customer_status: resolved.status, channel: event.channel, source: resolved.source });
      if (resolved.answer.degraded === 'true') m.fallbacks.inc({ reason: resolved.failure ?? 'unavailable' });
      if (resolved.source !== 'idempotent' && resolved.answer.contactRecordStatus !== 'SKIPPED') {
        m.recordJobs.inc({ outcome: resolved.answer.contactRecordStatus === 'QUEUED' ? 'enqueued' : 'enqueue_failed' });
      }
      Object.assign(log, {
        customerStatus: resolved.status,
        identity: maskedIdentity(resolved),
        identitySource: resolved.identitySource,
        failure: resolved.failure,
        source: resolved.source,
      });
      res.json(resolved.answer);
    } finally {
      clearTimeout(timer);
    }
  });

  const admin = deps.admin;
  if (admin) {
    // Erasure of one caller (GDPR): phoneNumber or emailAddress, as the flow would send it; or the
    // accountNumber of a caller who was looked up by it alone (caller ID withheld).
    app.post('/v1/admin/erase', bearerAuth(admin.tokens), requireJson, readJson, async (req: Request, res: Response) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const identity = normalisePhone(body.phoneNumber, adminCountry(body, admin.defaultCountry)) ?? normaliseEmail(body.emailAddress);
      const account = typeof body.accountNumber === 'string' ? body.accountNumber.trim() : '';
      if (!identity && (account.length < 1 || account.length > 255)) {
        throw new AppError('INVALID_REQUEST', 400, 'give a valid phoneNumber or emailAddress, or an accountNumber of 1 to 255 characters');
      }
      const keys: CallerKeys = identity
        ? { identity, extra: [], mode: 'any' }
        : { identity: undefined, extra: [{ name: STANDARD_KEYS.account, values: [account] }], mode: 'any' };
      const report = await admin.eraser.erase(keys);
      (res.locals.log as RequestLog).identity = !identity ? 'account' : identity.type === 'PHONE' ? maskPhone(identity.e164) : maskEmail(identity.address);
      res.json({ erased: report, identityType: identity?.type ?? 'ACCOUNT' });
    });

    // An update of any profile, by its id: an operator's correction, never a flow's (a flow writes only
    // to the profile its contact resolved to: see ProfileUpdater). The same `profile.*` fields, checks
    // and durable queue as a flow's update.
    app.post('/v1/admin/update', bearerAuth(admin.tokens), requireJson, readJson, async (req: Request, res: Response) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const profileId = typeof body.profileId === 'string' ? body.profileId.trim().toLowerCase() : '';
      if (!/^[0-9a-f]{32}$/.test(profileId)) throw new AppError('INVALID_REQUEST', 400, 'profileId: must be a profile id: 32 hex characters');
      const country = adminCountry(body, admin.defaultCountry);
      for (const name of Object.keys(body)) {
        if (name !== 'profileId' && name !== 'countryCode' && !name.startsWith(UPDATE_PREFIX)) {
          throw new AppError('INVALID_REQUEST', 400, `${JSON.stringify(name.slice(0, 64))}: give profileId, countryCode and profile.<Field> fields only`);
        }
      }
      const updated = await deps.updater.adminUpdate(profileId, body, country, `admin-${randomUUID()}`, AbortSignal.timeout(deps.resolveDeadlineMs));
      deps.metrics.profileUpdates.inc({ status: updated.status });
      Object.assign(res.locals.log as RequestLog, { operation: 'admin-update', updateStatus: updated.status, updatedFields: updated.fields });
      res.status(updated.status === 'QUEUED' ? 202 : 503).json(updated.answer);
    });
  }

  app.use(notFound);
  app.use(errorHandler((err) => deps.logger.error({ err }, 'unexpected error')));
  return app;
}

/** An admin body's `countryCode`, as a flow's: blank is not given (the default), any letter case; an unknown region is a 400 naming it. */
function adminCountry(body: Record<string, unknown>, fallback: CountryCode): CountryCode {
  const given = typeof body.countryCode === 'string' ? body.countryCode.trim().toUpperCase() : '';
  if (given === '') return fallback;
  if (!isCountryCode(given)) throw new AppError('INVALID_REQUEST', 400, 'countryCode: must be a region code libphonenumber-js supports (ISO 3166-1 alpha-2 such as US or DE; the United Kingdom is GB)');
  return given;
}

/**
 * The metrics listener's app (METRICS_PORT): GET /metrics and nothing else. The main app has no
 * /metrics (404), so a load balancer that forwards the main port never exposes the metrics; only what
 * can reach METRICS_PORT (the scraper) reads them. Scrapes are neither logged nor counted.
 */
export function buildMetricsApp(metrics: Metrics, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.use(hardeningHeaders);
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.end(await metrics.registry.metrics());
  });
  app.use(notFound);
  app.use(errorHandler((err) => logger.error({ err }, 'metrics scrape failed')));
  return app;
}
