// REDIS_COMMAND_TIMEOUT_MS measures Redis, not the event loop: a reply that reached the socket while the
// process was busy (synchronous work longer than the timeout) answers its command; a Redis that does not
// answer still fails the command about REDIS_COMMAND_TIMEOUT_MS after it was sent.
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { createRedisClient, type RedisClient, type RedisEndpoint } from '../../src/redis/client.js';
import { useRedisCluster, useRedisServer, type RedisServer } from '../support/redis.js';
import { until } from '../support/until.js';

const TIMEOUT_MS = 100;
const COMMANDS = 20;
// the most a timed-out command may take past the timeout on a loaded CI machine
const SLACK_MS = 400;

/** Keeps the event loop busy for `ms`: no timer, no socket read can run meanwhile. */
function stallEventLoop(ms: number): number {
  const start = performance.now();
  while (performance.now() - start < ms) {
    // busy: the synchronous work of a request under CPU load
  }
  return performance.now() - start;
}

/** The state client for `redis` (as the service builds it), ready for `keys`. */
async function stateClient(redis: RedisEndpoint, keys: string[]): Promise<RedisClient> {
  return ready(createRedisClient({ redis, redisCommandTimeoutMs: TIMEOUT_MS }, 'state')!, keys);
}

/** `client` connected and, on a cluster, with the connection to the master of every key open. */
async function ready(client: RedisClient, keys: string[]): Promise<RedisClient> {
  client.on('error', () => {});
  if (client.status !== 'ready') await once(client, 'ready');
  // a cluster's node connections open on their first command (which fails: no offline queue)
  await until('every key to be writable', async () => {
    const outcomes = await Promise.allSettled(keys.map((k) => client.set(k, 'warm')));
    return outcomes.every((o) => o.status === 'fulfilled');
  });
  return client;
}

/** Sends one SET per key, then stalls the event loop for `stallMs` before any reply can be read. */
async function sendThenStall(client: RedisClient, keys: string[], stallMs: number): Promise<{ stalledMs: number; timedOut: number; answered: number }> {
  const sent = keys.map((k) => client.set(k, 'v').then(
    () => 'answered' as const,
    (err: Error) => (err.message === 'Command timed out' ? ('timed out' as const) : err.message),
  ));
  const stalledMs = stallEventLoop(stallMs);
  const outcomes = await Promise.all(sent);
  const timedOut = outcomes.filter((o) => o === 'timed out').length;
  const answered = outcomes.filter((o) => o === 'answered').length;
  expect(timedOut + answered, `outcomes: ${outcomes.join(', ')}`).to.equal(keys.length);
  return { stalledMs, timedOut, answered };
}

/** How long one command to a Redis that does not answer takes to fail, and with what. */
async function failureOfUnansweredCommand(client: RedisClient, key: string): Promise<{ ms: number; error: string }> {
  const start = performance.now();
  const error = await client.set(key, 'unanswered').then(
    (reply) => `answered ${String(reply)}`,
    (err: Error) => err.message,
  );
  return { ms: performance.now() - start, error };
}

/**
 * CLIENT PAUSE WRITE on `servers` for as long as `run` takes: they take write commands and answer none
 * (PAUSE ALL would hold the CLIENT UNPAUSE that ends it too).
 */
async function whilePaused<T>(servers: readonly RedisServer[], run: () => Promise<T>): Promise<T> {
  const admins = servers.map((s) => s.client());
  try {
    await Promise.all(admins.map((a) => a.call('CLIENT', 'PAUSE', '10000', 'WRITE')));
    return await run();
  } finally {
    await Promise.all(admins.map((a) => a.call('CLIENT', 'UNPAUSE')));
    for (const a of admins) a.disconnect();
  }
}

const keys = Array.from({ length: COMMANDS }, (_, i) => `timeout-test:${i}`);

