/**
 * The resolver token read from AWS Secrets Manager (RESOLVER_TOKEN_SECRET_ID) instead of a plain
 * environment value, kept by the warm Lambda for a few minutes so a rotated secret is picked up.
 *
 * The AWS SDK is imported on the first read only: the bundle leaves `@aws-sdk/*` to the Lambda
 * runtime (nodejs24.x provides SDK v3), and without RESOLVER_TOKEN_SECRET_ID it never loads it.
 */
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';

/** How long a read token is used before the secret is read again: a rotation reaches every warm Lambda within it. */
export const TOKEN_TTL_MS = 5 * 60_000;

/** Reads a secret's SecretString (undefined for a binary secret); the signal bounds the read. */
export type ReadSecret = (secretId: string, signal: AbortSignal) => Promise<string | undefined>;

/** A failure whose message is safe to log: it never quotes the secret. */
export class SecretTokenError extends Error {
  override readonly name = 'SecretTokenError';
}

/** The region of a secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>); undefined for a name. */
function regionOf(secretId: string): string | undefined {
  const parts = secretId.split(':');
  return parts[0] === 'arn' && parts[2] === 'secretsmanager' && parts[3] ? parts[3] : undefined;
}

/**
 * GetSecretValue through the AWS SDK, imported and its client created on first use. A secret given
 * by ARN is read in the ARN's region; one given by name in the Lambda's own (AWS_REGION).
 * clientConfig: for tests (credentials, a region for secrets given by name).
 */
export function secretsManagerReader(clientConfig: SecretsManagerClientConfig = {}): ReadSecret {
  const clients = new Map<string, Promise<(secretId: string, signal: AbortSignal) => Promise<string | undefined>>>();
  const clientFor = (region: string | undefined) => {
    const key = region ?? '';
    let client = clients.get(key);
    if (!client) {
      client = import('@aws-sdk/client-secrets-manager').then((sdk) => {
        const sm = new sdk.SecretsManagerClient({ ...clientConfig, ...(region ? { region } : {}) });
        return async (secretId: string, signal: AbortSignal) =>
          (await sm.send(new sdk.GetSecretValueCommand({ SecretId: secretId }), { abortSignal: signal })).SecretString;
      });
      // a failed import is not kept: the next read tries again
      client.catch(() => clients.delete(key));
      clients.set(key, client);
    }
    return client;
  };
  return async (secretId, signal) => (await clientFor(regionOf(secretId)))(secretId, signal);
}

/**
 * The token a SecretString holds. One rule: a SecretString that starts with "{" is a JSON object
 * whose string field `token` is the token (a secret with several fields, e.g. one CloudFormation
 * generated with GenerateStringKey "token"); any other SecretString is the token itself. Of a
 * comma-separated list (AUTH_TOKENS during a rotation) the first is the token. Surrounding
 * whitespace is dropped. The service accepts tokens of 16 to 512 characters (AUTH_TOKENS).
 */
export function tokenFromSecret(secretString: string | undefined): string {
  if (secretString === undefined) throw new SecretTokenError('the secret has no SecretString (a binary secret?)');
  let token = secretString.trim();
  if (token.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(token);
    } catch {
      // not JSON.parse's message: it quotes the text
      throw new SecretTokenError('the SecretString starts with "{" but is not JSON');
    }
    const field = typeof parsed === 'object' && parsed !== null ? (parsed as { token?: unknown }).token : undefined;
    if (typeof field !== 'string') throw new SecretTokenError('the SecretString is a JSON object without a string "token" field');
    token = field.trim();
  }
  // the same secret can be the service's AUTH_TOKENS, a comma-separated list during a rotation: the
  // first is the one to send (docs/security.md, "Rotating tokens")
  token = token.split(',')[0]!.trim();
  if (token.length < 16 || token.length > 512) throw new SecretTokenError(`the token is ${token.length} characters: the service accepts 16 to 512`);
  return token;
}

/** Rejects when the signal aborts (its reason), whatever the promise does. */
function bounded<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** With a token in hand, how long an invocation waits for its refresh before it uses the one it has. */
export const REFRESH_WAIT_MS = 300;
/** The longest a refresh may run (it goes on past the invocation that started it). */
const REFRESH_TIMEOUT_MS = 5000;

/**
 * The token of one secret, read at most once per TOKEN_TTL_MS: invocations that need it while it is
 * being read wait for that one read. A failed read is not kept (the next invocation reads again).
 * Once a token has been read, a refresh that fails or is slow does not cost the call: the last token
 * is used (a rotation keeps the old token valid for a while: docs/security.md) and `onStale` says why.
 */
export class SecretToken {
  private token: string | undefined;
  private readAt = 0;
  private reading: Promise<string> | undefined;

  constructor(
    readonly secretId: string,
    private readonly read: ReadSecret,
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = TOKEN_TTL_MS,
    private readonly onStale: (err: Error) => void = () => undefined,
  ) {}

  /** The token; rejects when it cannot be read or the signal (the invocation's budget) aborts first. */
  get(signal: AbortSignal): Promise<string> {
    if (this.token !== undefined && this.now() - this.readAt < this.ttlMs) return Promise.resolve(this.token);
    const last = this.token;
    this.reading ??= this.read(this.secretId, last === undefined ? signal : AbortSignal.timeout(REFRESH_TIMEOUT_MS))
      .then((secretString) => {
        this.token = tokenFromSecret(secretString);
        this.readAt = this.now();
        return this.token;
      })
      .finally(() => {
        this.reading = undefined;
      });
    if (last === undefined) return bounded(this.reading, signal);
    return bounded(this.reading, AbortSignal.any([signal, AbortSignal.timeout(REFRESH_WAIT_MS)])).catch((err: unknown) => {
      this.onStale(err as Error);
      return last;
    });
  }
}
