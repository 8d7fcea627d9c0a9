// Shared by the operator commands: they read the same configuration as the service, and they end the
// same way: bounded in time, and on a failure one line on stderr and exit code 1. `--verbose` adds the
// error's stack and details after the line.
import { inspect } from 'node:util';
import { createRedisClient, redisAddress, type RedisClient } from '../redis/client.js';
import { loadConfig, type Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { createAdminClient } from '../aws/clients.js';

export const verbose = process.argv.includes('--verbose');

/** The command's arguments, without --verbose. */
export function commandArgs(): string[] {
  return process.argv.slice(2).filter((a) => a !== '--verbose');
}

export function commandConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

/** Ends the command: the message on stderr, the error in full with --verbose, exit code 1. */
export function fail(message: string, err?: unknown): never {
  process.stderr.write(`${message}\n`);
  if (verbose && err !== undefined) process.stderr.write(`${inspect(err, { depth: 4 })}\n`);
  process.exit(1);
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** An error in a few words: a system error by its code (ECONNREFUSED), anything else by its name and message's first line. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; code?: unknown; message?: string; cause?: unknown };
  if (typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
  // fetch says "fetch failed" and puts the reason in its cause
  if (e?.message === 'fetch failed' && e.cause) return describeError(e.cause);
  if (e?.name === 'TimeoutError') return 'no answer in time';
  const message = (e?.message ?? String(err)).split('\n')[0]!;
  return e?.name && e.name !== 'Error' ? `${e.name}: ${message}` : message;
}

/**
 * Runs the body of a command: whatever it throws, or leaves unhandled, ends the process with one line
 * ("<command> failed: ...") rather than a stack trace.
 */
export async function runCommand(command: string, body: () => Promise<void>): Promise<void> {
  const crash = (err: unknown) => fail(`${command} failed: ${describeError(err)}`, err);
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  try {
    await body();
  } catch (err) {
    crash(err);
  }
}

// How long an operator command waits for Redis before it gives up.
const REDIS_CONNECT_MS = 5000;

/**
 * A Redis client for an operator command, connected and ready, or the command ends within
 * REDIS_CONNECT_MS with one line naming the address and why. Its errors are listened to (else ioredis
 * prints "[ioredis] Unhandled error event" and a stack for each attempt).
 */
export async function connectRedis(config: Config, command: string): Promise<RedisClient | undefined> {
  const redis = createRedisClient(config, 'command');
  if (!redis) return undefined;
  let lastError: unknown;
  redis.on('error', (err: unknown) => (lastError = err));
  // ready; or ended (its reconnections used up: refused, unknown host); or still trying when time is up
  const state = await new Promise<'ready' | 'ended' | 'late'>((resolve) => {
    const timer = setTimeout(() => resolve('late'), REDIS_CONNECT_MS);
    const settle = (s: 'ready' | 'ended') => () => {
      clearTimeout(timer);
      resolve(s);
    };
    redis.once('ready', settle('ready'));
    redis.once('end', settle('ended'));
  });
  if (state !== 'ready') {
    redis.disconnect();
    const why = [lastError === undefined ? 'no answer' : describeError(lastError), ...(state === 'late' ? [`gave up after ${REDIS_CONNECT_MS / 1000} s`] : [])];
    fail(`${command}: cannot reach Redis at ${redisAddress(config)} (${why.join(', ')})`, lastError);
  }
  return redis;
}

/** A Customer Profiles client for one-off admin calls (generous timeout, the SDK's retries). */
export function adminClient(config: Config) {
  if (!config.domain) fail('CUSTOMER_PROFILES_DOMAIN is not set: this command works on a Customer Profiles domain.');
  return {
    domain: config.domain,
    client: createAdminClient({ region: config.aws.region!, endpoint: config.aws.customerProfilesEndpoint }),
  };
}
