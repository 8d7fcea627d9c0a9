/**
 * The contact-flow Lambda: forwards the Amazon Connect event to the resolver service and returns its
 * flat string map. When the service cannot answer in time (down, slow, unreachable, misconfigured) it
 * returns a fallback map with customerStatus UNAVAILABLE, so the flow takes its normal branch instead
 * of its Error branch and the caller is not dropped.
 *
 * Environment (set on the Lambda function):
 *   RESOLVER_URL              base URL of the service, e.g. https://resolver.internal:8443 (unset: every
 *                             call answers the fallback map with fallbackReason NOT_CONFIGURED)
 *   RESOLVER_TOKEN            one of the service's AUTH_TOKENS
 *   RESOLVER_TOKEN_SECRET_ID  instead: the name or ARN of a Secrets Manager secret holding the token
 *                             (the whole SecretString, or the `token` field of a JSON SecretString);
 *                             read with GetSecretValue, kept 5 minutes by the warm Lambda, and wins
 *                             over RESOLVER_TOKEN when both are set. When it cannot be read in the
 *                             invocation's time, the answer is the fallback map; once read, a failed
 *                             or slow refresh keeps the last token (it waits at most 300 ms for one).
 *   RESOLVER_MARGIN_MS        time kept back from the Lambda's remaining time for the fallback (default 250)
 *   RESOLVER_MAX_MS           the most to wait for the service (and the secret) whatever the Lambda timeout (default 7500)
 *
 * Every fallback answer names its cause in `fallbackReason` (LambdaFallbackReason), and the Lambda logs
 * one JSON line for it: the service's error code and reason, or the HTTP status, or the system error
 * code of a transport failure. Never a personal value: the service's messages name fields, not values.
 *
 * Built to dist/lambda/index.mjs by `npm run build`: no dependencies (Node's fetch); the AWS SDK
 * for RESOLVER_TOKEN_SECRET_ID is the one the nodejs24.x runtime provides, imported only when set.
 */
import { SecretToken, secretsManagerReader, type ReadSecret } from './secret-token.js';

export interface ConnectEvent {
  Name?: string;
  Details?: { ContactData?: { ContactId?: string } };
}
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}
export type FlowAttributes = Record<string, string>;

/**
 * Why the Lambda answered its fallback map: the service answered 400 (INVALID_EVENT) or 401
 * (UNAUTHORIZED), or another status or an answer that is not a flat map of strings (SERVICE_ERROR);
 * no connection (SERVICE_UNREACHABLE: refused, DNS, reset, TLS); no answer within the Lambda's own wait
 * (TIMEOUT); no RESOLVER_URL, or no token from Secrets Manager (NOT_CONFIGURED). The service's own
 * fallback answers TIMEOUT, AWS_THROTTLED, QUOTA, AWS_MISCONFIGURED or AWS_UNAVAILABLE, and reaches the flow as it is.
 */
export type LambdaFallbackReason = 'INVALID_EVENT' | 'UNAUTHORIZED' | 'SERVICE_ERROR' | 'SERVICE_UNREACHABLE' | 'TIMEOUT' | 'NOT_CONFIGURED';

/** The fallback map; every answer made from it names its cause in `fallbackReason` (see fallbackAnswer). */
export const FALLBACK: Readonly<FlowAttributes> = Object.freeze({
  customerStatus: 'UNAVAILABLE',
  profileId: '',
  profileMatchCount: '0',
  profileSearchKey: '',
  profileSearchValue: '',
  identityType: 'NONE',
  phoneE164: '',
  phoneCountry: '',
  emailAddress: '',
  firstName: '',
  lastName: '',
  accountNumber: '',
  isRepeatContact: 'false',
  lastContactAt: '',
  contactRecordStatus: 'SKIPPED',
  degraded: 'true',
  verification: 'NOT_CHECKED',
  matchedBy: '',
  carriedFromContactId: '',
  phoneChangedRecently: '',
  emailChangedRecently: '',
  addressChangedRecently: '',
  mergedRecently: '',
  recentFailedChecks: '',
  enrichment: 'NONE',
  enrichmentPartial: '',
  enrichmentAsOf: '',
  fallbackReason: '',
});

