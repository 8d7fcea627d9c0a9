import type { Express, Request, Response } from 'express';
import { performance } from 'node:perf_hooks';
import { parseContactEvent, type ContactEvent } from '../contact/event.js';
import type { ContactResolver, Resolved } from '../contact/resolve.js';
import type { ProfileUpdater } from '../contact/update.js';
import { bindRequestContext, type RequestContext } from '../ops/context.js';
import { maskEmail, maskPhone } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { bearerAuth } from './auth.js';
import { deadlineBudget, safetyMargin } from './deadline.js';
import { readJson, requireJson } from './json.js';
import { requestLog } from './request-log.js';

function maskedIdentity(r: Resolved): string | undefined {
  const phone = r.answer.phoneE164;
  const email = r.answer.emailAddress;
  if (phone) return maskPhone(phone);
  if (email) return maskEmail(email);
  return undefined;
}

/**
 * POST /v1/resolve: the Connect event the Lambda forwards; `operation: "update"` writes back what the
 * flow learned. Inside the flow's budget (RESOLVE_DEADLINE_MS, or X-Deadline-Ms), less a safety margin.
 */
export function resolveRoute(
  app: Express,
  deps: { resolver: ContactResolver; updater: ProfileUpdater; authTokens: readonly string[]; resolveDeadlineMs: number; metrics: Metrics },
): void {
  const auth = deps.authTokens.length > 0 ? [bearerAuth(deps.authTokens)] : [];
  app.post('/v1/resolve', ...auth, requireJson, readJson, async (req: Request, res: Response) => {
    const log = requestLog(res);
    const event: ContactEvent = parseContactEvent(req.body);
    log.contactId = event.contactId;
    log.channel = event.channel;

    const budget = deadlineBudget(req.headers['x-deadline-ms'], deps.resolveDeadlineMs);
    const left = budget - safetyMargin(budget) - (performance.now() - (res.locals.arrivedAt as number));
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, left));
    try {
      // the request's work carries its signal, and through it the request's context (the AWS calls made)
      const ctx = res.locals.ctx as RequestContext;
      // a call that cannot start before this is not made (the fleet's share of the quota: cache/quota.ts)
      ctx.deadlineAt = Date.now() + Math.max(0, left);
      bindRequestContext(controller.signal, ctx);
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
        verification: resolved.answer.verification,
        ...(resolved.answer.carriedFromContactId && { carriedFrom: resolved.answer.carriedFromContactId }),
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

}
