// Duplicates seen live, merged on approval: two replicas of the real service composition, the real SDK against the
// AWS fake and a real redis-server; `npm run duplicates` run as the process an operator runs.
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { duplicateSetId } from '../../src/domain/duplicates.js';
import { StateKeys } from '../../src/cache/keys.js';
import { loadConfig } from '../../src/config/index.js';
import { normalisePhone } from '../../src/domain/identity.js';
import { eventFrom } from '../support/fixtures.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { runScript, type ProcessRun } from '../support/process.js';
import { useRedisServer } from '../support/redis.js';
import { postEvent, REPO_ROOT, startService, type RunningService } from '../support/service.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-duplicates';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDTESTFAKE', AWS_SECRET_ACCESS_KEY: 'fake-secret', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const BASE = `cpr:${DOMAIN}:{dups}`;

let seq = 0;
const contactId = () => `55555555-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
const voice = (phone: string, id = contactId(), parameters: Record<string, string> = {}) => eventFrom('voice-e164.json', { address: phone, contactId: id, parameters });

describe('duplicates seen live, merged on approval (two replicas + SDK + fake + Redis + the command)', function () {
  this.timeout(90_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  const redis = useRedisServer();
  let client: Redis;
  let env: Record<string, string>;
  let apps: RunningService[] = [];
  const defaults = loadConfig({}, REPO_ROOT);
  const keys = new StateKeys(`cpr:${DOMAIN}`, defaults.identityHashSecret, defaults.attributeMapping);

  const start = async () => {
    const app = await startService({ ...env, RECORD_WORKER: 'false' });
    apps.push(app);
    return app;
  };
  const resolve = async (app: RunningService, event: Record<string, unknown>) => {
    const r = await postEvent(app.url, event);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body;
  };
  const duplicates = (args: string[]): Promise<ProcessRun> => runScript('src/cli/duplicates.ts', args, { ...env, ...CREDENTIALS }, 30_000);
  /** the count Redis holds for a set, 0 when it has none */
  const countOf = async (id: string) => Number((await client.zscore(`${BASE}:sets`, id)) ?? 0);

  before(() => {
    env = { CUSTOMER_PROFILES_DOMAIN: DOMAIN, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url, REDIS_URL: redis().url };
    client = redis().client();
  });
  after(() => client.disconnect());
  beforeEach(async () => {
    fake.reset();
    await redis().flush();
  });
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    apps = [];
  });

  it('MULTIPLE answers on both replicas, fresh and from the cache, record one set with their count (a Connect retry not counted); the command lists it, shows what differs, merges it on --yes; then both replicas answer the survivor', async () => {
    const phone = '+12065550142';
    const main = fake.seedProfile({ PhoneNumber: phone, FirstName: 'Ann', LastName: 'Lee', Attributes: { tier: 'gold' } });
    const other = fake.seedProfile({ MobilePhoneNumber: phone, FirstName: 'Anne', LastName: 'Lee', EmailAddress: 'ann@example.com' });
    const [a, b] = [await start(), await start()];
    const id = duplicateSetId({ ids: [main.ProfileId, other.ProfileId].sort(), key: '_phone', keyHash: keys.identityTag(normalisePhone(phone, 'US')!) });

    // the first a fresh lookup, the rest cache hits (one script each on a single Redis), on both replicas
    const retried = contactId();
    const answers = [
      await resolve(a, voice(phone, retried)),
      await resolve(b, voice(phone)),
      await resolve(a, voice(phone)),
      await resolve(b, voice(phone)),
      await resolve(b, voice(phone, retried)), // Connect's retry: the kept answer, not a new sighting
    ];
    expect(answers.map((x) => x.customerStatus)).to.deep.equal(['MULTIPLE', 'MULTIPLE', 'MULTIPLE', 'MULTIPLE', 'MULTIPLE']);
    expect(fake.callsTo('SearchProfiles')).to.have.length(1);
    await until('the four answers noted', async () => (await countOf(id)) === 4);

    expect(await client.zrange(`${BASE}:sets`, 0, -1)).to.deep.equal([id]);
    const stored = await client.hgetall(`${BASE}:set:${id}`);
    expect(stored).to.include({ ids: [main.ProfileId, other.ProfileId].sort().join(','), key: '_phone', count: '4' });
    expect(stored.keyHash).to.match(/^[A-Za-z0-9_-]{22}$/);
    expect(Number(stored.last)).to.be.at.least(Number(stored.first));
    // a keyed hash only: no number in clear (read whole, by type: DUMP's payload may be compressed), and every key has a TTL
    for (const k of await client.keys(`${BASE}*`)) {
      const type = await client.type(k);
      const content = type === 'hash' ? await client.hgetall(k) : type === 'zset' ? await client.zrange(k, 0, -1, 'WITHSCORES') : await client.get(k);
      expect(type, k).to.be.oneOf(['hash', 'zset', 'string']);
      expect(JSON.stringify(content), k).not.to.contain('2065550142').and.not.to.contain('206555');
      expect(await client.pttl(k), k).to.be.above(29 * 86_400_000);
    }

    const list = await duplicates(['list']);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(new RegExp(`^1 duplicate set\\(s\\) in "${DOMAIN}":\n  ${id}  key _phone  2 profiles  seen 4 time\\(s\\)  first \\S+Z  last \\S+Z\n      ${[main.ProfileId, other.ProfileId].sort().join(' ')}\n$`));

    const show = await duplicates(['show', id]);
    expect(show.code, show.stderr).to.equal(0);
    // the fields that differ, each with every profile's value (an operator's screen); LastName is the same: not listed
    expect(show.stdout).to.contain(`    FirstName\n`).and.to.contain(`      ${main.ProfileId}  "Ann"`).and.to.contain(`      ${other.ProfileId}  "Anne"`);
    expect(show.stdout).to.contain(`    EmailAddress\n`).and.to.contain(`      ${main.ProfileId}  (not set)`);
    expect(show.stdout).to.contain('    Attributes.tier\n').and.to.contain('    MobilePhoneNumber\n').and.to.contain('    PhoneNumber\n');
    expect(show.stdout).not.to.contain('LastName');
    expect(show.stdout).to.contain('  5 field(s) differ:\n');

    // without --yes: what the merge would do, and nothing done
    const unconfirmed = await duplicates(['merge', id, '--keep', main.ProfileId, '--from', `FirstName=${other.ProfileId}`]);
    expect(unconfirmed.code).to.equal(1);
    expect(unconfirmed.stdout).to.equal(
      `merge of set ${id} (key _phone), not done:\n` +
        `  keep   ${main.ProfileId}\n` +
        `  merge  ${other.ProfileId}  (deleted: its keys and objects move to ${main.ProfileId})\n` +
        `  fields: FirstName from ${other.ProfileId}; on any other conflict ${main.ProfileId}'s value stays\n`,
    );
    expect(unconfirmed.stderr.trimEnd().split('\n')).to.have.length(1);
    expect(unconfirmed.stderr).to.contain('--yes');
    expect(fake.callsTo('MergeProfiles')).to.have.length(0);
    expect(fake.profiles()).to.have.length(2);

    const indexed = async (profileId: string) => client.exists(keys.profileLookups(profileId));
    const survivorIndexed = await indexed(main.ProfileId);
    const merged = await duplicates(['merge', id, '--keep', main.ProfileId, '--from', `FirstName=${other.ProfileId}`, '--yes']);
    expect(merged.code, merged.stderr).to.equal(0);
    expect(merged.stdout).to.contain(`merged 1 profile(s) into ${main.ProfileId}`).and.to.contain('removed 1 duplicate set(s); dropped 1 cached lookup(s)');
    expect(fake.callsTo('MergeProfiles').map((c) => c.body)).to.deep.equal([
      { MainProfileId: main.ProfileId, ProfileIdsToBeMerged: [other.ProfileId], FieldSourceProfileIds: { FirstName: other.ProfileId } },
    ]);
    expect(fake.profiles().map((p) => p.ProfileId)).to.deep.equal([main.ProfileId]);
    expect(await client.keys(`${BASE}:set:*`)).to.deep.equal([]);
    expect((await duplicates(['list'])).stdout).to.equal(`0 duplicate set(s) in "${DOMAIN}":\n`);
    // the merged-away profile's lookup index goes; the survivor's stays (a lookup of it cached meanwhile is found
    // through it by the survivor's next change)
    expect(survivorIndexed, 'the MULTIPLE lookup is indexed under the profile it chose').to.equal(1);
    expect([await indexed(main.ProfileId), await indexed(other.ProfileId)]).to.deep.equal([1, 0]);

    // the cached MULTIPLE lookup is gone: each replica's next contact searches, finds the survivor alone
    const after = [await resolve(a, voice(phone)), await resolve(b, voice(phone)), await resolve(a, voice(phone))];
    for (const x of after) expect(x).to.include({ customerStatus: 'KNOWN', profileId: main.ProfileId, profileMatchCount: '1', firstName: 'Anne', emailAddress: '' });
    expect(JSON.stringify(after)).not.to.contain(other.ProfileId);
    expect(fake.callsTo('SearchProfiles').filter((c) => (c.body as { KeyName: string }).KeyName === '_phone')).to.have.length(2);
    // nothing MULTIPLE since: no set recorded again
    expect(await client.zcard(`${BASE}:sets`)).to.equal(0);
  });

  it('matches that share no key (the phone finds two, the account number two others, one profile both) are not recorded; a set found by the account number alone is, under _account', async () => {
    const phone = '+12065550143';
    const both = fake.seedProfile({ PhoneNumber: phone, AccountNumber: 'ACME-9001' });
    fake.seedProfile({ MobilePhoneNumber: phone });
    fake.seedProfile({ AccountNumber: 'ACME-9001' });
    const x = fake.seedProfile({ AccountNumber: 'ACME-9002' });
    const y = fake.seedProfile({ AccountNumber: 'ACME-9002' });
    const a = await start();

    const verified = await resolve(a, voice(phone, contactId(), { accountNumber: 'ACME-9001' }));
    const withheld = await resolve(a, eventFrom('voice-withheld-account.json', { contactId: contactId(), parameters: { accountNumber: 'ACME-9002' } }));

    expect(verified).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '3', verification: 'VERIFIED', profileId: both.ProfileId });
    expect(withheld).to.include({ customerStatus: 'MULTIPLE', profileMatchCount: '2' });
    // noted in order: once the second is there, the first would be too
    await until('the account set noted', async () => (await client.zcard(`${BASE}:sets`)) >= 1);
    const ids = await client.zrange(`${BASE}:sets`, 0, -1);
    expect(ids).to.have.length(1);
    const stored = await client.hgetall(`${BASE}:set:${ids[0]}`);
    expect(stored).to.include({ key: '_account', ids: [x.ProfileId, y.ProfileId].sort().join(','), count: '1' });
    expect(JSON.stringify(stored)).not.to.contain('ACME-9002');
  });

  it('an erasure of the caller removes the sets their number found, and no other caller\'s', async () => {
    const [mine, theirs] = ['+12065550147', '+12065550148'];
    for (const phone of [mine, theirs]) for (let i = 0; i < 2; i++) fake.seedProfile({ PhoneNumber: phone, FirstName: `P${i}` });
    const admin = 'an-admin-token-for-the-duplicates-test';
    const app = await startService({ ...env, RECORD_WORKER: 'false', ADMIN_TOKENS: admin });
    apps.push(app);
    await resolve(app, voice(mine));
    await resolve(app, voice(theirs));
    await until('both sets noted', async () => (await client.zcard(`${BASE}:sets`)) === 2);
    const keyHash = keys.identityTag(normalisePhone(theirs, 'US')!);

    const res = await fetch(`${app.url}/v1/admin/erase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ phoneNumber: mine }),
    });

    expect(res.status).to.equal(200);
    const left = await client.zrange(`${BASE}:sets`, 0, -1);
    expect(left).to.have.length(1);
    expect(await client.hget(`${BASE}:set:${left[0]}`, 'keyHash')).to.equal(keyHash);
    expect(await client.keys(`${BASE}:set:*`)).to.have.length(1);
  });

  it('without --yes, with an unknown set, or a --keep outside the set, the command exits 1 with one line and merges nothing', async () => {
    const phone = '+12065550144';
    const p = fake.seedProfile({ PhoneNumber: phone });
    const q = fake.seedProfile({ PhoneNumber: phone });
    await resolve(await start(), voice(phone));
    await until('the set noted', async () => (await client.zcard(`${BASE}:sets`)) === 1);
    const [id] = await client.zrange(`${BASE}:sets`, 0, -1);

    const runs = [
      await duplicates(['merge', id!, '--keep', p.ProfileId]),
      await duplicates(['merge', '0123456789abcdef', '--keep', p.ProfileId, '--yes']),
      await duplicates(['merge', id!, '--keep', 'f'.repeat(32), '--yes']),
      await duplicates(['merge', id!, '--keep', p.ProfileId, '--from', `Nickname=${q.ProfileId}`, '--yes']),
      await duplicates(['show']),
    ];

    for (const r of runs) {
      expect(r.code, r.stdout + r.stderr).to.equal(1);
      // the unconfirmed merge shows what it would do (the test above); the others print nothing
      if (r !== runs[0]) expect(r.stdout).to.equal('');
      expect(r.stderr.trimEnd().split('\n'), r.stderr).to.have.length.at.most(2); // a usage line may follow the reason
      expect(r.stderr).not.to.match(/\n\s+at /);
    }
    expect(runs[0]!.stdout).to.contain(`  keep   ${p.ProfileId}\n  merge  ${q.ProfileId}`).and.to.contain(`  fields: on a conflict ${p.ProfileId}'s value stays`);
    expect(runs[0]!.stderr).to.contain('add --yes');
    expect(runs[1]!.stderr).to.contain('no set 0123456789abcdef');
    expect(runs[2]!.stderr).to.contain('is not one of the set');
    expect(runs[3]!.stderr).to.contain('Nickname');
    expect(fake.callsTo('MergeProfiles')).to.have.length(0);
    expect(fake.profiles()).to.have.length(2);
  });

  it('when MergeProfiles is refused (the task role has no profile:MergeProfiles), exits 1 with one line naming the permission, and keeps the set and the cache', async () => {
    const phone = '+12065550146';
    const p = fake.seedProfile({ PhoneNumber: phone });
    fake.seedProfile({ PhoneNumber: phone });
    const app = await start();
    await resolve(app, voice(phone));
    await until('the set noted', async () => (await client.zcard(`${BASE}:sets`)) === 1);
    const [id] = await client.zrange(`${BASE}:sets`, 0, -1);
    fake.fail({ status: 403, errorType: 'AccessDeniedException', message: 'not authorized to perform profile:MergeProfiles', operations: ['MergeProfiles'] });

    const r = await duplicates(['merge', id!, '--keep', p.ProfileId, '--yes']);
    const verbose = await duplicates(['merge', id!, '--keep', p.ProfileId, '--yes', '--verbose']);

    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/^duplicates: MergeProfiles failed: permission \(AccessDeniedException 403\); fix: .*profile:MergeProfiles.*\n$/);
    expect(verbose.stderr.split('\n')[0]).to.equal(r.stderr.trimEnd());
    expect(verbose.stderr).to.contain('not authorized to perform profile:MergeProfiles');
    expect(fake.profiles()).to.have.length(2);
    expect(await client.zcard(`${BASE}:sets`)).to.equal(1);
    const searches = fake.callsTo('SearchProfiles').length;
    expect((await resolve(app, voice(phone))).customerStatus).to.equal('MULTIPLE');
    expect(fake.callsTo('SearchProfiles').length, 'answered from the cache').to.equal(searches);
  });

  it('matches: what the domain\'s identity resolution says of the set (GetMatches, GetSimilarProfiles), or that it is not enabled', async () => {
    const phone = '+12065550145';
    const p = fake.seedProfile({ PhoneNumber: phone });
    const q = fake.seedProfile({ HomePhoneNumber: phone });
    fake.seedMatches('ML_BASED_MATCHING', [{ matchId: 'ml-1', profileIds: [p.ProfileId, q.ProfileId], confidenceScore: 0.93 }, { profileIds: ['a'.repeat(32), 'b'.repeat(32)] }]);
    await resolve(await start(), voice(phone));
    await until('the set noted', async () => (await client.zcard(`${BASE}:sets`)) === 1);
    const [id] = await client.zrange(`${BASE}:sets`, 0, -1);

    const r = await duplicates(['matches', id!]);

    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.contain(`  GetMatches (job of `).and.to.contain(`): 1 group(s)\n    ml-1  0.93  ${p.ProfileId} ${q.ProfileId}`);
    expect(r.stdout).to.contain('  GetSimilarProfiles ML_BASED_MATCHING: 1 group(s)');
    expect(r.stdout).to.match(/ {2}GetSimilarProfiles RULE_BASED_MATCHING: not available in this domain \(BadRequestException: /);
  });
});
