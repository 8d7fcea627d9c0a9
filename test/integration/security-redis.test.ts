import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { eventFrom } from '../support/fixtures.js';
import { useRedisServer } from '../support/redis.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const ADMIN = 'admin-token-for-erasure-0123456789';
const DATA_KEYS = `k1:${Buffer.alloc(32, 3).toString('base64')}`;

interface Caller {
  phone?: string;
  email?: string;
  first: string;
  last: string;
}
const callers: Caller[] = [
  { phone: '+14255550161', first: 'Marguerite', last: 'Okonkwo' },
  { phone: '+442079460123', first: 'Bartholomew', last: 'Featherstone' },
  { email: 'evangeline.quist@example.net', first: 'Evangeline', last: 'Quist' },
  { phone: '+14255550162', first: 'Thaddeus', last: 'Wolcott' },
];
/** every way an identity or a name could sit in Redis in clear */
const secretsOf = (c: Caller): string[] =>
  [c.phone, c.phone?.replace('+', ''), c.phone?.slice(-10), c.email, c.email?.split('@')[0], c.first, c.last].filter((s): s is string => !!s);

/** Every key in the server, with everything it holds (strings, hashes, sets, sorted sets, lists, streams). */
async function dump(redis: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type === 'stream') value = await redis.xrange(key, '-', '+');
      out.set(key, `${type} ${JSON.stringify(value)}`);
    }
  } while (cursor !== '0');
  return out;
}

