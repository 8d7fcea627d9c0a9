// The Lambda events AWS's own documentation and tools show (test/fixtures/aws-events/, sources in its
// README), sent to the real service: each is answered 200 with the status its identity gives, and a
// known caller in the same shape is found and its contact recorded, through the real SDK.
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { expect } from 'chai';
import { embeddedSeed } from '../support/fixtures.js';
import { until } from '../support/until.js';
import { postEvent, REPO_ROOT, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';

const DIR = `${REPO_ROOT}test/fixtures/aws-events/`;
type AwsEvent = { Details: { ContactData: Record<string, unknown> & { ContactId: string; CustomerEndpoint: { Address: string } } } };
const load = (file: string): AwsEvent => JSON.parse(readFileSync(`${DIR}${file}`, 'utf8')) as AwsEvent;

// What each event's own caller gives: the documentation's placeholder numbers are not valid numbers.
const EVENTS: Array<{ file: string; status: string; queueName: string; channel: string }> = [
  { file: 'admin-guide.json', status: 'ANONYMOUS', queueName: 'SupportQueue', channel: 'VOICE' },
  { file: 'lambda-developer-guide.json', status: 'ANONYMOUS', queueName: 'Billing', channel: 'VOICE' },
  { file: 'sam-cli.json', status: 'ANONYMOUS', queueName: '', channel: 'VOICE' },
  { file: 'connect-newer-fields.json', status: 'NEW', queueName: '', channel: 'VOICE' },
];
const AMELIA = { phone: '+442079460958', profileId: '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d' };

/** The event as another contact from the seeded UK caller. */
function fromAmelia(file: string): AwsEvent {
  const event = load(file);
  const data = event.Details.ContactData;
  data.ContactId = randomUUID();
  data.CustomerEndpoint.Address = AMELIA.phone;
  return event;
}

const seed = embeddedSeed();

describe('the Lambda events of AWS documentation and tools, sent to the real service', () => {
  const fake = useFakeAws({ domains: ['acme-contacts'], region: 'us-west-2' });
  let embedded: RunningService;
  let aws: RunningService;

  before(async () => {
    fake.seedLikeEmbedded(seed);
    embedded = await startService({});
    aws = await startService({ CUSTOMER_PROFILES_DOMAIN: 'acme-contacts', AWS_REGION: 'us-west-2', AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url });
  });
  after(async () => {
    await embedded?.stop();
    await aws?.stop();
  });

  it('has an expectation for every event in the folder', () => {
    expect(EVENTS.map((e) => e.file).sort()).to.deep.equal(readdirSync(DIR).filter((f) => f.endsWith('.json')).sort());
  });

  for (const { file, status } of EVENTS) {
    it(`when ${file} is sent as it is, answers 200 ${status}`, async () => {
      const r = await postEvent(embedded.url, load(file));

      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(r.body.customerStatus).to.equal(status);
    });
  }

  it('when each event comes from a known caller, finds the profile and records the contact with its channel and queue, through the real SDK', async function () {
    this.timeout(15_000);
    const sent: Array<{ contactId: string; queueName: string; channel: string }> = [];
    for (const { file, queueName, channel } of EVENTS) {
      const event = fromAmelia(file);
      const r = await postEvent(aws.url, event);

      expect(r.status, `${file}: ${JSON.stringify(r.body)}`).to.equal(200);
      expect(r.body, file).to.include({ customerStatus: 'KNOWN', profileId: AMELIA.profileId, firstName: 'Amelia', contactRecordStatus: 'QUEUED' });
      sent.push({ contactId: event.Details.ContactData.ContactId, queueName, channel });
    }

    await until('the four contact records', () => sent.every((s) => fake.objects('ResolvedContact').some((o) => o.object.ContactId === s.contactId)), 12_000);
    for (const s of sent) {
      const record = fake.objects('ResolvedContact').find((o) => o.object.ContactId === s.contactId)!;
      expect(record.profileId).to.equal(AMELIA.profileId);
      expect(record.object).to.include({ Channel: s.channel, QueueName: s.queueName });
    }
  });
});
