// Throw-away Redis servers and clusters for tests.
//
// Every server is a `redis-server` child process started by this module on a free port, with its own temporary
// directory, no persistence and bound to 127.0.0.1 only. Nothing here ever connects to a Redis it did not start:
// ports are checked free before spawning, readiness is confirmed by matching INFO's process_id against the child's
// pid, and FLUSHALL is only sent while our child is alive (and therefore still owns the port).
//
// A process 'exit' handler (plus SIGTERM/SIGHUP) SIGKILLs any server still alive and removes its directory, so a
// crashed run leaves no orphans. (A SIGKILLed test runner cannot clean up; its servers must be killed by hand.)
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;
const CLUSTER_TIMEOUT_MS = 20_000;
const CLUSTER_BUS_OFFSET = 10_000;
const OUTPUT_TAIL_BYTES = 8 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Global bookkeeping: everything alive is killed when the test process exits.

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
/** Ports (server and cluster-bus) held by servers of this process, so concurrent picks never collide. */
const reservedPorts = new Set<number>();

function killEverything(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  liveDirs.clear();
}

process.on('exit', killEverything);
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  const onSignal = (): void => {
    killEverything();
    process.off(signal, onSignal);
    // Keep the default behaviour (terminate) unless somebody else handles the signal.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}

// ---------------------------------------------------------------------------------------------------------------
// Binaries

const binaries = new Map<string, string>();

export function findBinary(name: 'redis-server' | 'redis-cli'): string {
  const cached = binaries.get(name);
  if (cached) return cached;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      binaries.set(name, candidate);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new Error(
    `\`${name}\` is not on PATH; the Redis tests start their own servers. ` +
      'Install it (apt-get install redis-server redis-tools) or run `.ci/run`, which installs it.',
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Ports

/** A port that is free on 127.0.0.1 right now: listen on port 0, read the port, close. */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: HOST, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: HOST, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A free port P (not reserved by us); with `bus`, P + 10000 must be free too (Redis Cluster bus port). */
async function pickPort(bus: boolean): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await freePort();
    if (reservedPorts.has(port)) continue;
    if (bus) {
      const busPort = port + CLUSTER_BUS_OFFSET;
      if (busPort > 65_535 || reservedPorts.has(busPort) || !(await isPortFree(busPort))) continue;
      if (reservedPorts.has(port)) continue; // taken by a concurrent pick meanwhile
      reservedPorts.add(busPort);
    }
    reservedPorts.add(port);
    return port;
  }
  throw new Error(`could not find a free port${bus ? ` P with P+${CLUSTER_BUS_OFFSET} free` : ''}`);
}

// ---------------------------------------------------------------------------------------------------------------
// A minimal RESP client (one command per connection) for readiness checks, INFO and FLUSHALL, so the helpers never
// depend on a client library's reconnect logic.

/** A RESP2 reply: simple/bulk string, integer, nil or array. */
type Resp = string | number | null | Resp[];

class RespError extends Error {}

function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

/** Parses one RESP2 value at `offset`; undefined if the buffer does not hold all of it yet. */
function parseResp(buf: Buffer, offset: number): { value: Resp | RespError; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buf.length < afterLine + length + 2) return undefined;
      return { value: buf.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: Resp[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buf, next);
        if (!item) return undefined;
        if (item.value instanceof RespError) return item;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

async function sendCommand(port: number, args: readonly string[], timeoutMs = 1_000): Promise<Resp> {
  return new Promise<Resp>((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const socket = net.createConnection({ host: HOST, port });
    const finish = (err: Error | undefined, value?: Resp): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    const timer = setTimeout(() => finish(new Error(`${args[0]} to ${HOST}:${port} timed out`)), timeoutMs);
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(new Error(`connection to ${HOST}:${port} closed before a reply`)));
    socket.once('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let parsed;
      try {
        parsed = parseResp(buffer, 0);
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (!parsed) return;
      if (parsed.value instanceof RespError) finish(parsed.value);
      else finish(undefined, parsed.value);
    });
  });
}

/** Parses `key:value` lines of INFO / CLUSTER INFO. */
function parseInfo(text: Resp): Map<string, string> {
  const fields = new Map<string, string>();
  if (typeof text !== 'string') return fields;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// Child process helpers

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true when the child has exited (and been reaped), false after `timeoutMs`. */
async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Signals the child and waits for it; escalates to SIGKILL after STOP_GRACE_MS. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (!hasExited(child)) {
    child.kill(signal);
    if (!(await waitForExit(child, signal === 'SIGKILL' ? 10_000 : STOP_GRACE_MS))) {
      child.kill('SIGKILL');
      await waitForExit(child, 10_000);
    }
  }
  liveChildren.delete(child);
}

// ---------------------------------------------------------------------------------------------------------------

let startClusterNode: (args: string[]) => Promise<RedisServer>;
let commandWhileRunning: (server: RedisServer, args: readonly string[], timeoutMs: number) => Promise<Resp>;

export interface RedisServerOptions {
  /** Fixed port; default: a free one (retried on a lost race). */
  port?: number;
  /** Extra `redis-server` arguments, appended after the defaults (so they can override them). */
  args?: string[];
}

/** One `redis-server` child process on 127.0.0.1, no persistence, in its own temporary directory. */
export class RedisServer {
  readonly port: number;
  readonly url: string;
  readonly #args: readonly string[];
  readonly #bus: boolean;
  #dir: string | undefined;
  #child: ChildProcess | undefined;
  #output = '';
  #stopping: Promise<void> | undefined;

  private constructor(port: number, args: readonly string[], dir: string, bus: boolean) {
    this.port = port;
    this.url = `redis://${HOST}:${port}`;
    this.#args = args;
    this.#dir = dir;
    this.#bus = bus;
  }

  static {
    // Module-internal access for RedisCluster without widening the public API.
    startClusterNode = (args) => RedisServer.#start({ args }, true);
    commandWhileRunning = (server, args, timeoutMs) => {
      server.#assertRunning(args[0] ?? 'command');
      return sendCommand(server.port, args, timeoutMs);
    };
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    return RedisServer.#start(options, false);
  }

  static async #start(options: RedisServerOptions, bus: boolean): Promise<RedisServer> {
    findBinary('redis-server');
    const attempts = options.port === undefined ? 3 : 1;
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await pickPort(bus));
      const dir = await mkdtemp(path.join(os.tmpdir(), `redis-test-${port}-`));
      liveDirs.add(dir);
      const server = new RedisServer(port, options.args ?? [], dir, bus);
      try {
        await server.#launch();
        return server;
      } catch (err) {
        await server.stop();
        // Another process can grab a free port between the pick and the bind; pick again.
        if (attempt < attempts && /address already in use/i.test(String(err))) continue;
        throw err;
      }
    }
  }

  /** Pid of the running redis-server, undefined when it is not running. */
  get pid(): number | undefined {
    return this.#child && !hasExited(this.#child) ? this.#child.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  /** Temporary directory (dump/nodes.conf), undefined after stop(). */
  get dir(): string | undefined {
    return this.#dir;
  }

  async #launch(): Promise<void> {
    const ports = this.#bus ? [this.port, this.port + CLUSTER_BUS_OFFSET] : [this.port];
    for (const port of ports) {
      if (!(await isPortFree(port))) {
        throw new Error(`cannot start redis-server: ${HOST}:${port} is already in use (address already in use)`);
      }
    }
    if (!this.#dir) {
      this.#dir = await mkdtemp(path.join(os.tmpdir(), `redis-test-${this.port}-`));
      liveDirs.add(this.#dir);
    }
    const args = [
      '--port', String(this.port),
      '--bind', HOST,
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.#dir,
      '--protected-mode', 'no',
      '--loglevel', 'warning',
      ...this.#args,
    ];
    this.#output = '';
    const child = spawn(findBinary('redis-server'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    this.#stopping = undefined;
    liveChildren.add(child);
    for (const port of ports) reservedPorts.add(port);
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
    });
    child.once('exit', () => liveChildren.delete(child));

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (spawnError || hasExited(child)) {
        // Let the pipes drain so the error carries redis-server's last words.
        await new Promise<void>((resolve) => {
          child.once('close', () => resolve());
          setTimeout(resolve, 200);
        });
        const how = spawnError
          ? spawnError.message
          : `exited with ${child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode}`;
        await terminate(child, 'SIGKILL');
        throw new Error(`redis-server on port ${this.port} ${how} before answering PING\n${this.#output}`);
      }
      if (await this.#answersAsUs(child)) return;
      if (Date.now() > deadline) {
        await terminate(child, 'SIGKILL');
        throw new Error(`redis-server on port ${this.port} did not answer PING within ${START_TIMEOUT_MS} ms\n${this.#output}`);
      }
      await sleep(25);
    }
  }

  /** PING answers and INFO's process_id is our child's pid (never mistake someone else's Redis for ours). */
  async #answersAsUs(child: ChildProcess): Promise<boolean> {
    try {
      if ((await sendCommand(this.port, ['PING'], 500)) !== 'PONG') return false;
      const info = parseInfo(await sendCommand(this.port, ['INFO', 'server'], 500));
      const pid = Number(info.get('process_id'));
      if (pid !== child.pid) {
        throw new Error(`port ${this.port} is answered by redis pid ${pid}, not by our redis-server (pid ${child.pid})`);
      }
      return true;
    } catch (err) {
      if (err instanceof Error && err.message.includes('not by our redis-server')) {
        await terminate(child, 'SIGKILL');
        throw err;
      }
      return false; // not listening yet / still loading
    }
  }

  /** SIGTERM, wait (SIGKILL after 3 s), remove the temporary directory. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const child = this.#child;
      if (child) await terminate(child, 'SIGTERM');
      this.#releasePorts();
      const dir = this.#dir;
      this.#dir = undefined;
      if (dir) {
        await rm(dir, { recursive: true, force: true });
        liveDirs.delete(dir);
      }
    })();
    return this.#stopping;
  }

  /** SIGKILL and wait for the exit (simulates a crash). Keeps the directory, so restart() works. */
  async kill(): Promise<void> {
    if (this.#child) await terminate(this.#child, 'SIGKILL');
  }

  /** Starts again on the same port (after stop() or kill(); a running server is SIGTERMed first); waits for PING. */
  async restart(): Promise<void> {
    if (this.#child) await terminate(this.#child, 'SIGTERM');
    this.#releasePorts();
    await this.#launch();
  }

  /** FLUSHALL on this server only. */
  async flush(): Promise<void> {
    this.#assertRunning('flush');
    await sendCommand(this.port, ['FLUSHALL'], 5_000);
  }

  /** A new ioredis client to this server; the caller quits it. Connection errors go to a no-op 'error' listener
   * (commands still reject), so a killed server does not spam the test output. */
  client(options: RedisOptions = {}): Redis {
    const client = new Redis({ host: HOST, port: this.port, ...options });
    client.on('error', () => {});
    return client;
  }

  /** Recent stdout/stderr of the server (last few KB). */
  get output(): string {
    return this.#output;
  }

  #assertRunning(what: string): void {
    if (!this.running) throw new Error(`${what}: redis-server on port ${this.port} is not running`);
  }

  #releasePorts(): void {
    reservedPorts.delete(this.port);
    reservedPorts.delete(this.port + CLUSTER_BUS_OFFSET);
  }
}

