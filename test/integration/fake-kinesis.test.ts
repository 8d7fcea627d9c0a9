// The fake's Kinesis and the Customer Profiles event stream it writes to, through the real AWS SDK clients.
import { expect } from 'chai';
import {
  ChildShard$,
  GetRecordsCommand,
  GetRecordsOutput$,
  GetShardIteratorCommand,
  GetShardIteratorOutput$,
  HashKeyRange$,
  KinesisClient,
  ListShardsCommand,
  ListShardsOutput$,
  PutRecordCommand,
  SequenceNumberRange$,
  Shard$,
  _Record$,
  type GetShardIteratorCommandInput,
} from '@aws-sdk/client-kinesis';
import {
  AddProfileKeyCommand,
  CreateProfileCommand,
  CustomerProfilesClient,
  PutProfileObjectCommand,
  PutProfileObjectTypeCommand,
  UpdateProfileCommand,
} from '@aws-sdk/client-customer-profiles';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { FakeAws } from '../support/fake-aws.js';
import { FakeKinesis } from '../support/fake-kinesis.js';

const DOMAIN = 'test-domain';
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
type SdkError = Error & { $metadata?: { httpStatusCode?: number } };

async function failure(p: Promise<unknown>): Promise<[string, number | undefined]> {
  try {
    await p;
  } catch (e) {
    return [(e as SdkError).name, (e as SdkError).$metadata?.httpStatusCode];
  }
  throw new Error('expected the call to fail, it succeeded');
}

const text = (data: Uint8Array | undefined) => Buffer.from(data ?? new Uint8Array()).toString('utf8');

