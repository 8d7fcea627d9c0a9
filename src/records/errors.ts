/**
 * Why a step failed, and so what the queue does next:
 * - throttled: Customer Profiles or Connect asked us to slow down; the job waits (honouring
 *   Retry-After) and is tried again without using up an attempt: throttling is backpressure, not failure;
 * - retryable: 5xx, network, timeout; retried with exponential backoff and jitter, then dead-lettered;
 * - permanent: any other 4xx (access denied, bad request, unknown profile); dead-lettered at once.
 */
export class RecordError extends Error {
  constructor(
    readonly kind: 'throttled' | 'retryable' | 'permanent',
    message: string,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RecordError';
  }
}

interface SdkError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  $retryable?: { throttling?: boolean };
}

export function classify(operation: string, err: unknown): RecordError {
  const e = err as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  // the message names the operation and error type only: SDK messages can echo request values
  const message = `${operation}: ${name}${status ? ` (${status})` : ''}`;
  if (status === 429 || name === 'ThrottlingException' || name === 'TooManyRequestsException' || e.$retryable?.throttling) {
    const header = e.$response?.headers?.['retry-after'];
    const seconds = header !== undefined ? Number(header) : NaN;
    return new RecordError('throttled', message, Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined, { cause: err });
  }
  if (status !== undefined && status >= 400 && status < 500) return new RecordError('permanent', message, undefined, { cause: err });
  return new RecordError('retryable', message, undefined, { cause: err });
}
