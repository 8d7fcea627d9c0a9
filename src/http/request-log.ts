import type { Express, Request, Response } from 'express';
import { performance } from 'node:perf_hooks';
import { refusalCode } from '../errors.js';
import type { RequestContext } from '../ops/context.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { Refusal } from './errors.js';

/** What a route adds to its request's log line (never a personal value in clear). */
export interface RequestLog {
  contactId?: string;
  channel?: string;
  customerStatus?: string;
  /** the answer's verification (VERIFIED, MISMATCH, NOT_CHECKED, LOCKED) and the contact it was carried from, if any */
  verification?: string;
  carriedFrom?: string;
  identity?: string;
  identitySource?: string;
  failure?: string;
  source?: string;
  operation?: string;
  updateStatus?: string;
  /** the names of the fields an update sets (never their values) */
  updatedFields?: string[];
}

/** The request's log line fields, for its route to fill in. */
export const requestLog = (res: Response): RequestLog => res.locals.log as RequestLog;

/**
 * Per request: arrival time, a number and the AWS calls made (RequestContext), then one log line and the
 * HTTP metrics when the answer has gone. While draining (`ready()` false), keep-alive clients are asked to go.
 */
export function useRequestLog(app: Express, o: { logger: Logger; metrics: Metrics; ready(): boolean }): void {
  let requests = 0;
  app.use((req: Request, res: Response, next) => {
    const arrived = performance.now();
    const reqId = ++requests;
    const ctx: RequestContext = { awsCalls: [] };
    res.locals.arrivedAt = arrived;
    res.locals.ctx = ctx;
    res.locals.log = {} satisfies RequestLog;
    // while draining, ask keep-alive clients to go, so the server can close
    if (!o.ready()) res.setHeader('Connection', 'close');
    res.on('finish', () => {
      const seconds = (performance.now() - arrived) / 1000;
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const labels = { route, method: req.method, status: String(res.statusCode) };
      o.metrics.httpRequests.inc(labels);
      o.metrics.httpDuration.observe(labels, seconds);
      if (route === '/healthz' || route === '/readyz') return; // probes: metrics only
      const log = res.locals.log as RequestLog;
      const line = { reqId, method: req.method, route, status: res.statusCode, durationMs: Math.round(seconds * 10_000) / 10, ...log, aws: ctx.awsCalls };
      if (res.statusCode >= 500) o.logger.error(line, 'request failed');
      else if (res.statusCode >= 400) {
        // why it was refused: the code, the field and the message of the answer (never a value sent)
        const refusal = res.locals.refusal as Refusal | undefined;
        o.metrics.refusals.inc({ code: refusalCode(refusal?.code) });
        o.logger.warn({ ...line, ...refusal }, 'request refused');
      } else o.logger.info(line, 'request');
    });
    next();
  });
}
