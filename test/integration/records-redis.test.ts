import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { eventFrom } from '../support/fixtures.js';
import type { FakeProfile } from '../support/fake-aws.js';
import { ServiceProcess } from '../support/process.js';
import { sample } from '../support/prometheus.js';
import { useRedisServer } from '../support/redis.js';
import { postEvent, REPO_ROOT, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const OBJECT_TYPE = 'ResolvedContact';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDTESTFAKE', AWS_SECRET_ACCESS_KEY: 'fake-secret' };

let seq = 0;
const contactId = () => `22222222-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
const callerNumber = (i: number) => `+1206555${String(200 + i).padStart(4, '0')}`;


/** Runs `npm run dead-letters -- ...` as an operator would (the CLI through tsx). */
async function deadLetters(env: Record<string, string>, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/dead-letters.ts', ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

describe('contact records on Redis (BullMQ) with the Customer Profiles fake', function () {
  this.timeout(90_000);
  const fake = useFakeAws({ domains: [DOMAIN], latencyMs: 5, objectType: OBJECT_TYPE });
  const redis = useRedisServer();
  let env: Record<string, string>;
  const profiles: FakeProfile[] = [];

  before(() => {
    env = {
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis().url,
      RECORD_MAX_ATTEMPTS: '2',
    };
  });
  beforeEach(async () => {
    fake.reset(); // keeps the object type
    await redis().flush();
    profiles.splice(0);
    for (let i = 0; i < 20; i++) profiles.push(fake.seedProfile({ PhoneNumber: callerNumber(i), FirstName: `Caller${i}` }));
  });

  describe('in-process replicas', () => {
    let apps: RunningService[] = [];
    afterEach(async () => {
      await Promise.all(apps.map((a) => a.stop()));
      apps = [];
    });

    it('writes every record exactly once, however often the same ContactId arrives, on whichever replica', async () => {
      apps = await Promise.all([startService(env), startService(env)]);
      const events = profiles.map((_, i) => eventFrom('voice-e164.json', { address: callerNumber(i), contactId: contactId() }));

      const first = await Promise.all(events.map((e, i) => postEvent(apps[i % 2]!.url, e)));
      // Connect retries every contact, on the other replica, and one record is also enqueued again directly
      await Promise.all(events.map((e, i) => postEvent(apps[(i + 1) % 2]!.url, e)));
      const id0 = (events[0]!.Details as { ContactData: { ContactId: string } }).ContactData.ContactId;
      const again = await apps[0]!.service.records.enqueue({ ...recordOf(first[0]!.body, id0) });
      await until('20 records', () => fake.objects(OBJECT_TYPE).length >= 20, 20_000);
      // every job is done on both replicas: anything written twice would show by now
      await until('the queues to be empty', async () => (await Promise.all(apps.map((a) => a.service.records.depth()))).every((d) => d === 0));

      expect(first.every((r) => r.body.contactRecordStatus === 'QUEUED')).to.equal(true);
      expect(again).to.equal('QUEUED');
      expect(fake.objects(OBJECT_TYPE)).to.have.length(20);
      expect([...fake.recordWritesByContact().values()]).to.deep.equal(Array(20).fill(1));
      expect(fake.callsTo('AddProfileKey').filter((c) => c.status === 200)).to.have.length(20);
    });

    it('when Customer Profiles throttles record writes for a while, loses nothing and dead-letters nothing', async () => {
      apps = [await startService(env)];
      fake.fail({ status: 429, errorType: 'ThrottlingException', retryAfterSeconds: 1, times: 12, operations: ['PutProfileObject'] });

      await Promise.all(profiles.slice(0, 10).map((_, i) => postEvent(apps[0]!.url, eventFrom('voice-e164.json', { address: callerNumber(i), contactId: contactId() }))));
      await until('10 records', () => fake.objects(OBJECT_TYPE).length >= 10, 30_000);

      expect(fake.callsTo('PutProfileObject').filter((c) => c.status === 429)).to.have.length(12);
      expect(fake.objects(OBJECT_TYPE)).to.have.length(10);
      expect(await apps[0]!.service.records.deadLetters.count()).to.equal(0);
    });

    it('writes the records of one profile at least a second apart', async () => {
      apps = [await startService(env), await startService(env)];
      const phone = callerNumber(0);

      await Promise.all([0, 1, 2, 3].map((i) => postEvent(apps[i % 2]!.url, eventFrom('voice-e164.json', { address: phone, contactId: contactId() }))));
      await until('4 records', () => fake.objects(OBJECT_TYPE).length >= 4, 20_000);

      const writes = fake.callsTo('PutProfileObject').filter((c) => c.status === 200).map((c) => c.at).sort((a, b) => a - b);
      const gaps = writes.slice(1).map((t, i) => t - writes[i]!);
      console.log(`        gaps between writes on one profile: ${gaps.join(', ')} ms (smallest ${Math.min(...gaps)} ms)`);
      expect(writes).to.have.length(4);
      expect(Math.min(...gaps)).to.be.at.least(1000);
      expect(fake.callsTo('PutProfileObject').filter((c) => c.status === 429), 'no write was refused as too fast').to.have.length(0);
    });
  });

  it('when the replica holding records is killed with SIGKILL mid-write, another replica takes them over and every record ends up as exactly one object', async () => {
    const processEnv = { ...env, ...CREDENTIALS, RECORD_JOB_LOCK_MS: '2000' };
    const a = await ServiceProcess.start(processEnv);
    let b: ServiceProcess | undefined;
    try {
      fake.hang(true, ['PutProfileObject']);
      const contacts = profiles.map((_, i) => eventFrom('voice-e164.json', { address: callerNumber(i), contactId: contactId() }));
      const answers = await Promise.all(contacts.map((e) => postEvent(a.url, e)));
      expect(answers.every((r) => r.body.contactRecordStatus === 'QUEUED')).to.equal(true);
      await until('A to be mid-write', () => fake.callsTo('PutProfileObject').length >= 3, 20_000);
      const inFlight = fake.callsTo('PutProfileObject').length;

      await a.kill();
      // the writes A had sent reach Customer Profiles after all; B will run those jobs again
      fake.hang(false);
      b = await ServiceProcess.start(processEnv);
      await until('all 20 records', () => fake.objects(OBJECT_TYPE).length >= 20, 30_000);
      // every job is done, those A held included (B runs them again once their lock expires)
      await until('the queue to be empty', async () => sample(await (await fetch(`${b!.metricsUrl}/metrics`)).text(), 'cpr_record_queue_depth') === 0, 20_000);

      const writes = fake.recordWritesByContact();
      const writtenTwice = [...writes.values()].filter((n) => n > 1).length;
      console.log(`        crash test: ${inFlight} writes in flight when A died; ${fake.objects(OBJECT_TYPE).length} records, ${writtenTwice} written twice (replaced, one object each)`);
      expect(fake.objects(OBJECT_TYPE)).to.have.length(20);
      expect(new Set(fake.objects(OBJECT_TYPE).map((o) => o.object.ContactId)).size).to.equal(20);
      expect(writes.size).to.equal(20);
    } finally {
      await a.kill();
      await b?.kill();
    }
  });

  it('keeps records that fail for good as dead letters that the dead-letters command lists, replays and purges', async () => {
    const app = await startService(env);
    try {
      fake.fail({ status: 403, errorType: 'AccessDeniedException', operations: ['PutProfileObject'], times: 3 });
      const ids = [0, 1, 2].map(() => contactId());
      await Promise.all(ids.map((id, i) => postEvent(app.url, eventFrom('voice-e164.json', { address: callerNumber(i), contactId: id }))));
      await until('3 dead letters', async () => (await app.service.records.deadLetters.count()) === 3, 20_000);

      const cli = { ...env, ...CREDENTIALS };
      const listed = await deadLetters(cli, 'list');
      expect(listed.code).to.equal(0);
      expect(listed.out).to.contain('3 dead letter(s)');
      for (const id of ids) expect(listed.out).to.contain(id);
      expect(listed.out).to.contain('PutProfileObject: AccessDeniedException (403)');
      expect(listed.out, 'no phone number in the listing').to.not.match(/\+1206/);

      const replayed = await deadLetters(cli, 'replay', ids[0]!);
      expect(replayed.out).to.contain('replayed 1 dead letter(s)');
      await until('the replayed record', () => fake.objects(OBJECT_TYPE).length === 1, 20_000);
      expect(fake.objects(OBJECT_TYPE)[0]!.object.ContactId).to.equal(ids[0]);

      const purged = await deadLetters(cli, 'purge', '--all');
      expect(purged.out).to.contain('purged 2 dead letter(s)');
      const after = await deadLetters(cli, 'list');
      expect(after.out).to.contain('0 dead letter(s)');
      expect(await app.service.records.deadLetters.count()).to.equal(0);
    } finally {
      await app.stop();
    }
  });
});

function recordOf(answer: Record<string, string>, contactId: string) {
  return {
    contactId,
    initialContactId: contactId,
    previousContactId: '',
    channel: 'VOICE',
    initiationMethod: 'INBOUND',
    instanceArn: '',
    queueName: '',
    systemEndpoint: '',
    identityType: 'PHONE' as const,
    identity: answer.phoneE164!,
    identityTag: 'tag-of-the-identity',
    profileId: answer.profileId!,
    customerStatus: 'KNOWN' as const,
    receivedAt: new Date().toISOString(),
    attributes: {},
  };
}
