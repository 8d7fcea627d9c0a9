// Checks that the benchmark's index (fake-index.ts) does not change what the fake answers:
//   npx tsx bench/check-fake-index.ts
// SearchProfiles on random hits, misses and multi-key queries, indexed vs the fake's own scan; then
// PutProfileObject through the index lands on the same profile as the scan would pick.
import { installFakeIndex, checkIndexedSearch } from './fake-index.js';
import { FakeAws } from '../test/support/fake-aws.js';

installFakeIndex();
const domain = 'check-domain';
const fake = new FakeAws({ domains: [domain], profileWriteIntervalMs: 0 });
const national = (e164: string): string => e164.slice(2);
for (let i = 0; i < 3000; i++) {
  const n = `+1425${String(2000000 + i)}`;
  // some profiles hold legacy spellings, some share a number (several matches), some hold it in another field
  const field = i % 7 === 0 ? 'MobilePhoneNumber' : 'PhoneNumber';
  fake.seedProfile({ [field]: i % 11 === 0 ? national(n) : n, FirstName: `F${i}` }, domain);
  if (i % 13 === 0) fake.seedProfile({ PhoneNumber: n, FirstName: `Dup${i}` }, domain);
}
const problems = checkIndexedSearch(fake, domain, 2000);
// profiles created after the index exists are found too
const late = fake.seedProfile({ PhoneNumber: '+14259999999' }, domain);
problems.push(...checkIndexedSearch(fake, domain, 200));
const url = await fake.start(0);
const res = await fetch(`${url}/domains/${domain}/profiles/search`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ KeyName: '_phone', Values: ['+14259999999'] }),
});
const found = (await res.json()) as { Items: Array<{ ProfileId: string }> };
if (found.Items.length !== 1 || found.Items[0]?.ProfileId !== late.ProfileId) problems.push('a profile seeded after the index was built is not found');
await fake.stop();
if (problems.length > 0) {
  console.error(`indexed search differs from the fake's scan on ${problems.length} queries, e.g. ${problems.slice(0, 3).join(', ')}`);
  process.exit(1);
}
console.log('fake index: SearchProfiles answers identical to the full scan on 2,200 queries');