// ---------------------------------------------------------------------------------------------------------------

export interface RedisClusterOptions {
  /** Number of masters (at least 3, which redis-cli requires); no replicas. Default 3. */
  masters?: number;
}

/** A Redis Cluster of N masters and no replicas, each a RedisServer with its own port, bus port and directory. */
export class RedisCluster {
  readonly servers: readonly RedisServer[];
  readonly nodes: Array<{ host: string; port: number }>;
  /** "127.0.0.1:P1,127.0.0.1:P2,..." (the REDIS_CLUSTER_NODES format). */
  readonly seeds: string;
  #stopping: Promise<void> | undefined;

  private constructor(servers: RedisServer[]) {
    this.servers = servers;
    this.nodes = servers.map((s) => ({ host: HOST, port: s.port }));
    this.seeds = this.nodes.map((n) => `${n.host}:${n.port}`).join(',');
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    if (!Number.isInteger(masters) || masters < 3) {
      throw new Error(`RedisCluster needs at least 3 masters (redis-cli --cluster create refuses fewer), got ${masters}`);
    }
    findBinary('redis-cli');
    const started = await Promise.allSettled(
      Array.from({ length: masters }, () =>
        startClusterNode([
          '--cluster-enabled', 'yes',
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', '2000',
        ]),
      ),
    );
    const servers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const cluster = new RedisCluster(servers);
    try {
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await cluster.#create();
      await cluster.#waitUntilReady(Date.now() + CLUSTER_TIMEOUT_MS);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  async #create(): Promise<void> {
    const args = [
      '--cluster', 'create',
      ...this.nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas', '0',
      '--cluster-yes',
    ];
    await new Promise<void>((resolve, reject) => {
      execFile(findBinary('redis-cli'), args, { timeout: CLUSTER_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
        // redis-cli reports some failures ("[ERR] ...") with exit code 0.
        const output = `${stdout}${stderr}`;
        if (err || /\[ERR\]|ERROR/.test(output)) {
          reject(new Error(`redis-cli --cluster create failed${err ? `: ${err.message}` : ''}\n${output.slice(-OUTPUT_TAIL_BYTES)}`));
        } else resolve();
      });
    });
  }

  /** Every node: cluster_state:ok, all 16384 slots assigned and every node known. */
  async #waitUntilReady(deadline: number): Promise<void> {
    let last = '';
    for (;;) {
      const states = await Promise.all(
        this.servers.map(async (server) => {
          try {
            const info = parseInfo(await commandWhileRunning(server, ['CLUSTER', 'INFO'], 1_000));
            const ok =
              info.get('cluster_state') === 'ok' &&
              info.get('cluster_slots_assigned') === '16384' &&
              info.get('cluster_known_nodes') === String(this.servers.length);
            return { ok, text: `${server.port}: state=${info.get('cluster_state')} slots=${info.get('cluster_slots_assigned')} known=${info.get('cluster_known_nodes')}` };
          } catch (err) {
            return { ok: false, text: `${server.port}: ${String(err)}` };
          }
        }),
      );
      if (states.every((s) => s.ok)) return;
      last = states.map((s) => s.text).join('; ');
      if (Date.now() > deadline) throw new Error(`cluster not ready within ${CLUSTER_TIMEOUT_MS} ms: ${last}`);
      await sleep(50);
    }
  }