/** What an update call (`operation: "update"`) gets when the service cannot be asked: nothing was queued. */
export const UPDATE_FALLBACK: Readonly<FlowAttributes> = Object.freeze({ updateStatus: 'FAILED', profileId: '', updatedFields: '', fallbackReason: '' });

/** A fallback map (a copy the caller may change) naming its cause. */
export function fallbackAnswer(template: Readonly<FlowAttributes>, reason: LambdaFallbackReason): FlowAttributes {
  return { ...template, fallbackReason: reason };
}

/** What the one log line of a fallback says beside the ContactId: never a personal value. */
interface Failure {
  fallbackReason: LambdaFallbackReason;
  level?: 'warn' | 'error';
  /** the HTTP status answered (by the service, or by what stands before it: a load balancer's 502) */
  status?: number;
  /** the service's error code (`INVALID_EVENT`, ...) */
  code?: string | undefined;
  /** the service's error message (it names the field), or what was wrong */
  reason?: string | undefined;
  /** the system error code of a failed connection: ECONNREFUSED, ENOTFOUND, ECONNRESET, ETIMEDOUT, ... */
  errorCode?: string | undefined;
  /** the error's name */
  error?: string | undefined;
  secretId?: string;
}

const MAX_REASON = 300;
const clip = (text: string): string => (text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}...` : text);

/** A 4xx/5xx, or a 2xx that is not a flat map of strings: what the service (or a proxy) said. */
function refusal(status: number, contentType: string | null, body: unknown): Failure {
  if (status >= 200 && status < 300) {
    return { fallbackReason: 'SERVICE_ERROR', status, reason: body === undefined ? 'the answer is not JSON' : 'the answer is not a flat map of strings' };
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? clip(error.code) : undefined;
  const reason = typeof error?.message === 'string' ? clip(error.message) : `not the service's error body (${contentType ?? 'no Content-Type'})`;
  return { fallbackReason: status === 400 ? 'INVALID_EVENT' : status === 401 ? 'UNAUTHORIZED' : 'SERVICE_ERROR', status, code, reason };
}

/** fetch's rejection: the Lambda's own wait ran out, or no connection (Node's fetch puts the system error in `cause`). */
function transportFailure(err: unknown, signal: AbortSignal): Failure {
  const e = err as { name?: unknown; code?: unknown; cause?: { code?: unknown; message?: unknown } } | undefined;
  if (signal.aborted) return { fallbackReason: 'TIMEOUT', error: 'TimeoutError', reason: 'no answer within the time the Lambda has' };
  const code = e?.cause?.code ?? e?.code;
  return {
    fallbackReason: 'SERVICE_UNREACHABLE',
    error: typeof e?.name === 'string' ? e.name : undefined,
    errorCode: typeof code === 'string' ? code : undefined,
    reason: typeof e?.cause?.message === 'string' ? clip(e.cause.message) : undefined,
  };
}

export interface HandlerOptions {
  /** the service's base URL; unset or not a URL: every call answers the fallback (NOT_CONFIGURED) */
  url: string | undefined;
  token?: string | undefined;
  /** name or ARN of a Secrets Manager secret holding the token; wins over token */
  tokenSecretId?: string | undefined;
  /** how the secret is read (default: GetSecretValue through the runtime's AWS SDK) */
  readSecret?: ReadSecret;
  marginMs: number;
  maxMs: number;
  log?: (line: Record<string, unknown>) => void;
  /** the clock of the token's 5-minute cache (tests) */
  now?: () => number;
}

/**
 * The service is told to answer this much earlier than the Lambda gives up, so its own fallback
 * (which still carries the caller's normalised identity) arrives over the network in time.
 */
export function serviceHeadroom(budgetMs: number): number {
  return Math.min(200, Math.max(50, Math.floor(budgetMs / 10)));
}

