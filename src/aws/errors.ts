// The one reading of a failed AWS SDK call. Each caller decides on its result, never on the SDK error:
// metrics and logs take `outcome`, the hot path a StoreFailure (profiles/customer-profiles.ts), the record
// queue throttled / retryable / permanent (records/errors.ts), the operator commands a cause (awsCause).

export type Outcome = 'success' | 'throttled' | 'client_error' | 'server_error' | 'timeout' | 'network_error';

export interface AwsFailure {
  outcome: Exclude<Outcome, 'success'>;
  /** the SDK's error type (ThrottlingException, AccessDeniedException...), or 'Error' */
  name: string;
  /** the HTTP status AWS answered with; undefined when no answer came (network, timeout, abort) */
  status: number | undefined;
  /** Retry-After, where AWS sent one with a throttling answer */
  retryAfterMs: number | undefined;
}

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  $retryable?: { throttling?: boolean };
}

export function classifyAwsError(err: unknown): AwsFailure {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const failure = (outcome: AwsFailure['outcome'], retryAfterMs?: number): AwsFailure => ({ outcome, name, status, retryAfterMs });
  // Customer Profiles answers 429 ThrottlingException; Connect 429 TooManyRequestsException; the SDK marks
  // others it knows to be throttling (Connect's LimitExceededException on some operations)
  if (status === 429 || name === 'ThrottlingException' || name === 'TooManyRequestsException' || e.$retryable?.throttling) {
    const header = e.$response?.headers?.['retry-after'];
    const seconds = header !== undefined ? Number(header) : NaN;
    return failure('throttled', Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined);
  }
  if (name === 'AbortError' || name === 'TimeoutError') return failure('timeout');
  if (status !== undefined && status >= 500) return failure('server_error');
  if (status !== undefined && status >= 400) return failure('client_error');
  return failure('network_error');
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
 * The classification, refined for a person: a failure that never got an HTTP answer (DNS, refused, timed
 * out) is the network's; a 4xx says whether the credentials, the permissions or the named resource is wrong.
 */
export function awsCause(err: unknown): { cause: AwsCause; code: string } {
  const { outcome, name, status } = classifyAwsError(err);
  const e = err as SdkError;
  // a system error (ENOTFOUND, ECONNREFUSED...) keeps its code; the SDK's own names the error type
  const code = `${typeof e?.code === 'string' && name === 'Error' ? e.code : name}${status !== undefined ? ` ${status}` : ''}`;
  if (CREDENTIAL_ERRORS.has(name)) return { cause: 'credentials', code };
  const cause = (
    {
      throttled: 'throttling',
      timeout: 'network',
      network_error: 'network',
      server_error: 'service error',
      client_error: status === 403 ? 'permission' : status === 404 || name === 'ResourceNotFoundException' ? 'missing resource' : 'bad request',
    } as const
  )[outcome];
  return { cause, code };
}
