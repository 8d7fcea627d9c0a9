import { createHash } from 'node:crypto';
import { Cluster, Redis, ReplyError, type ClusterOptions, type Command, type RedisOptions } from 'ioredis';
import type { Logger } from '../ops/logger.js';

export type RedisClient = Redis | Cluster;

/** Where the service's Redis is (REDIS_URL, or REDIS_CLUSTER_NODES and its options), if anywhere. */
export type RedisEndpoint =
  | { mode: 'none' }
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: Array<{ host: string; port: number }>; password: string | undefined; tls: boolean };

export interface RedisSettings {
  redis: RedisEndpoint;
  /** the state client's command timeout (REDIS_COMMAND_TIMEOUT_MS) */
  redisCommandTimeoutMs: number;
}

// An operator command's Redis: the most one command may take (BullMQ's scripts over a long list of
// dead letters take more than the hot path's REDIS_COMMAND_TIMEOUT_MS), and its reconnections: three,
// then the client ends.
const COMMAND_TIMEOUT_MS = 10_000;
const commandRetries = (times: number) => (times > 3 ? null : 200 * times);

/** Where a client connects, for a message: host:port of each node, never the URL's credentials. */
export function redisAddress(config: Pick<RedisSettings, 'redis'>): string {
  const r = config.redis;
  if (r.mode === 'cluster') return r.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (r.mode === 'single') {
    const u = new URL(r.url);
    return `${u.hostname}:${u.port || 6379}`;
  }
  return 'none';
}

// ioredis' own commandTimeout rejects from a timer, and Node runs due timers before it reads the
// sockets: after a stall of the event loop longer than the timeout (synchronous work under CPU load),
// every command sent before it failed though its reply was already in the socket (issue 25: 20 of 20
// under a 150 ms stall, REDIS_COMMAND_TIMEOUT_MS 100). Ours waits one turn of the loop before it
// rejects: the poll phase, which reads the replies that came, runs before setImmediate callbacks. A
// command then fails only if Redis did not answer within the timeout, measured up to the first time
// the process could look.
const COMMAND_TIMED_OUT = 'Command timed out'; // ioredis' message (Command#setTimeout), kept for the logs

// ioredis 5.11.1 (built/Command.js): the command's timer lives in its private `_commandTimeoutTimer`,
// which Command#setTimeout arms once per command and `_clearTimers` clears and deletes when the command
// resolves or is rejected. Ours goes in that slot so that ioredis clears it as it clears its own. Left
// to fire, every command's timer and the command it holds outlived the young generation: 16.1-17.9 µs
// of CPU a command against 12.0-12.9 with ioredis' own timeout and 11.2-15.4 with ours in the slot (50
// GETs at a time to a local Redis, 5 runs each, one session). Should a later ioredis drop the slot, the
// timer still fires, finds the command resolved and does nothing: right, only dearer (the test
// "leaves no timer behind" in test/integration/redis-command-timeout.test.ts tells).
interface TimerSlot {
  _commandTimeoutTimer?: NodeJS.Timeout;
}
const slot = (command: Command): TimerSlot => command as unknown as TimerSlot;

function timeCommand(command: Command, ms: number): void {
  // once per command, as ioredis: a command sent again (after a reconnection) keeps its first deadline;
  // `command` as the timer's argument, not in a closure: one allocation, as ioredis' own timer
  slot(command)._commandTimeoutTimer ??= setTimeout(lookAfterReplies, ms, command);
}

function lookAfterReplies(command: Command): void {
  if (!command.isResolved) setImmediate(rejectUnanswered, command);
}

function rejectUnanswered(command: Command): void {
  // answered in the turn it waited, or failed otherwise meanwhile: ioredis has cleared the slot
  if (!command.isResolved && slot(command)._commandTimeoutTimer) command.reject(new Error(COMMAND_TIMED_OUT));
}

/** A single Redis whose command timeout counts Redis' time, not the event loop's (see timeCommand). */
class TimedRedis extends Redis {
  constructor(commandTimeoutMs: number, url: string, options: RedisOptions);
  constructor(commandTimeoutMs: number, options: RedisOptions);
  constructor(
    private readonly commandTimeoutMs: number,
    urlOrOptions: string | RedisOptions,
    options?: RedisOptions,
  ) {
    // Redis' own two forms, (url, options) and (options), in one call (it skips an undefined argument)
    super(urlOrOptions as string, options as RedisOptions);
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    timeCommand(command, this.commandTimeoutMs);
    return super.sendCommand(command, stream);
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    return new TimedRedis(this.commandTimeoutMs, { ...this.options, ...override });
  }
}

/**
 * A Redis client that fails fast: no offline queue and no per-command retries, a short command
 * timeout, and reconnection in the background forever. A dead Redis costs a request milliseconds
 * (the command is refused at once), never its deadline; when Redis returns, the client reconnects
 * and the service uses it again without a restart.
 */
