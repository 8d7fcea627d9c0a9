// Runs a FakeAws as a separate process (benchmarks):
//   node --import tsx test/support/fake-aws-server.ts [--port 0] [--latency-ms 5] [--seed seed.json] [--domain d]...
//     [--account-quota N] [--connect-quota N]
// Prints `FAKE_AWS_URL=http://127.0.0.1:PORT` once listening; exits on SIGTERM/SIGINT.
// Steer it over HTTP: GET /__fake/calls, POST /__fake/latency {ms}, POST /__fake/hang {on, operations?},
// POST /__fake/fail {Fault}, POST /__fake/seed [profiles] | SeedDocument, POST /__fake/reset,
// POST /__fake/quota {accountQuotaPerSecond?, connectQuotaPerSecond?} (0: off), GET /__fake/quota-stats (calls sent
// and refused per second and operation), GET /__fake/objects?type=T&field=F (F of every object of type T),
// GET /__fake/profiles?field=F (F of every profile), GET /__fake/contact-keys[?since=MS] (when each ContactId was
// first written as a _ctrContactId key: {count, at: {ContactId: epoch ms}}), POST /__fake/event-stream {streamName,
// shards?, domain?} (the domain's profile changes go to that Kinesis stream, served on the same port).
// --account-quota N: each Customer Profiles operation answers 429 ThrottlingException past N calls in any 1000 ms;
// --connect-quota N: the same for Connect's UpdateContactAttributes (both off by default).
// A seed (file or POST) is an array of profiles or a SeedDocument (fake-aws.ts):
//   {"profiles": [{"ProfileId": "<32 hex>", "PhoneNumber": "+1..."}],
//    "calculatedAttributes": [{"profileId": "<32 hex>", "values": {"ltv": "120"}, "isDataPartial": false}],
//    "objects": [{"profileId": "<32 hex>", "objectTypeName": "Order", "object": {"orderId": "o-1"}, "uniqueKey": "k1"}],
//    "segments": [{"name": "vip", "profileIds": ["<32 hex>"], "domain": "d", "computedAt": 1764000000000}]}
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FakeAws } from './fake-aws.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'latency-ms': { type: 'string', default: '0' },
    seed: { type: 'string' },
    domain: { type: 'string', multiple: true },
    'account-quota': { type: 'string', default: '0' },
    'connect-quota': { type: 'string', default: '0' },
  },
});

const port = Number(values.port);
const latencyMs = Number(values['latency-ms']);
const accountQuotaPerSecond = Number(values['account-quota']);
const connectQuotaPerSecond = Number(values['connect-quota']);
const wholeNumber = (n: number): boolean => Number.isInteger(n) && n >= 0;
if (!wholeNumber(port) || !Number.isFinite(latencyMs) || latencyMs < 0 || !wholeNumber(accountQuotaPerSecond) || !wholeNumber(connectQuotaPerSecond)) {
  console.error('usage: fake-aws-server [--port N] [--latency-ms N] [--seed FILE] [--domain NAME]... [--account-quota N] [--connect-quota N]');
  process.exit(2);
}

const fake = new FakeAws({ latencyMs, accountQuotaPerSecond, connectQuotaPerSecond, ...(values.domain && { domains: values.domain }) });
if (values.seed) {
  const seed: unknown = JSON.parse(await readFile(values.seed, 'utf8'));
  if (typeof seed !== 'object' || seed === null) throw new Error(`${values.seed}: expected a JSON array of profiles or a seed document`);
  fake.seedDocument(seed);
}

const url = await fake.start(port);
process.stdout.write(`FAKE_AWS_URL=${url}\n`);

const shutdown = (): void => {
  fake.stop().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
