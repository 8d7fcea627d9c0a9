/**
 * The contact-flow Lambda: forwards the Amazon Connect event to the resolver service and returns its
 * flat string map. When the service cannot answer in time (down, slow, unreachable, misconfigured) it
 * returns a fallback map with customerStatus UNAVAILABLE, so the flow takes its normal branch instead
 * of its Error branch and the caller is not dropped.
 *
 * Environment (set on the Lambda function):
 *   RESOLVER_URL              base URL of the service, e.g. https://resolver.internal:8443
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

export const FALLBACK: Readonly<FlowAttributes> = Object.freeze({
  customerStatus: 'UNAVAILABLE',
  profileId: '',
  profileMatchCount: '0',
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
  enrichment: 'NONE',
});

/** What an update call (`operation: "update"`) gets when the service cannot be asked: nothing was queued. */
export const UPDATE_FALLBACK: Readonly<FlowAttributes> = Object.freeze({ updateStatus: 'FAILED', profileId: '', updatedFields: '' });

export interface HandlerOptions {
  url: string;
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
  const endpoint = `${o.url.replace(/\/+$/, '')}/v1/resolve`;
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
    const budget = Math.min(o.maxMs, context.getRemainingTimeInMillis() - o.marginMs);
    if (budget < 100) {
      log({ level: 'warn', msg: 'no time left to call the resolver', contactId, budget });
      return { ...fallback };
    }
    const started = Date.now();
    // one budget for the whole invocation: reading the secret (when it is not cached) and the call
    const signal = AbortSignal.timeout(budget);
    let token = o.token;
    let left = budget;
    if (secret) {
      try {
        token = await secret.get(signal);
      } catch (err) {
        // the name and message of an SDK error or a SecretTokenError: never the secret's value
        log({
          level: 'error',
          msg: 'cannot read the resolver token from Secrets Manager',
          contactId,
          secretId: secret.secretId,
          error: (err as Error)?.name,
          reason: (err as Error)?.message,
          ms: Date.now() - started,
        });
        return { ...fallback };
      }
      left = budget - (Date.now() - started);
      if (left < 100) {
        log({ level: 'warn', msg: 'no time left to call the resolver', contactId, budget: left });
        return { ...fallback };
      }
    }
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
      const body: unknown = await res.json();
      if (res.ok && isFlatStringMap(body)) return body;
      const code = (body as { error?: { code?: string } })?.error?.code;
      log({ level: 'error', msg: 'resolver refused the event', contactId, status: res.status, code });
    } catch (err) {
      log({ level: 'error', msg: 'resolver did not answer', contactId, error: (err as Error).name, ms: Date.now() - started });
    }
    return { ...fallback };
  };
}

const positive = (v: string | undefined, fallback: number): number => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : fallback;
};

/** The Lambda entry point, configured from the function's environment. */
export const handler = createHandler({
  url: process.env.RESOLVER_URL ?? 'http://127.0.0.1:8080',
  token: process.env.RESOLVER_TOKEN,
  tokenSecretId: process.env.RESOLVER_TOKEN_SECRET_ID?.trim(),
  marginMs: positive(process.env.RESOLVER_MARGIN_MS, 250),
  maxMs: positive(process.env.RESOLVER_MAX_MS, 7500),
});