export function createRedisClient(config: RedisSettings, purpose: 'state' | 'worker' | 'command' = 'state'): RedisClient | undefined {
  // The record worker blocks on Redis to wait for jobs: BullMQ needs it to queue and retry commands
  // while reconnecting, with no command timeout. It is off the hot path.
  const forWorker: RedisOptions = { enableOfflineQueue: true, maxRetriesPerRequest: null };
  // An operator command (npm run dead-letters) gives up instead: a few reconnections, then the client
  // ends and every command waiting on it fails, so the command ends with an error rather than hanging.
  const forCommand: RedisOptions = { maxRetriesPerRequest: 1, retryStrategy: commandRetries };
  // a single Redis' command timeout is ours (TimedRedis), never ioredis' commandTimeout; a cluster's is ioredis' (below)
  const timeoutMs = purpose === 'worker' ? undefined : purpose === 'command' ? COMMAND_TIMEOUT_MS : config.redisCommandTimeoutMs;
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2000),
    // READONLY: this connection reaches a primary demoted in a failover. The answer is definite for the
    // command (it did not run: isErrorReply), but not for the connection: the endpoint's name now leads
    // to the promoted primary, and only a new connection goes there (ioredis README, reconnectOnError,
    // for ElastiCache failovers that keep the old primary's connections open). 1: reconnect without
    // sending the command again; the service has already decided what to do without it.
    reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 1 : false),
    ...(purpose === 'worker' ? forWorker : purpose === 'command' ? forCommand : {}),
    enableReadyCheck: true,
    // No auto-pipelining: a request's reads are one MGET and its writes one command each, issued
    // together, so batching had little to merge, and it deferred every command to the next
    // setImmediate (a turn of the event loop) through a pipeline object. Measured without it, same
    // run (docs/performance.md): cache hit 0.567 against 0.632 ms of CPU a request, 2014 against 1929
    // req/s; known caller, cold cache, 2.1 against 3.9 ms above the SDK call.
  };
  const r = config.redis;
  if (r.mode === 'single') return timeoutMs === undefined ? new Redis(r.url, common) : new TimedRedis(timeoutMs, r.url, common);
  if (r.mode === 'cluster') {
    const options: ClusterOptions = {
      enableOfflineQueue: purpose === 'worker',
      clusterRetryStrategy: purpose === 'command' ? commandRetries : (times: number) => Math.min(50 * 2 ** times, 2000),
      slotsRefreshTimeout: 1000,
      redisOptions: {
        ...common,
        // A cluster's commands keep ioredis' own timeout, on each node's connection: timed at the Cluster
        // (as TimedRedis), a replica's first command to a node counted the node's lazy connection and its
        // ready check, and in full test runs the first writes of new replicas failed under load. So on a
        // cluster a stall of the event loop longer than the timeout can still fail commands whose replies
        // had come (docs/shared-state.md).
        commandTimeout: timeoutMs,
        ...(r.password ? { password: r.password } : {}),
        ...(r.tls ? { tls: {} } : {}),
      },
    };
    if (r.tls) {
      // ioredis README, "Special Note: Aws Elasticache Clusters with TLS": "If you use this, you may
      // encounter errors with invalid certificates. To resolve this issue, construct the `Cluster`
      // with the `dnsLookup` option as follows: dnsLookup: (address, callback) => callback(null,
      // address)". Without it the client resolves the seeds' hostnames to IP addresses and connects
      // to those, and the certificate (issued for the hostnames) does not match.
      options.dnsLookup = (address, callback) => callback(null, address);
    }
    return new Cluster(r.nodes, options);
  }
  return undefined;
}

/**
 * Reports Redis failures without flooding the log: the first failure of an outage, then a count at
 * most every 10 s. Callers treat a failure as a miss and carry on.
 */
export class RedisHealth {
  private failures = 0;
  private lastLog = 0;
  lastError: string | undefined;
  lastErrorAt = 0;

  constructor(
    private readonly logger: Logger,
    private readonly onError: (operation: string) => void = () => {},
  ) {}

  failed(operation: string, err: unknown): void {
    this.failures++;
    this.lastError = (err as Error)?.message ?? String(err);
    this.lastErrorAt = Date.now();
    this.onError(operation);
    if (this.lastErrorAt - this.lastLog > 10_000) {
      this.logger.warn({ operation, failures: this.failures, err: this.lastError }, 'Redis failing: answering without it');
      this.lastLog = this.lastErrorAt;
      this.failures = 0;
    }
  }

  /** Runs a Redis operation; on failure reports it and returns the fallback. */
  async safely<T>(operation: string, run: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run();
    } catch (err) {
      this.failed(operation, err);
      return fallback;
    }
  }
}

/**
 * Whether Redis answered a failed command with an error reply: OOM (out of memory under `noeviction`,
 * what ElastiCache does when full), READONLY (a replica during a failover), LOADING, BUSY, CLUSTERDOWN,
 * WRONGTYPE, a script's error, or MOVED/ASK redirections that ran out. That is a definite answer: the
 * command did not run, or ended at the error (a script meets OOM and READONLY at its first write,
 * before it has changed anything: Redis refuses a script a write for memory only while it has written
 * nothing), and asking again at once gets the same answer. The other
 * failures are replies that never came (the command timed out, the connection dropped, or the client
 * refused to send it): the command may have run, or may still run, and only asking again later can tell.
 * Each place that decides between the two says why (docs/shared-state.md, "When Redis is down, slow,
 * full or failing over").
 */
export function isErrorReply(err: unknown): boolean {
  if (err instanceof ReplyError) return true;
  // ioredis' Cluster gives up on redirections with a plain Error that names the last MOVED/ASK reply
  return err instanceof Error && err.message.startsWith('Too many Cluster redirections');
}

/** A Lua script run by its SHA1 (EVALSHA), loaded on first use or after a Redis restart (NOSCRIPT). */
export class RedisScript {
  private readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err as Error).message?.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** RELEASE_LEASE (KEYS lease; ARGV token): deletes a lease (a key holding its holder's random token) if it is still ours. -> 1 | 0 */
export const RELEASE_LEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
