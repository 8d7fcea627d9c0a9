import { createHash } from 'node:crypto';
import { Cluster, Redis, ReplyError, type ClusterOptions, type RedisOptions } from 'ioredis';
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

/**
 * A Redis client that fails fast: no offline queue and no per-command retries, a short command
 * timeout, and reconnection in the background forever. A dead Redis costs a request milliseconds
 * (the command is refused at once), never its deadline; when Redis returns, the client reconnects
 * and the service uses it again without a restart.
 */
export function createRedisClient(config: RedisSettings, purpose: 'state' | 'worker' | 'command' = 'state'): RedisClient | undefined {
  // The record worker blocks on Redis to wait for jobs: BullMQ needs it to queue and retry commands
  // while reconnecting, with no command timeout. It is off the hot path.
  const forWorker: RedisOptions = { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined };
  // An operator command (npm run dead-letters) gives up instead: a few reconnections, then the client
  // ends and every command waiting on it fails, so the command ends with an error rather than hanging.
  const forCommand: RedisOptions = { maxRetriesPerRequest: 1, commandTimeout: COMMAND_TIMEOUT_MS, retryStrategy: commandRetries };
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.redisCommandTimeoutMs,
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
  if (r.mode === 'single') return new Redis(r.url, common);
  if (r.mode === 'cluster') {
    const options: ClusterOptions = {
      enableOfflineQueue: purpose === 'worker',
      clusterRetryStrategy: purpose === 'command' ? commandRetries : (times: number) => Math.min(50 * 2 ** times, 2000),
      slotsRefreshTimeout: 1000,
      redisOptions: {
        ...common,
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
