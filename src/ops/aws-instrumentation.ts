import type { Metrics } from './metrics.js';

export type Outcome = 'success' | 'throttled' | 'client_error' | 'server_error' | 'timeout' | 'network_error';

export function awsOutcome(err: unknown): Outcome {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'ThrottlingException' || e.name === 'TooManyRequestsException' || status === 429) return 'throttled';
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return 'timeout';
  if (status !== undefined && status >= 500) return 'server_error';
  if (status !== undefined && status >= 400) return 'client_error';
  return 'network_error';
}

/** What an operator has to look at when an AWS call failed (the operator commands name it). */
export type AwsCause = 'network' | 'credentials' | 'permission' | 'missing resource' | 'throttling' | 'service error' | 'bad request';

// AWS's common errors for a request it cannot authenticate (not in any service's model: every service
// answers them), and the SDK's own when it has no credentials to sign with.
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'TokenProviderError',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
]);

/**
 * awsOutcome, refined for a person: a failure that never got an HTTP answer (DNS, refused, timed out)
 * is the network's; a 4xx says whether the credentials, the permissions or the named resource is wrong.
 */
export function awsCause(err: unknown): { cause: AwsCause; code: string } {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  // a system error (ENOTFOUND, ECONNREFUSED...) keeps its code; the SDK's own names the error type
  const code = `${typeof e.code === 'string' && name === 'Error' ? e.code : name}${status !== undefined ? ` ${status}` : ''}`;
  if (CREDENTIAL_ERRORS.has(name)) return { cause: 'credentials', code };
  const cause = (
    {
      throttled: 'throttling',
      timeout: 'network',
      network_error: 'network',
      server_error: 'service error',
      success: 'service error',
      client_error: status === 403 ? 'permission' : status === 404 || name === 'ResourceNotFoundException' ? 'missing resource' : 'bad request',
    } as const
  )[awsOutcome(err)];
  return { cause, code };
}

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
        outcome = awsOutcome(err);
        throw err;
      } finally {
        observe({ service, operation, outcome, seconds: (performance.now() - started) / 1000 });
      }
    },
    { step: 'initialize', name: 'cprInstrumentation', override: true },
  );
}
