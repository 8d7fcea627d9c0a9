import { classifyAwsError, type Outcome } from '../aws/errors.js';
import type { Metrics } from './metrics.js';

/** What the last calls to one AWS service said, for /readyz. */
export class Reachability {
  lastSuccessAt = 0;
  lastFailureAt = 0;
  lastFailure: string | undefined;
  private recent: boolean[] = [];

  record(ok: boolean, outcome: string): void {
    if (ok) this.lastSuccessAt = Date.now();
    else {
      this.lastFailureAt = Date.now();
      this.lastFailure = outcome;
    }
    this.recent.push(ok);
    if (this.recent.length > 50) this.recent.shift();
  }

  state(): { state: 'ok' | 'failing' | 'unknown'; recentFailureRatio: number; lastSuccessAt?: string; lastFailure?: string } {
    if (this.recent.length === 0) return { state: 'unknown', recentFailureRatio: 0 };
    const failures = this.recent.filter((ok) => !ok).length / this.recent.length;
    return {
      state: this.lastSuccessAt >= this.lastFailureAt || failures < 0.5 ? 'ok' : 'failing',
      recentFailureRatio: Math.round(failures * 100) / 100,
      ...(this.lastSuccessAt ? { lastSuccessAt: new Date(this.lastSuccessAt).toISOString() } : {}),
      ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}),
    };
  }
}

interface MiddlewareStack {
  add(
    middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize'; name: string; override?: boolean },
  ): void;
}

/** One AWS call as measured, all its attempts included. */
export interface AwsCallMeasured {
  service: string;
  operation: string;
  outcome: Outcome;
  seconds: number;
}

export type AwsObserver = (call: AwsCallMeasured) => void;

/** Metrics by service, operation and outcome, and Customer Profiles' reachability for /readyz. */
export function awsObserver(metrics: Metrics, customerProfiles?: Reachability): AwsObserver {
  return ({ service, operation, outcome, seconds }) => {
    metrics.awsRequests.inc({ service, operation, outcome });
    metrics.awsDuration.observe({ service, operation, outcome }, seconds);
    if (service === 'customer-profiles') customerProfiles?.record(outcome === 'success', outcome);
  };
}

/**
 * One SDK middleware on a client measures every call it makes (all attempts of it) and tells the
 * observer (see awsObserver). No call site needs to know. (The calls a request made, for its log
 * line, are recorded by the store that makes them.)
 */
export function instrumentAwsClient(client: { middlewareStack: unknown }, service: string, observe: AwsObserver): void {
  (client.middlewareStack as MiddlewareStack).add(
    (next, context) => async (args) => {
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const started = performance.now();
      let outcome: Outcome = 'success';
      try {
        return await next(args);
      } catch (err) {
        outcome = classifyAwsError(err).outcome;
        throw err;
      } finally {
        observe({ service, operation, outcome, seconds: (performance.now() - started) / 1000 });
      }
    },
    { step: 'initialize', name: 'cprInstrumentation', override: true },
  );
}