describe('the state client\'s command timeout (REDIS_COMMAND_TIMEOUT_MS)', function () {
  this.timeout(60_000);

  describe('on a single Redis', () => {
    const server = useRedisServer();
    let client: RedisClient;
    before(async () => {
      client = await stateClient({ mode: 'single', url: server().url }, keys);
    });
    after(() => client.disconnect());

    it(`when the event loop stalls ${TIMEOUT_MS * 1.5} ms right after ${COMMANDS} commands are sent, every command is answered: the replies were in the socket`, async () => {
      const { stalledMs, timedOut, answered } = await sendThenStall(client, keys, TIMEOUT_MS * 1.5);

      console.log(`        single: stalled ${stalledMs.toFixed(0)} ms after sending ${COMMANDS}: ${timedOut} timed out, ${answered} answered`);
      expect(stalledMs).to.be.at.least(TIMEOUT_MS * 1.5);
      expect(timedOut, 'commands that timed out').to.equal(0);
      expect(await client.mget(keys)).to.deep.equal(keys.map(() => 'v'));
    });

    it(`when Redis does not answer (CLIENT PAUSE), a write still fails with "Command timed out" about ${TIMEOUT_MS} ms after it was sent`, async () => {
      const { ms, error } = await whilePaused([server()], () => failureOfUnansweredCommand(client, keys[0]!));

      console.log(`        single: unanswered command failed after ${ms.toFixed(0)} ms`);
      expect(error).to.equal('Command timed out');
      expect(ms).to.be.within(TIMEOUT_MS * 0.9, TIMEOUT_MS + SLACK_MS);
    });

    it('when Redis does not answer and the event loop stalls past the timeout, the commands fail once the loop resumes', async () => {
      const { timedOut } = await whilePaused([server()], () => sendThenStall(client, keys, TIMEOUT_MS * 1.5));

      expect(timedOut, 'commands that timed out').to.equal(COMMANDS);
    });

    it('leaves no timer behind once its commands are answered (ioredis clears ours as its own: a timer left to fire cost a third more CPU a command)', async () => {
      const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = timers();

      await Promise.all(keys.map((k) => client.get(k)));

      // 20 left to fire if ioredis did not clear them; other timers of the process come and go meanwhile
      expect(timers() - before, 'timers left').to.be.below(COMMANDS / 4);
    });

    it('a duplicate() of the client has the same timeout: answered after a stall, failed when Redis does not answer', async () => {
      const copy = await ready(client.duplicate(), keys);
      try {
        const { timedOut } = await sendThenStall(copy, keys, TIMEOUT_MS * 1.5);
        const { ms, error } = await whilePaused([server()], () => failureOfUnansweredCommand(copy, keys[0]!));

        expect(timedOut, 'commands that timed out after the stall').to.equal(0);
        expect(error).to.equal('Command timed out');
        expect(ms).to.be.within(TIMEOUT_MS * 0.9, TIMEOUT_MS + SLACK_MS);
      } finally {
        copy.disconnect();
      }
    });
  });

  // On a cluster the timeout is ioredis' own, on each node's connection (src/redis/client.ts says why): a
  // stall can still fail commands whose replies had come. What holds is the bound on an unanswered one.
  describe('on a 3-master Redis Cluster', () => {
    const cluster = useRedisCluster({ masters: 3 });
    let client: RedisClient;
    before(async () => {
      client = await stateClient({ mode: 'cluster', nodes: cluster().nodes, password: undefined, tls: false }, keys);
    });
    after(() => client.disconnect());

    it(`when the masters do not answer (CLIENT PAUSE), a write still fails with "Command timed out" about ${TIMEOUT_MS} ms after it was sent`, async () => {
      const { ms, error } = await whilePaused(cluster().servers, () => failureOfUnansweredCommand(client, keys[0]!));

      console.log(`        cluster: unanswered command failed after ${ms.toFixed(0)} ms`);
      expect(error).to.equal('Command timed out');
      expect(ms).to.be.within(TIMEOUT_MS * 0.9, TIMEOUT_MS + SLACK_MS);
    });
  });
});
