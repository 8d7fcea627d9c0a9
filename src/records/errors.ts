import { classifyAwsError } from '../aws/errors.js';

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

/** The queue's decision on a failed SDK call (the one classifier: aws/errors.ts). */
export function classify(operation: string, err: unknown): RecordError {
  const { outcome, name, status, retryAfterMs } = classifyAwsError(err);
  // the message names the operation and error type only: SDK messages can echo request values
  const message = `${operation}: ${name}${status ? ` (${status})` : ''}`;
  if (outcome === 'throttled') return new RecordError('throttled', message, retryAfterMs, { cause: err });
  if (outcome === 'client_error') return new RecordError('permanent', message, undefined, { cause: err });
  return new RecordError('retryable', message, undefined, { cause: err });
}
