// The in-process contact-record queue (LocalRecordQueue): pacing, retries, dead letters, erasure and
// close, over the real RecordWriter and Pacer (in-process book) with a scripted RecordTarget, on a
// controlled clock.
import { expect } from 'chai';
import { createLogger } from '../../src/ops/logger.js';
import { RecordError } from '../../src/records/errors.js';
import type { RecordJob, UpdateJob } from '../../src/records/job.js';
import { LocalRecordQueue } from '../../src/records/local-queue.js';
import { Pacer } from '../../src/records/pacer.js';
import type { DeadLetter, QueueHooks } from '../../src/records/queue.js';
import { RecordWriter, type RecordTarget } from '../../src/records/writer.js';
import { useFakeClock } from '../support/clock.js';

const T0 = Date.parse('2026-12-01T09:00:00.000Z');
type Outcome = Parameters<NonNullable<QueueHooks['onOutcome']>>[0];

function record(n: number, o: { profileId?: string; identityTag?: string } = {}): RecordJob {
  return {
    contactId: `c0000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    initialContactId: `c0000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    previousContactId: '',
    channel: 'VOICE',
    initiationMethod: 'INBOUND',
    instanceArn: 'arn:aws:connect:us-east-1:123456789012:instance/11111111-2222-3333-4444-555555555555',
    queueName: 'Support',
    systemEndpoint: '+18005550100',
    identityType: 'PHONE',
    identity: '+14255550123',
    identityTag: o.identityTag ?? `tag-${n}`,
    profileId: o.profileId ?? `profile-${n}`,
    customerStatus: 'KNOWN',
    receivedAt: new Date(T0).toISOString(),
    attributes: {},
  };
}

function update(n: number, updateId: string): UpdateJob {
  return {
    kind: 'update',
    contactId: record(n).contactId,
    updateId,
    profileId: `profile-${n}`,
    identityTag: `tag-${n}`,
    receivedAt: new Date(T0).toISOString(),
    update: { FirstName: 'Amelia' },
  };
}

/** A record target that notes every write (operation, contact, time) and fails a write when `fail` says so. */
class ScriptedTarget implements RecordTarget {
  readonly writes: Array<{ op: string; contactId: string; at: number }> = [];
  /** the error for this write (its `n`th of this operation for this contact, from 1), or none */
  fail: (op: string, contactId: string, n: number) => RecordError | undefined = () => undefined;
  /** set: every write waits for it */
  gate: Promise<void> | undefined;

  addContactKey(job: RecordJob): Promise<void> {
    return this.write('AddProfileKey', job.contactId);
  }
  putRecord(job: RecordJob): Promise<void> {
    return this.write('PutProfileObject', job.contactId);
  }
  updateProfile(job: UpdateJob): Promise<void> {
    return this.write('UpdateProfile', job.contactId);
  }
  private async write(op: string, contactId: string): Promise<void> {
    await this.gate;
    const n = this.writes.filter((w) => w.op === op && w.contactId === contactId).length + 1;
    this.writes.push({ op, contactId, at: Date.now() });
    const err = this.fail(op, contactId, n);
    if (err) throw err;
  }
  /** the times (ms after T0) of a contact's writes of `op` */
  times(op: string, contactId: string): number[] {
    return this.writes.filter((w) => w.op === op && w.contactId === contactId).map((w) => w.at - T0);
  }
}

