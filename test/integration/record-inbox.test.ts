import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Sealer } from '../../src/redis/seal.js';
import { createLogger } from '../../src/ops/logger.js';
import type { RecordJob } from '../../src/records/job.js';
import { LocalRecordQueue } from '../../src/records/local-queue.js';
import { Pacer } from '../../src/records/pacer.js';
import { openRecordQueue, RedisRecordQueue } from '../../src/records/redis-queue.js';
import { RecordWriter } from '../../src/records/writer.js';
import { useRedisServer } from '../support/redis.js';
import { DelayingProxy } from '../support/tcp-proxy.js';
import { until } from '../support/until.js';

// The record inbox (src/records/redis-queue.ts): the resolve path appends a record to one Redis list;
// movers feed BullMQ from it. These tests drive the movers by hand (no worker is started), against a
// real redis-server.
const PREFIX = '{test:inbox:records}';
const INBOX = `${PREFIX}:contact-records:inbox`;

function record(i: number, identityTag = `tag-${i % 7}`): RecordJob {
  return {
    contactId: `33333333-0000-4000-8000-${String(i).padStart(12, '0')}`,
    initialContactId: `33333333-0000-4000-8000-${String(i).padStart(12, '0')}`,
    previousContactId: '',
    channel: 'VOICE',
    initiationMethod: 'INBOUND',
    instanceArn: 'arn:aws:connect:us-east-1:123456789012:instance/test',
    queueName: '',
    systemEndpoint: '+18005550100',
    identityType: 'PHONE',
    identity: `+1206555${String(1000 + i).padStart(4, '0')}`,
    identityTag,
    profileId: 'a'.repeat(32),
    customerStatus: 'KNOWN',
    receivedAt: new Date(0).toISOString(),
    attributes: {},
  };
}