describe('personal data in Redis', function () {
  this.timeout(60_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  const redis = useRedisServer();
  let client: Redis;
  let app: RunningService;
  let seq = 0;
  const contact = (c: Caller) =>
    c.email
      ? eventFrom('email-channel.json', { address: c.email, contactId: `44444444-0000-4000-8000-${String(++seq).padStart(12, '0')}` })
      : eventFrom('voice-e164.json', { address: c.phone!, contactId: `44444444-0000-4000-8000-${String(++seq).padStart(12, '0')}` });

  before(() => {
    client = redis().client();
  });
  beforeEach(async () => {
    await redis().flush();
    fake.reset();
    for (const c of callers.slice(0, 3)) fake.seedProfile({ PhoneNumber: c.phone, EmailAddress: c.email, FirstName: c.first, LastName: c.last });
    app = await startService({
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      REDIS_URL: redis().url,
      DATA_KEYS,
      ADMIN_TOKENS: ADMIN,
      RECORD_CONTACT_ATTRIBUTES: 'customerName',
    });
  });
  afterEach(() => app.stop());
  after(() => {
    client.disconnect();
  });

  async function traffic(): Promise<void> {
    for (const c of callers) {
      const first = await postEvent(app.url, contact(c));
      expect(first.status).to.equal(200);
      const retried = contact(c);
      await postEvent(app.url, retried);
      await postEvent(app.url, retried); // a Connect retry
    }
    // every record so far written (two a caller, paced a second apart on each profile), so that the
    // one failing write below is the last caller's
    await until('the records so far to be written', () => fake.objects('ResolvedContact').length >= 2 * callers.length, 15_000);
    // one caller's record fails for good: a dead letter holds its data too
    fake.fail({ status: 403, errorType: 'AccessDeniedException', operations: ['PutProfileObject'], times: 1 });
    await postEvent(app.url, contact(callers[3]!));
    await until('the dead letter', async () => (await client.zcard('{cpr:acme-contacts:records}:contact-records:failed')) === 1, 15_000);
  }

  it('after real traffic, no key or value holds a phone number, e-mail address or name in clear, and every key of the service expires', async () => {
    await traffic();
    const everything = await dump(client);

    expect(everything.size).to.be.greaterThan(20);
    const text = [...everything].map(([k, v]) => `${k} ${v}`).join('\n');
    for (const c of callers) for (const secret of secretsOf(c)) expect(text, `"${secret}" in Redis`).to.not.contain(secret);
    // the service's own keys all have a TTL (BullMQ's keys are bounded by its removeOn* ages)
    const ours = [...everything.keys()].filter((k) => k.startsWith('cpr:'));
    expect(ours.length).to.be.greaterThan(10);
    // -1 is a key without expiry; -2 one that has expired since the dump (pacing slots last about a second)
    for (const key of ours) expect(await client.pttl(key), key).to.not.equal(-1);
    // the data is there, sealed: the service still answers from it
    const again = await postEvent(app.url, contact(callers[0]!));
    expect(again.body).to.include({ customerStatus: 'KNOWN', firstName: 'Marguerite', degraded: 'false' });
  });

  it('erasing one caller removes every trace of it in Redis and nothing else', async () => {
    await traffic();
    const target = callers[1]!; // a caller with records, answers, cache entry and history
    // write-slot reservations (cpr:...:pace:*, keyed by profile id) live about a second: not compared
    const lasting = async () => new Map([...(await dump(client))].filter(([k]) => !k.includes(':pace:')));
    const before = await lasting();

    const res = await fetch(`${app.url}/v1/admin/erase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ phoneNumber: '020 7946 0123', countryCode: 'GB' }),
    });
    const report = (await res.json()) as { erased: { callerEntries: number; contactHistories: number; records: number } };
    const after = await lasting();

    expect(res.status).to.equal(200);
    const removed = [...before.keys()].filter((k) => !after.has(k));
    const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k));
    const added = [...after.keys()].filter((k) => !before.has(k));
    // what went: the caller's cache entry and answers (one hash tag), its profile's history, its record jobs,
    // and the caller's lookups in its profile's index of them (here the only ones: the index goes)
    const profileId = fake.profiles().find((p) => p.PhoneNumber === target.phone)!.ProfileId;
    const recordJobs = removed.filter((k) => /:contact-records:44444444-/.test(k));
    expect(removed.filter((k) => k.startsWith('cpr:')).every((k) => /^cpr:acme-contacts:\{[A-Za-z0-9_-]{22}\}:/.test(k) || k.endsWith(`{p:${profileId}}:recent`) || k.endsWith(`{p:${profileId}}:lookups`))).to.equal(true);
    expect(removed.some((k) => k.endsWith(`{p:${profileId}}:lookups`)), "the profile's index of the caller's lookups").to.equal(true);
    expect(removed.some((k) => k.endsWith(`{p:${profileId}}:recent`))).to.equal(true);
    expect(new Set(removed.filter((k) => k.startsWith('cpr:acme-contacts:{') && !k.includes('{p:')).map((k) => k.split('}')[0])).size, 'one caller').to.equal(1);
    expect(recordJobs.length, 'its record jobs').to.be.greaterThan(0);
    // (the profile's index of lookups is not in the report: it is the profile's, it only lost the caller's members)
    const reported = removed.filter((k) => !k.endsWith(':lookups'));
    expect(report.erased.callerEntries + report.erased.contactHistories + report.erased.records, `${JSON.stringify(report.erased)} against the keys removed: ${reported.join(' ')}`).to.equal(reported.length);
    // nothing else: no other key removed or added, and the only changed keys are BullMQ's indexes of the removed jobs
    expect(added, 'keys added').to.deep.equal([]);
    for (const key of changed) expect(key, 'a changed key').to.match(/:contact-records:(completed|failed|wait|delayed|events|prioritized)$/);
    // the other callers are still answered from the cache, as before
    for (const c of [callers[0]!, callers[2]!]) {
      const calls = fake.lookupCalls().length;
      const r = await postEvent(app.url, contact(c));
      expect(r.body.customerStatus).to.equal('KNOWN');
      expect(fake.lookupCalls().length, 'a cache hit').to.equal(calls);
    }
    // and the erased caller is a stranger again: looked up afresh, not a repeat contact
    const calls = fake.lookupCalls().length;
    const back = await postEvent(app.url, contact(target));
    expect(fake.lookupCalls().length).to.equal(calls + 1);
    expect(back.body.isRepeatContact).to.equal('false');
  });
});

describe('erasure without Redis (in-process state)', () => {
  let app: RunningService;
  before(async () => {
    app = await startService({ ADMIN_TOKENS: ADMIN });
  });
  after(() => app.stop());

  it('forgets the caller’s cache entry, answers and history, and keeps the other callers’', async () => {
    const uk = eventFrom('voice-uk.json', { contactId: '55555555-0000-4000-8000-000000000001' });
    const other = eventFrom('email-channel.json', { contactId: '55555555-0000-4000-8000-000000000002' });
    await postEvent(app.url, uk);
    await postEvent(app.url, other);
    await postEvent(app.url, eventFrom('email-channel.json', { contactId: '55555555-0000-4000-8000-000000000003' }));

    const res = await fetch(`${app.url}/v1/admin/erase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ phoneNumber: '+442079460958' }),
    });
    const { erased } = (await res.json()) as { erased: Record<string, number> };
    const ukAgain = await postEvent(app.url, uk); // same ContactId: its kept answer is gone, so it is resolved afresh
    const otherAgain = await postEvent(app.url, eventFrom('email-channel.json', { contactId: '55555555-0000-4000-8000-000000000004' }));

    expect(erased).to.deep.include({ callerEntries: 2, contactHistories: 1 });
    expect(ukAgain.body).to.include({ customerStatus: 'KNOWN', isRepeatContact: 'false' });
    expect(otherAgain.body).to.include({ customerStatus: 'KNOWN', isRepeatContact: 'true' });
  });
});