describe('LocalRecordQueue (the in-process contact-record queue)', () => {
  let target: ScriptedTarget;
  let outcomes: Outcome[];
  let letters: DeadLetter[];
  let logged: Array<Record<string, unknown>>;
  let removed: Array<[string, string]>;
  let queues: LocalRecordQueue[];

  function queue(o: { ratePerSecond?: number; maxAttempts?: number; start?: boolean } = {}): LocalRecordQueue {
    const writer = new RecordWriter(target, new Pacer({ keyPrefix: 'test', connectPerSecond: 10 }), {
      remove: (profileId: string, updateId: string) => {
        removed.push([profileId, updateId]);
        return Promise.resolve();
      },
    });
    const logger = createLogger('info', { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
    const q = new LocalRecordQueue(writer, {
      ratePerSecond: o.ratePerSecond ?? 100,
      maxAttempts: o.maxAttempts ?? 5,
      logger,
      hooks: { onOutcome: (outcome) => outcomes.push(outcome), onDeadLetter: (letter) => letters.push(letter) },
    });
    queues.push(q);
    if (o.start ?? true) q.start();
    return q;
  }
  const retryable = () => new RecordError('retryable', 'PutProfileObject: InternalServerException (500)');

  beforeEach(() => {
    target = new ScriptedTarget();
    outcomes = [];
    letters = [];
    logged = [];
    removed = [];
    queues = [];
  });
  afterEach(async () => {
    target.gate = undefined;
    await Promise.all(queues.map((q) => q.close()));
  });
  // registered after the close above, so the queues close while their timers are still the fake ones
  const clock = useFakeClock(T0);

  describe('writing', () => {
    it('writes a record: AddProfileKey, then PutProfileObject, once; the queue is then empty', async () => {
      const q = queue();

      expect(await q.enqueue(record(1))).to.equal('QUEUED');
      await clock.advance(10);

      expect(target.writes.map((w) => w.op)).to.deep.equal(['AddProfileKey', 'PutProfileObject']);
      expect(outcomes).to.deep.equal(['written']);
      expect(await q.depth()).to.equal(0);
    });

    it('a queue not started takes records but writes none until start()', async () => {
      const q = queue({ start: false });

      await q.enqueue(record(1));
      await q.enqueue(record(2));
      await clock.advance(1000);
      expect(target.writes).to.deep.equal([]);
      expect(await q.depth()).to.equal(2);

      q.start();
      await clock.advance(10);
      expect(outcomes).to.deep.equal(['written', 'written']);
    });

    it('the same job twice is one job (a Connect retry), and an update of the same contact is another', async () => {
      const q = queue();

      expect(await q.enqueue(record(1))).to.equal('QUEUED');
      expect(await q.enqueue(record(1))).to.equal('QUEUED');
      expect(await q.enqueue(update(1, 'u1'))).to.equal('QUEUED');
      expect(await q.enqueue(update(1, 'u1'))).to.equal('QUEUED');
      await clock.advance(2000);

      expect(target.writes.map((w) => w.op)).to.have.members(['AddProfileKey', 'PutProfileObject', 'UpdateProfile']);
      expect(outcomes.filter((o) => o === 'written')).to.have.length(2);
    });

    it('takes at most RECORD_RATE_PER_SECOND jobs a second: 5 records at 2 a second are written over three seconds', async () => {
      const q = queue({ ratePerSecond: 2 });

      for (let n = 1; n <= 5; n++) await q.enqueue(record(n));
      await clock.advance(3000);

      const seconds = [1, 2, 3, 4, 5].map((n) => Math.floor(target.times('PutProfileObject', record(n).contactId)[0]! / 1000));
      expect(seconds).to.deep.equal([0, 0, 1, 1, 2]);
    });

    it('two records of one profile: the second object write waits its turn (one a profile every 1.05 s), then is written', async () => {
      const q = queue();

      await q.enqueue(record(1, { profileId: 'shared' }));
      await q.enqueue(record(2, { profileId: 'shared' }));
      await clock.advance(1500);

      const [first] = target.times('PutProfileObject', record(1).contactId);
      const [second] = target.times('PutProfileObject', record(2).contactId);
      expect(second! - first!).to.be.within(1050, 1100);
      expect(outcomes).to.have.members(['written', 'paced', 'written']);
    });
  });

  describe('failures', () => {
    it('a retryable failure is retried with backoff (at least half of 1 s, then of 2 s) and the steps done are not repeated', async () => {
      const q = queue();
      target.fail = (op, _id, n) => (op === 'PutProfileObject' && n <= 2 ? retryable() : undefined);

      await q.enqueue(record(1));
      await clock.advance(3500);

      const [a, b, c] = target.times('PutProfileObject', record(1).contactId);
      // backoff is half to all of 1 s, then of 2 s; the profile's object-write gap (1.05 s) can make it longer
      expect(b! - a!, 'first backoff').to.be.within(500, 1100);
      expect(c! - b!, 'second backoff').to.be.within(1000, 2100);
      expect(target.times('AddProfileKey', record(1).contactId)).to.have.length(1);
      expect(outcomes.filter((o) => o !== 'paced')).to.deep.equal(['retried', 'retried', 'written']);
      expect(letters).to.deep.equal([]);
    });

    it('after RECORD_MAX_ATTEMPTS failures, the record is dead-lettered: listed, counted, logged without the phone number', async () => {
      const q = queue({ maxAttempts: 3 });
      target.fail = (op) => (op === 'PutProfileObject' ? retryable() : undefined);

      await q.enqueue(record(1));
      await clock.advance(10_000);

      expect(target.times('PutProfileObject', record(1).contactId)).to.have.length(3);
      expect(outcomes.filter((o) => o !== 'paced')).to.deep.equal(['retried', 'retried', 'dead-lettered']);
      const letter = {
        id: record(1).contactId,
        kind: 'record',
        contactId: record(1).contactId,
        profileId: 'profile-1',
        receivedAt: record(1).receivedAt,
        attempts: 3,
        error: 'PutProfileObject: InternalServerException (500)',
      };
      expect(letters).to.have.length(1);
      expect(letters[0]).to.deep.include(letter);
      // listed as a letter only: the job (with the caller's identity) stays inside the queue
      expect(await q.deadLetters.list()).to.deep.equal([{ ...letter, failedAt: new Date(T0 + target.times('PutProfileObject', record(1).contactId)[2]!).toISOString() }]);
      expect(await q.deadLetters.count()).to.equal(1);
      expect(await q.depth()).to.equal(0);
      const line = logged.find((l) => l.msg === 'contact record dead-lettered');
      expect(line).to.deep.include({ contactId: record(1).contactId, attempts: 3 });
      expect(JSON.stringify(logged)).not.to.contain('+14255550123');
    });

    it('a permanent failure (a 4xx) is dead-lettered at once, after one attempt', async () => {
      const q = queue();
      target.fail = (op) => (op === 'AddProfileKey' ? new RecordError('permanent', 'AddProfileKey: AccessDeniedException (403)') : undefined);

      await q.enqueue(record(1));
      await clock.advance(5000);

      expect(target.writes.map((w) => w.op)).to.deep.equal(['AddProfileKey']);
      expect(outcomes).to.deep.equal(['dead-lettered']);
      expect(letters[0]).to.deep.include({ attempts: 1, error: 'AddProfileKey: AccessDeniedException (403)' });
    });

    it('throttling uses up no attempt: the queue steps back for Retry-After, every record with it, and then writes', async () => {
      const q = queue({ maxAttempts: 1 });
      target.fail = (op, id, n) =>
        op === 'PutProfileObject' && id === record(1).contactId && n <= 2 ? new RecordError('throttled', 'PutProfileObject: ThrottlingException (429)', 2000) : undefined;

      await q.enqueue(record(1));
      await clock.advance(10);
      await q.enqueue(record(2));
      await clock.advance(1990);
      expect(target.writes.filter((w) => w.contactId === record(2).contactId), 'nothing written while the queue steps back').to.deep.equal([]);
      await clock.advance(3000);

      const times = target.times('PutProfileObject', record(1).contactId);
      expect(times).to.have.length(3);
      expect(times[1]! - times[0]!).to.be.at.least(2000);
      expect(times[2]! - times[1]!).to.be.at.least(2000);
      expect(target.times('PutProfileObject', record(2).contactId)[0]).to.be.at.least(2000);
      expect(outcomes.filter((o) => o === 'throttled')).to.have.length(2);
      expect(outcomes).not.to.include('dead-lettered');
    });

    it('a dead-lettered profile update is no longer pending on its profile; a replay writes it with fresh attempts', async () => {
      const q = queue({ maxAttempts: 1 });
      target.fail = (op, _id, n) => (op === 'UpdateProfile' && n === 1 ? retryable() : undefined);

      await q.enqueue(update(1, 'u1'));
      await clock.advance(100);
      expect(outcomes).to.deep.equal(['dead-lettered']);
      expect(letters[0]).to.deep.include({ id: `u:${record(1).contactId}:u1`, kind: 'update', attempts: 1 });
      expect(removed).to.deep.equal([['profile-1', 'u1']]);

      expect(await q.deadLetters.replay({ contactIds: [record(1).contactId] })).to.equal(1);
      await clock.advance(1100);
      expect(outcomes.filter((o) => o !== 'paced')).to.deep.equal(['dead-lettered', 'written']);
      expect(await q.deadLetters.count()).to.equal(0);
    });

    it('purge deletes the dead letters it selects and leaves the others', async () => {
      const q = queue();
      target.fail = () => new RecordError('permanent', 'AddProfileKey: BadRequestException (400)');
      for (let n = 1; n <= 3; n++) await q.enqueue(record(n));
      await clock.advance(100);
      expect(await q.deadLetters.count()).to.equal(3);

      expect(await q.deadLetters.purge({ contactIds: [record(2).contactId] })).to.equal(1);
      expect((await q.deadLetters.list()).map((l) => l.contactId)).to.deep.equal([record(1).contactId, record(3).contactId]);
      expect(await q.deadLetters.purge({ all: true })).to.equal(2);
      expect(await q.deadLetters.count()).to.equal(0);
    });
  });

  describe('a job whose append to Redis timed out (landed)', () => {
    it('when Redis says it landed, it is not written from here (the Redis queue writes it)', async () => {
      const q = queue();

      await q.enqueue(record(1), () => Promise.resolve(true));
      await clock.advance(100);

      expect(target.writes).to.deep.equal([]);
      expect(logged.map((l) => l.msg)).to.include('record reached Redis after all: written from the Redis queue, not from this process');
    });

    it('when Redis says it did not land, it is written from here at once', async () => {
      const q = queue();

      await q.enqueue(record(1), () => Promise.resolve(false));
      await clock.advance(10);

      expect(outcomes).to.deep.equal(['written']);
    });

    it('while Redis cannot say, it asks every 500 ms for 5 s, then writes from here (a double write beats a lost one)', async () => {
      const q = queue();
      const asked: number[] = [];

      await q.enqueue(record(1), () => {
        asked.push(Date.now() - T0);
        return Promise.reject(new Error('LOADING Redis is loading the dataset in memory'));
      });
      await clock.advance(4900);
      expect(target.writes, 'not written while it may yet have landed').to.deep.equal([]);
      await clock.advance(700);

      expect(asked).to.have.length.within(10, 11);
      for (let i = 1; i < asked.length; i++) expect(asked[i]! - asked[i - 1]!).to.be.within(500, 520);
      expect(outcomes).to.deep.equal(['written']);
    });
  });

  describe('erasure, limits and close', () => {
    it('forget(tag) drops the caller\'s records not yet written and their dead letters, and nobody else\'s', async () => {
      const q = queue();
      target.fail = (op, id) => (op === 'AddProfileKey' && id === record(1).contactId ? new RecordError('permanent', 'AddProfileKey: 400') : undefined);
      await q.enqueue(record(1, { identityTag: 'erased' }));
      await clock.advance(10);
      expect(await q.deadLetters.count()).to.equal(1);
      q.yieldTo(60_000); // hold the rest in the queue
      await q.enqueue(record(2, { identityTag: 'erased' }));
      await q.enqueue(update(3, 'u1'));
      await q.enqueue(record(4, { identityTag: 'erased' }));
      await q.enqueue(record(5, { identityTag: 'kept' }));

      expect(q.forget('erased')).to.equal(3);

      expect(await q.deadLetters.count()).to.equal(0);
      expect(await q.depth()).to.equal(2);
      await clock.advance(61_000, 100);
      expect(target.writes.map((w) => w.contactId)).to.have.members([
        record(1).contactId,
        record(3).contactId,
        record(5).contactId,
        record(5).contactId,
      ]);
    });

    it('holds at most 10 000 records: the next one is FAILED (the caller sees it), not queued', async () => {
      const q = queue({ start: false });

      for (let n = 1; n <= 10_000; n++) expect(await q.enqueue(record(n))).to.equal('QUEUED');

      expect(await q.enqueue(record(10_001))).to.equal('FAILED');
      expect(await q.depth()).to.equal(10_000);
    });

    it('close() lets the write in progress finish, takes nothing more, and logs how many records it leaves unwritten', async () => {
      const q = queue({ ratePerSecond: 1 });
      let open!: () => void;
      target.gate = new Promise<void>((resolve) => (open = resolve));
      await q.enqueue(record(1));
      await q.enqueue(record(2));
      await q.enqueue(record(3));
      await clock.advance(10);
      expect(await q.depth(), 'one in progress, two waiting').to.equal(3);

      let closed = false;
      const closing = q.close().then(() => (closed = true));
      await clock.settle();
      expect(closed, 'closed while a write is in progress').to.equal(false);
      open();
      await closing;

      expect(outcomes).to.deep.equal(['written']);
      expect(logged.find((l) => l.msg === 'in-process contact records not written before exit')).to.deep.include({
        records: 2,
        contactIds: [record(2).contactId, record(3).contactId],
      });
      expect(await q.enqueue(record(4))).to.equal('FAILED');
      await clock.advance(5000);
      expect(outcomes, 'nothing taken after close').to.deep.equal(['written']);
    });

    it('close({ handTo }) hands the records still waiting to the Redis queue in one batch, and nothing is written from here', async () => {
      const q = queue({ start: false });
      for (let n = 1; n <= 3; n++) await q.enqueue(record(n));
      const batches: string[][] = [];

      await q.close({ handTo: (jobs) => (batches.push(jobs.map((j) => j.contactId)), Promise.resolve(true)) });

      expect(batches).to.deep.equal([[record(1).contactId, record(2).contactId, record(3).contactId]]);
      expect(target.writes, 'written from this process').to.deep.equal([]);
      expect(logged.find((l) => l.msg === 'in-process contact records handed to the Redis queue at shutdown')).to.deep.include({ records: 3 });
      expect(logged.some((l) => l.msg === 'in-process contact records not written before exit')).to.equal(false);
    });

    it('close({ handTo }): a refused batch ends the hand-over; what is left is logged by ContactId, without the phone number', async () => {
      const q = queue({ start: false });
      for (let n = 1; n <= 3; n++) await q.enqueue(record(n));
      let asked = 0;

      await q.close({ handTo: () => (asked++, Promise.resolve(false)) });

      expect(asked, 'batches asked').to.equal(1);
      expect(target.writes).to.deep.equal([]);
      const left = logged.find((l) => l.msg === 'in-process contact records not written before exit');
      expect(left).to.deep.include({ records: 3, contactIds: [record(1).contactId, record(2).contactId, record(3).contactId] });
      expect(JSON.stringify(logged), 'no phone number in the log').not.to.include('4255550123');
    });

    it('close({ handTo }) does not hand over again a record whose timed-out append landed in Redis after all', async () => {
      const q = queue({ start: false });
      await q.enqueue(record(1), () => Promise.resolve(true));
      await q.enqueue(record(2), () => Promise.resolve(false));
      await q.enqueue(record(3), () => Promise.reject(new Error('Command timed out')));
      const handed: string[] = [];

      await q.close({ handTo: (jobs) => (handed.push(...jobs.map((j) => j.contactId)), Promise.resolve(true)) });

      // the first is in Redis already; the second did not land; the third, Redis cannot say: handed over (a double beats a loss)
      expect(handed).to.deep.equal([record(2).contactId, record(3).contactId]);
      expect(logged.some((l) => l.msg === 'in-process contact records not written before exit')).to.equal(false);
    });
  });
});