  /** A new ioredis Cluster client; the caller quits it. Connection errors go to a no-op 'error' listener. */
  client(options: ClusterOptions = {}): Cluster {
    const client = new Cluster(this.nodes.map((n) => ({ ...n })), options);
    client.on('error', () => {});
    return client;
  }

  /** FLUSHALL on every (running) master. */
  async flush(): Promise<void> {
    await Promise.all(
      this.servers.map(async (server) => {
        const role = await commandWhileRunning(server, ['ROLE'], 2_000);
        if (Array.isArray(role) && role[0] === 'master') await commandWhileRunning(server, ['FLUSHALL'], 5_000);
      }),
    );
  }

  /** Stops every node and removes their directories. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping ??= Promise.all(this.servers.map((s) => s.stop())).then(() => undefined);
    return this.#stopping;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// mocha helpers

/** Starts one RedisServer in before() and stops it in after(); returns a getter for use inside tests. */
export function useRedisServer(options: RedisServerOptions = {}): () => RedisServer {
  let server: RedisServer | undefined;
  before(async function () {
    this.timeout(START_TIMEOUT_MS * 3 + 5_000);
    server = await RedisServer.start(options);
  });
  after(async function () {
    this.timeout(STOP_GRACE_MS + 15_000);
    await server?.stop();
    server = undefined;
  });
  return () => {
    if (!server) throw new Error('useRedisServer(): the server exists only between before() and after()');
    return server;
  };
}

/** Starts one RedisCluster in before() and stops it in after(); returns a getter for use inside tests. */
export function useRedisCluster(options: RedisClusterOptions = {}): () => RedisCluster {
  let cluster: RedisCluster | undefined;
  before(async function () {
    this.timeout(START_TIMEOUT_MS * 3 + CLUSTER_TIMEOUT_MS * 2 + 5_000);
    cluster = await RedisCluster.start(options);
  });
  after(async function () {
    this.timeout(STOP_GRACE_MS + 15_000);
    await cluster?.stop();
    cluster = undefined;
  });
  return () => {
    if (!cluster) throw new Error('useRedisCluster(): the cluster exists only between before() and after()');
    return cluster;
  };
}