function isFlatStringMap(v: unknown): v is FlowAttributes {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

export function createHandler(o: HandlerOptions) {
  const endpoint = endpointOf(o.url);
  const log = o.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const secret = o.tokenSecretId
    ? new SecretToken(o.tokenSecretId, o.readSecret ?? secretsManagerReader(), o.now, undefined, (err) =>
        log({ level: 'warn', msg: 'cannot refresh the resolver token: using the last one read', secretId: o.tokenSecretId, error: err?.name, reason: err?.message }),
      )
    : undefined;
  if (secret && o.token) log({ level: 'warn', msg: 'RESOLVER_TOKEN is ignored: the token comes from RESOLVER_TOKEN_SECRET_ID', secretId: secret.secretId });
  return async function handler(event: ConnectEvent, context: LambdaContext): Promise<FlowAttributes> {
    const contactId = event?.Details?.ContactData?.ContactId;
    const operation = (event?.Details as { Parameters?: { operation?: unknown } } | undefined)?.Parameters?.operation;
    const fallback = typeof operation === 'string' && operation.trim().toLowerCase() === 'update' ? UPDATE_FALLBACK : FALLBACK;
    const started = Date.now();
    // one line per fallback: its reason for the flow, and what the service (or the network) said
    const fallBack = ({ level = 'error', fallbackReason, ...detail }: Failure): FlowAttributes => {
      log({ level, msg: 'resolver fallback', contactId, fallbackReason, ...detail, ms: Date.now() - started });
      return fallbackAnswer(fallback, fallbackReason);
    };
    if (!endpoint) return fallBack({ fallbackReason: 'NOT_CONFIGURED', reason: 'RESOLVER_URL is not set to an http(s) URL' });
    const budget = Math.min(o.maxMs, context.getRemainingTimeInMillis() - o.marginMs);
    if (budget < 100) return fallBack({ level: 'warn', fallbackReason: 'TIMEOUT', reason: `no time left to call the resolver (${budget} ms)` });
    // one budget for the whole invocation: reading the secret (when it is not cached) and the call
    const signal = AbortSignal.timeout(budget);
    let token = o.token;
    let left = budget;
    if (secret) {
      try {
        token = await secret.get(signal);
      } catch (err) {
        // the name and message of an SDK error or a SecretTokenError: never the secret's value
        return fallBack({
          fallbackReason: signal.aborted ? 'TIMEOUT' : 'NOT_CONFIGURED',
          secretId: secret.secretId,
          error: (err as Error)?.name,
          reason: `cannot read the resolver token from Secrets Manager: ${(err as Error)?.message}`,
        });
      }
      left = budget - (Date.now() - started);
      if (left < 100) return fallBack({ level: 'warn', fallbackReason: 'TIMEOUT', reason: `no time left to call the resolver (${left} ms)` });
    }
    let failure: Failure;
    try {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-deadline-ms': String(left - serviceHeadroom(left)),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(event),
        signal,
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined; // a load balancer's HTML page, or nothing
      }
      if (res.ok && isFlatStringMap(body)) return body;
      failure = refusal(res.status, res.headers.get('content-type'), body);
    } catch (err) {
      failure = transportFailure(err, signal);
    }
    return fallBack(failure);
  };
}

/** `<url>/v1/resolve`, or undefined when the URL is missing or not http(s). */
function endpointOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(`${url.replace(/\/+$/, '')}/v1/resolve`);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

const positive = (v: string | undefined, fallback: number): number => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};

/** The Lambda entry point, configured from the function's environment. */
export const handler = createHandler({
  url: process.env.RESOLVER_URL?.trim(),
  token: process.env.RESOLVER_TOKEN,
  tokenSecretId: process.env.RESOLVER_TOKEN_SECRET_ID?.trim(),
  marginMs: positive(process.env.RESOLVER_MARGIN_MS, 250),
  maxMs: positive(process.env.RESOLVER_MAX_MS, 7500),
});