describe('contact-record inbox (Redis)', function () {
  this.timeout(30_000);
  const server = useRedisServer();
  let clients: Redis[] = [];
  let queues: RedisRecordQueue[] = [];
  let fallbacks: LocalRecordQueue[] = [];

  /** `via`: a client of its own (through a proxy); `written`: the ContactIds its in-process fallback wrote */
  function replica(ratePerSecond = 1000, via?: { client: Redis; written: string[] }): RedisRecordQueue {
    const client = via?.client ?? server().client({ maxRetriesPerRequest: 0 });
    clients.push(client);
    const logger = createLogger('silent');
    // the writes this replica makes itself (only its in-process fallback writes here: no worker runs)
    const target = {
      addContactKey: () => Promise.resolve(),
      putRecord: (job: RecordJob) => {
        via?.written.push(job.contactId);
        return Promise.resolve();
      },
      updateProfile: () => Promise.resolve(),
    };
    const pacer = new Pacer({ keyPrefix: 'test', connectPerSecond: 5 });
    const writer = new RecordWriter(target, pacer);
    const fallback = new LocalRecordQueue(writer, { ratePerSecond, maxAttempts: 3, logger });
    fallbacks.push(fallback);
    const q = new RedisRecordQueue({
      client,
      workerClient: () => client,
      prefix: PREFIX,
      writer,
      sealer: new Sealer([{ id: 'k', key: Buffer.alloc(32, 3) }]),
      fallback,
      ratePerSecond,
      maxAttempts: 3,
      lockMs: 5000,
      keepCompletedSeconds: 3600,
      keepFailedSeconds: 3600,
      logger,
      // the movers are driven by hand; start() starts the in-process fallback only
      runWorker: false,
    });
    queues.push(q);
    return q;
  }

  /** BullMQ's waiting jobs, by job id */
  async function waitingIds(): Promise<string[]> {
    const bull = openRecordQueue(clients[0]!, PREFIX);
    const jobs = await bull.getWaiting(0, -1);
    return jobs.map((j) => j.id!);
  }

  beforeEach(async () => server().flush());
  afterEach(async () => {
    await Promise.all(queues.map((q) => q.close()));
    for (const c of clients) c.disconnect();
    clients = [];
    queues = [];
    fallbacks = [];
  });

  it('queues a record with one list entry; depth counts it until a mover hands it to BullMQ', async () => {
    const q = replica();
    expect(await q.enqueue(record(1))).to.equal('QUEUED');
    const redis = clients[0]!;
    expect(await redis.llen(INBOX)).to.equal(1);
    expect(await waitingIds()).to.deep.equal([]);
    expect(await q.depth()).to.equal(1);
    // sealed like a job: the caller's number is not in clear
    expect(await redis.lindex(INBOX, 0)).to.not.contain('+12065551001');

    expect(await q.move()).to.equal(1);
    expect(await redis.llen(INBOX)).to.equal(0);
    expect(await waitingIds()).to.deep.equal([record(1).contactId]);
    expect(await q.depth()).to.equal(1);
  });

  it('moves no more than two seconds of writes into BullMQ at a time: the backlog waits in the inbox', async () => {
    const q = replica(10); // room for max(2 x 10, 20) = 20 waiting jobs
    for (let i = 0; i < 50; i++) await q.enqueue(record(i));
    expect(await q.move()).to.equal(20);
    expect(await q.move()).to.equal(0);
    expect(await clients[0]!.llen(INBOX)).to.equal(30);
    expect(await q.depth()).to.equal(50);
  });

  it('three replicas moving the same inbox at once hand every record to BullMQ exactly once', async () => {
    const [a, b, c] = [replica(), replica(), replica()];
    const n = 600;
    // 100 at a time: a record that Redis does not take within 250 ms goes to the in-process fallback
    for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => [a, b, c][(i + j) % 3]!.enqueue(record(i + j))));
    // the same ContactId twice (a Connect retry): still one job
    await a.enqueue(record(7));
    expect(await clients[0]!.llen(INBOX), 'all in the inbox').to.equal(n + 1);
    const moved = [0, 0, 0];
    while ((await clients[0]!.llen(INBOX)) > 0) {
      const got = await Promise.all([a, b, c].map((q) => q.move()));
      got.forEach((g, i) => (moved[i]! += g));
    }
    const ids = await waitingIds();
    expect(ids).to.have.length(n);
    expect(new Set(ids).size).to.equal(n);
    expect(moved.reduce((x, y) => x + y, 0), 'entries moved').to.equal(n + 1);
  });

  it('a mover that died after handing records to BullMQ but before taking them out adds no job twice', async () => {
    const q = replica();
    for (let i = 0; i < 5; i++) await q.enqueue(record(i));
    // what the dead mover did: the jobs exist, the entries are still in the inbox
    const entries = await clients[0]!.lrange(INBOX, 0, 2);
    const bull = openRecordQueue(clients[0]!, PREFIX);
    await bull.addBulk(entries.map((e) => JSON.parse(e) as { contactId: string }).map((data) => ({ name: 'record', data: data as never, opts: { jobId: data.contactId } })));
    expect(await q.move()).to.equal(5);
    expect((await waitingIds()).sort()).to.deep.equal([0, 1, 2, 3, 4].map((i) => record(i).contactId).sort());
  });

  it('an erasure removes the caller’s records from the inbox and from BullMQ, and nobody else’s', async () => {
    const q = replica();
    for (let i = 0; i < 20; i++) await q.enqueue(record(i, i % 2 === 0 ? 'erased' : 'kept'));
    await q.move(); // all 20 to BullMQ
    for (let i = 20; i < 30; i++) await q.enqueue(record(i, i % 2 === 0 ? 'erased' : 'kept'));
    expect(await q.forget('erased')).to.deep.equal({ removed: 15, inProgress: 0 });
    const left = await clients[0]!.lrange(INBOX, 0, -1);
    expect(left).to.have.length(5);
    for (const e of left) expect((JSON.parse(e) as { identityTag: string }).identityTag).to.equal('kept');
    expect(await waitingIds()).to.have.length(10);
    expect(await q.depth()).to.equal(15);
  });

  it('an erasure goes through a backlog of thousands a page at a time and misses none of the caller’s records', async () => {
    const q = replica();
    const n = 2600; // three pages, the caller's records on all of them
    // 100 at a time: a record that Redis does not take within 250 ms goes to the in-process fallback
    for (let i = 0; i < n; i += 100) {
      const statuses = await Promise.all(Array.from({ length: 100 }, (_, j) => q.enqueue(record(i + j, (i + j) % 3 === 0 ? 'erased' : 'kept'))));
      expect(new Set(statuses)).to.deep.equal(new Set(['QUEUED']));
    }
    expect(await clients[0]!.llen(INBOX), 'all in the inbox').to.equal(n);
    expect(await q.forget('erased')).to.deep.equal({ removed: Math.ceil(n / 3), inProgress: 0 });
    const left = await clients[0]!.lrange(INBOX, 0, -1);
    expect(left).to.have.length(n - Math.ceil(n / 3));
    for (const e of left) expect((JSON.parse(e) as { identityTag: string }).identityTag).to.equal('kept');
  });

  /**
   * Runs `body` with a replica whose Redis user may not append or run scripts (an ACL: NOPERM, an error
   * reply, as from a full or read-only Redis), and an admin client that may lift the ban. Not started.
   */
  async function withAppendsRefused(body: (r: { q: RedisRecordQueue; written: string[]; admin: Redis }) => Promise<void>): Promise<void> {
    const admin = server().client();
    clients.push(admin);
    await admin.acl('SETUSER', 'no-append', 'on', '>secret', '~*', '&*', '+@all', '-rpush', '-evalsha', '-eval');
    try {
      const written: string[] = [];
      const client = server().client({ username: 'no-append', password: 'secret', maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 100 });
      await until('connected', () => client.status === 'ready');
      await body({ q: replica(1000, { client, written }), written, admin });
    } finally {
      await admin.acl('DELUSER', 'no-append');
    }
  }

  it('an append Redis answers with an error is written from this process at once, without asking Redis whether it landed', async () => {
    // The append and scripts refused (NOPERM, an error reply): the record cannot be in the inbox, and Redis
    // cannot answer "did it land?" either, which used to hold the record ASK_FOR_MS (5 s) before writing.
    await withAppendsRefused(async ({ q, written, admin }) => {
      q.start();
      const started = Date.now();
      expect(await q.enqueue(record(5))).to.equal('QUEUED');
      await until('the record written from this process', () => written.length > 0, 2000);
      expect(written).to.deep.equal([record(5).contactId]);
      expect(Date.now() - started, 'written after (ms)').to.be.below(1000);
      expect(await admin.llen(INBOX)).to.equal(0);
    });
  });

  it('records held in this process because Redis refused them are handed to Redis at a graceful stop, and a mover takes them like any other', async () => {
    await withAppendsRefused(async ({ q, written, admin }) => {
      // not started: its in-process fallback holds what Redis refuses (as one still pacing its writes would)
      expect(await q.enqueue(record(7))).to.equal('QUEUED');
      expect(await q.enqueue(record(8))).to.equal('QUEUED');
      expect(await fallbacks.at(-1)!.depth(), 'held in this process').to.equal(2);
      expect(await admin.llen(INBOX)).to.equal(0);

      // Redis takes appends again (the failover is over), then the replica stops
      await admin.acl('SETUSER', 'no-append', '+rpush');
      await q.close();

      expect(await admin.llen(INBOX), 'handed to the inbox').to.equal(2);
      expect(written, 'written from this process').to.deep.equal([]);
      expect(await replica().move()).to.equal(2);
      expect((await waitingIds()).sort()).to.deep.equal([record(7).contactId, record(8).contactId].sort());
    });
  });

  describe('an append that times out', () => {
    let proxy: DelayingProxy;
    let check: Redis;
    beforeEach(async () => {
      proxy = await DelayingProxy.start(server().port);
      check = server().client();
    });
    afterEach(async () => {
      check.disconnect();
      await proxy.stop();
    });

    /** a replica whose Redis client goes through the proxy, configured as the resolve path's (fail fast, 100 ms) */
    async function viaProxy(): Promise<{ q: RedisRecordQueue; fallback: LocalRecordQueue; written: string[] }> {
      const written: string[] = [];
      const client = new Redis({ host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 100 });
      await until('connected', () => client.status === 'ready');
      const q = replica(1000, { client, written });
      q.start();
      return { q, fallback: fallbacks.at(-1)!, written };
    }

    it('but ran in Redis is written by the Redis queue only, not also from this process (moved already, or still in the inbox)', async () => {
      const { q, fallback, written } = await viaProxy();
      const direct = replica();
      // the appends run in Redis; their replies come after the time the resolve path waits
      proxy.delayReplies(400);
      expect(await q.enqueue(record(1))).to.equal('QUEUED');
      // another replica's mover hands this one to BullMQ: only the job is left to find it by
      expect(await direct.move()).to.equal(1);
      expect(await q.enqueue(record(2))).to.equal('QUEUED');
      expect(await check.llen(INBOX), 'the second is still in the inbox').to.equal(1);
      // while Redis does not answer in time, the fallback holds both; once it does, it lets them go.
      // The point: time passes (past the fallback's next question, 500 ms after its first) and both are still held.
      await sleep(600);
      expect(await fallback.depth(), 'held while Redis cannot say').to.equal(2);
      proxy.delayReplies(0);
      await until('the fallback to decide', async () => (await fallback.depth()) === 0, 10_000);

      expect(written, 'written from this process').to.deep.equal([]);
      expect(await direct.move()).to.equal(1);
      expect((await waitingIds()).sort()).to.deep.equal([record(1).contactId, record(2).contactId].sort());
    });

    it('and never reached Redis is written from this process once Redis has not answered for a while', async () => {
      const { q, written } = await viaProxy();
      await proxy.stop(); // Redis unreachable from this replica
      expect(await q.enqueue(record(4))).to.equal('QUEUED');
      await until('the record written from this process', () => written.length > 0, 10_000);
      expect(written).to.deep.equal([record(4).contactId]);
      expect(await check.llen(INBOX)).to.equal(0);
    });
  });
});
