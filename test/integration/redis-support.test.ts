// The Redis test helpers must start (and clean up) their own servers: every check here talks only to servers
// started by test/support/redis.ts, never to a Redis already running on the machine.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RedisServer, freePort, useRedisCluster, useRedisServer } from '../support/redis.js';
import { until } from '../support/until.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function waitUntilGone(pid: number, timeoutMs = 3_000): Promise<boolean> {
  return until(`pid ${pid} to be gone`, () => !isAlive(pid), timeoutMs).then(
    () => true,
    () => false,
  );
}

/** The promise's rejection; fails if it resolves or takes longer than `timeoutMs`. */
async function rejection(promise: Promise<unknown>, timeoutMs = 3_000): Promise<Error> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([promise, timeout]);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('still pending')) throw err;
    return err as Error;
  } finally {
    clearTimeout(timer);
  }
  throw new Error('expected a rejection, the promise resolved');
}

describe('test support: redis', function () {
  this.slow(3_000);

  it('freePort() returns a bindable port other than 6379', async () => {
    const port = await freePort();
    expect(port).to.be.within(1024, 65_535);
    expect(port).to.not.equal(6379);
  });

  describe('RedisServer', () => {
    const redis = useRedisServer();
    // A failed test must not leave the shared server down for the next one.
    afterEach(async () => {
      if (!redis().running) await redis().restart();
    });

    it('starts its own redis-server that answers SET/GET', async () => {
      const server = redis();
      expect(server.port).to.not.equal(6379);
      expect(server.url).to.equal(`redis://127.0.0.1:${server.port}`);
      expect(server.pid).to.be.a('number');
      const client = server.client();
      try {
        expect(await client.set('greeting', 'hello')).to.equal('OK');
        expect(await client.get('greeting')).to.equal('hello');
        const info = await client.info('server');
        expect(info).to.include(`process_id:${server.pid}`);
        expect(info).to.include(`tcp_port:${server.port}`);
      } finally {
        client.disconnect();
      }
    });

    it('flush() empties only this server', async () => {
      const client = redis().client();
      try {
        await client.set('k', 'v');
        await redis().flush();
        expect(await client.dbsize()).to.equal(0);
      } finally {
        client.disconnect();
      }
    });

    it('kill() makes commands fail; restart() serves again on the same port', async () => {
      const server = redis();
      const port = server.port;
      const oldPid = server.pid!;
      // Fail fast while the server is down, reconnect on its own once it is back.
      const client = server.client({ maxRetriesPerRequest: 0, retryStrategy: () => 50 });
      try {
        await client.set('before-crash', '1');

        await server.kill();
        expect(isAlive(oldPid)).to.equal(false);
        expect(server.running).to.equal(false);
        expect(await rejection(client.get('before-crash'))).to.be.an('error');
        const fresh = server.client({ retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true });
        try {
          expect(await rejection(fresh.connect())).to.be.an('error');
        } finally {
          fresh.disconnect();
        }
        expect((await rejection(server.flush())).message).to.match(/not running/);

        await server.restart();
        expect(server.port).to.equal(port);
        expect(server.pid).to.be.a('number').and.not.equal(oldPid);
        expect(await client.ping()).to.equal('PONG');
        expect(await client.get('before-crash')).to.equal(null); // no persistence: a crash loses everything
        expect(await client.set('after-restart', '1')).to.equal('OK');
      } finally {
        client.disconnect();
      }
    });

    it('two servers get different ports and separate data; stop() kills the process and is idempotent', async () => {
      const first = redis();
      const second = await RedisServer.start();
      const pid = second.pid!;
      const dir = second.dir!;
      const a = first.client();
      const b = second.client();
      try {
        expect(second.port).to.not.equal(first.port);
        await a.set('owner', 'first');
        await b.set('owner', 'second');
        await second.flush();
        expect(await a.get('owner')).to.equal('first');
        expect(await b.get('owner')).to.equal(null);
      } finally {
        a.disconnect();
        b.disconnect();
        await second.stop();
      }
      expect(isAlive(pid)).to.equal(false);
      expect(existsSync(dir)).to.equal(false);
      await second.stop(); // idempotent

      // restart() after stop() comes back on the same port with a fresh directory.
      await second.restart();
      try {
        expect(second.pid).to.be.a('number').and.not.equal(pid);
        const c = second.client();
        try {
          expect(await c.ping()).to.equal('PONG');
        } finally {
          c.disconnect();
        }
      } finally {
        await second.stop();
      }
    });

    it('refuses to start on a port that is already taken, without connecting to it', async () => {
      const attempt = RedisServer.start({ port: redis().port });
      attempt.then((unexpected) => unexpected.stop()).catch(() => {});
      const err = await rejection(attempt);
      expect(err.message).to.match(/already in use/);
    });
  });

  describe('RedisCluster', () => {
    const cluster = useRedisCluster();

    it('has 3 masters covering all 16384 slots', async () => {
      const { nodes, seeds } = cluster();
      expect(nodes).to.have.length(3);
      expect(seeds).to.equal(nodes.map((n) => `127.0.0.1:${n.port}`).join(','));
      expect(nodes.map((n) => n.port)).to.not.include(6379);

      const direct = new Redis({ host: '127.0.0.1', port: nodes[0]!.port });
      try {
        const slots = await direct.cluster('SLOTS');
        const covered = slots.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
        expect(covered).to.equal(16_384);
        const masterPorts = new Set(slots.map(([, , master]) => master![1]));
        expect([...masterPorts].sort()).to.deep.equal(nodes.map((n) => n.port).sort());
        const info = await direct.cluster('INFO');
        expect(info).to.include('cluster_state:ok');
        expect(info).to.include('cluster_size:3');
      } finally {
        direct.disconnect();
      }
    });

    it('spreads different hash tags over the nodes, keeps {x} together for MULTI and Lua', async () => {
      const client = cluster().client();
      const direct = cluster().nodes.map((n) => new Redis({ host: n.host, port: n.port }));
      try {
        const tags = 'abcdefghijklmnopqrst'.split('');
        await Promise.all(tags.map((tag) => client.set(`{${tag}}:key`, tag)));
        await Promise.all(['1', '2', '3'].map((i) => client.set(`{x}:${i}`, i)));

        const keysPerNode = await Promise.all(direct.map((node) => node.keys('*')));
        for (const keys of keysPerNode) {
          expect(keys.filter((k) => !k.startsWith('{x}')), 'every master holds some tagged keys').to.not.be.empty;
        }
        const holdingX = keysPerNode.filter((keys) => keys.some((k) => k.startsWith('{x}')));
        expect(holdingX).to.have.length(1);
        expect([...holdingX[0]!.filter((k) => k.startsWith('{x}'))].sort()).to.deep.equal(['{x}:1', '{x}:2', '{x}:3']);

        const results = await client.multi().set('{x}:counter', '1').incr('{x}:counter').get('{x}:counter').exec();
        expect(results).to.deep.equal([
          [null, 'OK'],
          [null, 2],
          [null, '2'],
        ]);
        const script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1]) .. ':' .. redis.call('GET', KEYS[2])";
        expect(await client.eval(script, 2, '{x}:lua', '{x}:counter', 'ran')).to.equal('ran:2');
        // Keys in different slots in one script are refused by Redis Cluster.
        expect((await rejection(client.eval(script, 2, '{a}:lua', '{b}:lua', 'no'))).message).to.match(/CROSSSLOT/);
      } finally {
        client.disconnect();
        for (const node of direct) node.disconnect();
      }
    });

    it('flush() empties every master', async () => {
      const client = cluster().client();
      try {
        await Promise.all(['{a}', '{b}', '{c}', '{d}', '{e}'].map((tag) => client.set(`${tag}:k`, '1')));
        await cluster().flush();
        const sizes = await Promise.all(client.nodes('master').map((node) => node.dbsize()));
        expect(sizes).to.have.length(3);
        expect(sizes).to.deep.equal([0, 0, 0]);
      } finally {
        client.disconnect();
      }
    });

    // Runs last in this block: after() stops the cluster again, which must be a no-op.
    it('stop() leaves no process and no directory behind', async () => {
      const servers = cluster().servers;
      const pids = servers.map((s) => s.pid!);
      const dirs = servers.map((s) => s.dir!);
      expect(pids.every(isAlive)).to.equal(true);
      await cluster().stop();
      for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).to.throw().with.property('code', 'ESRCH');
      for (const dir of dirs) expect(existsSync(dir), dir).to.equal(false);
      await cluster().stop();
    });
  });

  it('a crashed test process leaves no redis-server behind (exit handler)', async function () {
    this.timeout(15_000);
    const script = [
      "import { RedisServer } from './test/support/redis.ts';",
      'const server = await RedisServer.start();',
      'console.log(JSON.stringify({ pid: server.pid, dir: server.dir }));',
      "setTimeout(() => { throw new Error('simulated crash'); }, 10);",
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let started: { pid: number; dir: string } | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      if (line.startsWith('{')) started = JSON.parse(line) as { pid: number; dir: string };
    }
    const code = await exited;
    expect(started, `child did not report a server; stderr:\n${stderr}`).to.not.equal(undefined);
    expect(code).to.not.equal(0);
    expect(stderr).to.include('simulated crash');
    // The orphaned (SIGKILLed) server is reaped by init; allow it a moment.
    expect(await waitUntilGone(started!.pid), `redis-server pid ${started!.pid} survived its parent`).to.equal(true);
    expect(existsSync(started!.dir)).to.equal(false);
  });
});