describe('fake AWS: Kinesis (real SDK)', () => {
  const fake = new FakeAws({ domains: [DOMAIN], profileWriteIntervalMs: 0 });
  let kinesis: KinesisClient;
  let profiles: CustomerProfilesClient;

  before(async () => {
    await fake.start();
    // one attempt: the SDK retries throttling (ProvisionedThroughputExceededException) and 5xx itself otherwise;
    // HTTP/1.1, as the service reads the stream (the Kinesis client's default handler speaks HTTP/2, for SubscribeToShard)
    kinesis = new KinesisClient({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1, requestHandler: new NodeHttpHandler() });
    profiles = new CustomerProfilesClient({ region: 'us-east-1', endpoint: fake.url, credentials, maxAttempts: 1 });
  });
  after(async () => {
    kinesis.destroy();
    profiles.destroy();
    await fake.stop();
  });
  beforeEach(() => {
    fake.reset();
    fake.kinesis.clear();
    fake.kinesis.readsPerSecond = 5;
    fake.setEventStream(undefined);
  });

  const iterator = async (input: Omit<GetShardIteratorCommandInput, 'ShardIteratorType'> & { ShardIteratorType: GetShardIteratorCommandInput['ShardIteratorType'] }) =>
    (await kinesis.send(new GetShardIteratorCommand(input))).ShardIterator!;

  it('lists a stream\'s shards by ARN or by name, a page at a time, with hash key and sequence number ranges', async () => {
    const arn = fake.kinesis.createStream('events', 3);
    expect(arn).to.equal('arn:aws:kinesis:us-east-1:123456789012:stream/events');
    const first = await kinesis.send(new ListShardsCommand({ StreamARN: arn, MaxResults: 2 }));
    expect(first.Shards!.map((s) => s.ShardId)).to.deep.equal(['shardId-000000000000', 'shardId-000000000001']);
    expect(first.NextToken).to.be.a('string');
    const second = await kinesis.send(new ListShardsCommand({ NextToken: first.NextToken }));
    expect(second.Shards!.map((s) => s.ShardId)).to.deep.equal(['shardId-000000000002']);
    expect(second.NextToken).to.equal(undefined);
    const all = (await kinesis.send(new ListShardsCommand({ StreamName: 'events' }))).Shards!;
    expect(all[0]!.HashKeyRange!.StartingHashKey).to.equal('0');
    expect(all[2]!.HashKeyRange!.EndingHashKey).to.equal(((1n << 128n) - 1n).toString());
    expect(all[0]!.SequenceNumberRange!.StartingSequenceNumber).to.match(/^\d{56}$/);
    expect(await failure(kinesis.send(new ListShardsCommand({ StreamName: 'other' })))).to.deep.equal(['ResourceNotFoundException', 400]);
    expect(await failure(kinesis.send(new ListShardsCommand({ NextToken: first.NextToken, StreamARN: arn })))).to.deep.equal(['InvalidArgumentException', 400]);
  });

  it('reads a shard from TRIM_HORIZON, LATEST, AT_ and AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP, in order, with the data as written', async () => {
    fake.kinesis.readsPerSecond = 0; // more reads of the shard than a second allows
    const arn = fake.kinesis.createStream('events');
    const put = async (pk: string, data: string) => (await kinesis.send(new PutRecordCommand({ StreamARN: arn, PartitionKey: pk, Data: Buffer.from(data) }))).SequenceNumber!;
    const s1 = await put('a', 'one');
    const s2 = await put('b', 'two');
    expect(BigInt(s2) > BigInt(s1)).to.equal(true);
    const latest = await iterator({ StreamARN: arn, ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' });
    const s3 = await put('a', 'three');

    const fromStart = await kinesis.send(new GetRecordsCommand({ StreamARN: arn, ShardIterator: await iterator({ StreamARN: arn, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }) }));
    expect(fromStart.Records!.map((r) => [r.SequenceNumber, r.PartitionKey, text(r.Data)])).to.deep.equal([[s1, 'a', 'one'], [s2, 'b', 'two'], [s3, 'a', 'three']]);
    expect(fromStart.Records![0]!.ApproximateArrivalTimestamp).to.be.instanceOf(Date);
    expect(fromStart.MillisBehindLatest).to.equal(0);
    expect(fromStart.NextShardIterator).to.be.a('string');

    expect((await kinesis.send(new GetRecordsCommand({ ShardIterator: latest }))).Records!.map((r) => text(r.Data))).to.deep.equal(['three']);
    const at = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: s2 });
    expect((await kinesis.send(new GetRecordsCommand({ ShardIterator: at, Limit: 1 }))).Records!.map((r) => text(r.Data))).to.deep.equal(['two']);
    const after = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: s2 });
    const rest = await kinesis.send(new GetRecordsCommand({ ShardIterator: after }));
    expect(rest.Records!.map((r) => text(r.Data))).to.deep.equal(['three']);
    // the next iterator reads what comes after
    const s4 = await put('c', 'four');
    const next = await kinesis.send(new GetRecordsCommand({ ShardIterator: rest.NextShardIterator }));
    expect(next.Records!.map((r) => r.SequenceNumber)).to.deep.equal([s4]);
    const future = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() + 60_000) });
    expect((await kinesis.send(new GetRecordsCommand({ ShardIterator: future }))).Records).to.deep.equal([]);
    const past = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(0) });
    expect((await kinesis.send(new GetRecordsCommand({ ShardIterator: past }))).Records).to.have.length(4);

    expect(await failure(iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: '1234' })))
      .to.deep.equal(['InvalidArgumentException', 400]);
    expect(await failure(iterator({ StreamName: 'events', ShardId: 'shardId-000000000009', ShardIteratorType: 'LATEST' }))).to.deep.equal(['ResourceNotFoundException', 400]);
    expect(await failure(kinesis.send(new GetRecordsCommand({ ShardIterator: next.NextShardIterator, Limit: 10_001 })))).to.deep.equal(['InvalidArgumentException', 400]);
  });

  it('says how far behind the tip a read is (MillisBehindLatest) while records are left', async () => {
    fake.kinesis.createStream('events');
    for (let i = 0; i < 3; i++) fake.kinesis.put('events', 'k', `r${i}`);
    const it = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' });
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1 }));
    expect(page.Records).to.have.length(1);
    expect(page.MillisBehindLatest).to.be.a('number').and.at.least(0);
    const rest = await kinesis.send(new GetRecordsCommand({ ShardIterator: page.NextShardIterator, Limit: 10 }));
    expect(rest.Records).to.have.length(2);
    expect(rest.MillisBehindLatest).to.equal(0);
  });

  it('refuses a shard\'s sixth GetRecords within a second (five a second per shard): ProvisionedThroughputExceededException', async () => {
    fake.kinesis.createStream('events', 2);
    let it = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' });
    const started = Date.now();
    for (let i = 0; i < 5; i++) it = (await kinesis.send(new GetRecordsCommand({ ShardIterator: it }))).NextShardIterator!;
    const refused = await failure(kinesis.send(new GetRecordsCommand({ ShardIterator: it })));
    // (meaningful only if the five fitted in the second)
    expect(Date.now() - started).to.be.below(1000);
    expect(refused).to.deep.equal(['ProvisionedThroughputExceededException', 400]);
    // the other shard has its own five
    const other = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000001', ShardIteratorType: 'LATEST' });
    expect((await kinesis.send(new GetRecordsCommand({ ShardIterator: other }))).Records).to.deep.equal([]);
  });

  it('a closed (split) shard is read to its end, then names its children; new records go to the children', async () => {
    fake.kinesis.createStream('events');
    fake.kinesis.put('events', 'k1', 'before');
    const [a, b] = fake.kinesis.splitShard('events', 'shardId-000000000000');
    const after = fake.kinesis.put('events', 'k1', 'after');
    expect([a, b]).to.include(after.shardId);
    const shards = (await kinesis.send(new ListShardsCommand({ StreamName: 'events' }))).Shards!;
    expect(shards.map((s) => [s.ShardId, s.ParentShardId])).to.deep.equal([['shardId-000000000000', undefined], [a, 'shardId-000000000000'], [b, 'shardId-000000000000']]);
    expect(shards[0]!.SequenceNumberRange!.EndingSequenceNumber).to.match(/^\d+$/);
    const it = await iterator({ StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' });
    const last = await kinesis.send(new GetRecordsCommand({ ShardIterator: it }));
    expect(last.Records!.map((r) => text(r.Data))).to.deep.equal(['before']);
    expect(last.NextShardIterator).to.equal(undefined);
    expect(last.ChildShards!.map((c) => [c.ShardId, c.ParentShards])).to.deep.equal([[a, ['shardId-000000000000']], [b, ['shardId-000000000000']]]);
  });

  it("answers in the model's shapes: every wire member is one of the SDK schema's, the required ones present, timestamps in epoch seconds", async () => {
    // the SDK reads what it knows and drops the rest: a member the real service never sends would go unseen
    // through the client, so the wire itself is checked against the installed SDK's schemas (the AWS model's)
    const wire = async (operation: string, input: Record<string, unknown>) => {
      const res = await fetch(fake.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Kinesis_20131202.${operation}` },
        body: JSON.stringify(input),
      });
      expect(res.status, operation).to.equal(200);
      return (await res.json()) as Record<string, unknown>;
    };
    type Schema = readonly unknown[];
    const shapeOf = (schema: Schema, value: unknown, where: string): void => {
      const [, , name, , members, , required = 0] = schema as [number, string, string, number, string[], unknown[], number?];
      const object = value as Record<string, unknown>;
      expect(Object.keys(object).filter((k) => !members.includes(k)), `${where} (${name}): members not in the model`).to.deep.equal([]);
      expect(members.slice(0, required).filter((k) => object[k] === undefined), `${where} (${name}): required members missing`).to.deep.equal([]);
    };
    fake.kinesis.createStream('events');
    fake.kinesis.put('events', 'k1', 'one');
    const [left] = fake.kinesis.splitShard('events', 'shardId-000000000000');
    fake.kinesis.put('events', 'k1', 'two');

    const list = await wire('ListShards', { StreamName: 'events' });
    shapeOf(ListShardsOutput$, list, 'ListShards');
    const shards = list.Shards as Array<Record<string, unknown>>;
    expect(shards).to.have.length(3);
    for (const shard of shards) {
      shapeOf(Shard$, shard, `Shard ${String(shard.ShardId)}`);
      shapeOf(HashKeyRange$, shard.HashKeyRange, 'HashKeyRange');
      shapeOf(SequenceNumberRange$, shard.SequenceNumberRange, 'SequenceNumberRange');
    }
    const iterator = await wire('GetShardIterator', { StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' });
    shapeOf(GetShardIteratorOutput$, iterator, 'GetShardIterator');
    // the closed parent: its record, no next iterator, its children
    const read = await wire('GetRecords', { ShardIterator: iterator.ShardIterator });
    shapeOf(GetRecordsOutput$, read, 'GetRecords');
    const [record] = read.Records as Array<Record<string, unknown>>;
    shapeOf(_Record$, record, 'Record');
    for (const child of read.ChildShards as Array<Record<string, unknown>>) {
      shapeOf(ChildShard$, child, 'ChildShard');
      shapeOf(HashKeyRange$, child.HashKeyRange, 'ChildShard HashKeyRange');
    }
    // Data is a blob (base64 on the wire), ApproximateArrivalTimestamp a timestamp (epoch seconds, fractional)
    expect(Buffer.from(String(record!.Data), 'base64').toString('utf8')).to.equal('one');
    expect(record!.ApproximateArrivalTimestamp).to.be.a('number').and.within(Date.now() / 1000 - 60, Date.now() / 1000 + 1);
    // an open child: records and a next iterator, no children
    const childIterator = await wire('GetShardIterator', { StreamName: 'events', ShardId: left, ShardIteratorType: 'TRIM_HORIZON' });
    const open = await wire('GetRecords', { ShardIterator: childIterator.ShardIterator });
    shapeOf(GetRecordsOutput$, open, 'GetRecords (open shard)');
    expect(open.NextShardIterator).to.be.a('string');
    expect(open.MillisBehindLatest).to.be.a('number');
  });

  it('an iterator expires 5 minutes after it was handed out: ExpiredIteratorException', () => {
    let now = Date.parse('2024-01-01T00:00:00Z');
    const k = new FakeKinesis('us-east-1', () => now);
    k.createStream('events');
    const { ShardIterator } = k.handle('GetShardIterator', { StreamName: 'events', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' });
    now += 300_001;
    expect(() => k.handle('GetRecords', { ShardIterator })).to.throw(/Iterator expired/).with.property('errorType', 'ExpiredIteratorException');
  });

  it('injected faults and latency reach Kinesis operations as they reach the others', async () => {
    fake.kinesis.createStream('events');
    fake.fail({ status: 500, errorType: 'InternalFailureException', operations: ['ListShards'], times: 1 });
    expect(await failure(kinesis.send(new ListShardsCommand({ StreamName: 'events' })))).to.deep.equal(['InternalFailureException', 500]);
    expect((await kinesis.send(new ListShardsCommand({ StreamName: 'events' }))).Shards).to.have.length(1);
    expect(fake.callsTo('ListShards').map((c) => [c.service, c.status])).to.deep.equal([['kinesis', 500], ['kinesis', 200]]);
  });

  describe('the event stream of a domain (real-time export)', () => {
    const events = () => fake.kinesis.events('profile-events');
    const partitionKeys = () => fake.kinesis.records('profile-events').map((r) => r.partitionKey);

    it('CreateProfile and UpdateProfile write a `_profile` CREATED and UPDATED record with the profile as it is, keyed by its id', async () => {
      expect(fake.setEventStream('profile-events', { shards: 2 })).to.equal('arn:aws:kinesis:us-east-1:123456789012:stream/profile-events');
      const { ProfileId } = await profiles.send(new CreateProfileCommand({ DomainName: DOMAIN, FirstName: 'Ada', PhoneNumber: '+14255550100' }));
      await profiles.send(new UpdateProfileCommand({ DomainName: DOMAIN, ProfileId: ProfileId!, FirstName: 'Grace' }));
      await profiles.send(new AddProfileKeyCommand({ DomainName: DOMAIN, ProfileId: ProfileId!, KeyName: '_account', Values: ['A-1'] }));
      const [created, updated, ...more] = events();
      expect(more).to.deep.equal([]);
      expect(Object.keys(created!)).to.deep.equal(['SchemaVersion', 'EventId', 'EventTimestamp', 'EventType', 'DomainName', 'ObjectTypeName',
        'AssociatedProfileId', 'ProfileObjectUniqueKey', 'Object', 'IsMessageRealTime']);
      expect(created).to.include({ SchemaVersion: 0, EventType: 'CREATED', DomainName: DOMAIN, ObjectTypeName: '_profile', AssociatedProfileId: ProfileId, IsMessageRealTime: true });
      expect(created!.Object).to.deep.equal({ FirstName: 'Ada', PhoneNumber: '+14255550100', ProfileId });
      expect(updated).to.include({ EventType: 'UPDATED', ObjectTypeName: '_profile' });
      expect(updated!.Object).to.deep.equal({ FirstName: 'Grace', PhoneNumber: '+14255550100', ProfileId });
      expect(Date.parse(String(updated!.EventTimestamp))).to.be.closeTo(Date.now(), 5000);
      expect(created!.EventId).to.not.equal(updated!.EventId);
      expect(partitionKeys()).to.deep.equal([ProfileId, ProfileId]);
    });

    it('PutProfileObject writes the object\'s record, and the profile\'s when the object changed it', async () => {
      fake.setEventStream('profile-events');
      await profiles.send(new PutProfileObjectTypeCommand({
        DomainName: DOMAIN, ObjectTypeName: 'Loyalty', Description: 'loyalty', AllowProfileCreation: false,
        Fields: { phone: { Source: '_source.phone', Target: '_profile.PhoneNumber' }, tier: { Source: '_source.tier', Target: '_profile.Attributes.tier' }, id: { Source: '_source.id' } },
        Keys: { _phone: [{ StandardIdentifiers: ['PROFILE'], FieldNames: ['phone'] }], loyaltyId: [{ StandardIdentifiers: ['UNIQUE'], FieldNames: ['id'] }] },
      }));
      const p = fake.seedProfile({ PhoneNumber: '+14255550100' });
      const put = (tier: string) => profiles.send(new PutProfileObjectCommand({ DomainName: DOMAIN, ObjectTypeName: 'Loyalty', Object: JSON.stringify({ phone: '+14255550100', tier, id: 'L1' }) }));
      const { ProfileObjectUniqueKey } = await put('gold');
      await put('gold');
      const [object, profile, again, ...more] = events();
      expect(object).to.include({ EventType: 'CREATED', ObjectTypeName: 'Loyalty', AssociatedProfileId: p.ProfileId, ProfileObjectUniqueKey });
      expect(object!.Object).to.deep.equal({ phone: '+14255550100', tier: 'gold', id: 'L1' });
      expect(profile).to.include({ EventType: 'UPDATED', ObjectTypeName: '_profile' });
      expect(profile!.Object).to.deep.equal({ PhoneNumber: '+14255550100', ProfileId: p.ProfileId, Attributes: { tier: 'gold' } });
      // the same object again: the object is replaced (its UNIQUE key), the profile does not change
      expect(again).to.include({ EventType: 'UPDATED', ObjectTypeName: 'Loyalty' });
      expect(more).to.deep.equal([]);
    });

    it('a merge writes one MERGED record: the profile kept, MergeId, and the profiles merged into it', () => {
      fake.setEventStream('profile-events');
      const main = fake.seedProfile({ FirstName: 'Ada', PhoneNumber: '+14255550100' });
      const dup = fake.seedProfile({ FirstName: 'Ada L.', EmailAddress: 'ada@example.com' });
      const mergeId = fake.seedMerge(main.ProfileId, [dup.ProfileId]);
      const [merged, ...more] = events();
      expect(more).to.deep.equal([]);
      expect(merged).to.include({ EventType: 'MERGED', ObjectTypeName: '_profile', AssociatedProfileId: null, MergeId: mergeId });
      expect(merged!.Object).to.deep.equal({ FirstName: 'Ada', PhoneNumber: '+14255550100', ProfileId: main.ProfileId, EmailAddress: 'ada@example.com' });
      expect(merged!.DuplicateProfiles).to.deep.equal([{ FirstName: 'Ada L.', EmailAddress: 'ada@example.com', ProfileId: dup.ProfileId }]);
      expect(fake.profiles().map((p) => p.ProfileId)).to.deep.equal([main.ProfileId]);
      expect(fake.history(dup.ProfileId).map((r) => r.actionType)).to.deep.equal(['DELETED_BY_MERGE']);
    });

    it('is set over the control API too (a fake in another process): POST /__fake/event-stream', async () => {
      const res = await fetch(`${fake.url}/__fake/event-stream`, { method: 'POST', body: JSON.stringify({ streamName: 'profile-events', shards: 2 }) });
      expect(await res.json()).to.deep.equal({ StreamARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/profile-events' });
      expect((await kinesis.send(new ListShardsCommand({ StreamName: 'profile-events' }))).Shards).to.have.length(2);
      await profiles.send(new CreateProfileCommand({ DomainName: DOMAIN, FirstName: 'Ada' }));
      expect(events().map((e) => e.EventType)).to.deep.equal(['CREATED']);
      const bad = await fetch(`${fake.url}/__fake/event-stream`, { method: 'POST', body: JSON.stringify({ streamName: 'x', shards: 0 }) });
      expect(bad.status).to.equal(400);
    });

    it('writes nothing without an event stream, nor for another domain, nor for what is seeded', async () => {
      fake.setEventStream('profile-events', { domain: 'other-domain' });
      fake.setDomain('other-domain');
      fake.seedProfile({ FirstName: 'Seeded' }, 'other-domain');
      await profiles.send(new CreateProfileCommand({ DomainName: DOMAIN, FirstName: 'Ada' }));
      expect(events()).to.deep.equal([]);
      fake.setEventStream(undefined, { domain: 'other-domain' });
      await profiles.send(new CreateProfileCommand({ DomainName: 'other-domain', FirstName: 'Ada' }));
      expect(events()).to.deep.equal([]);
    });
  });
});
