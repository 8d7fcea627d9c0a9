// Where the reader's Kinesis calls go, as the real SDK resolves them (nothing is sent: the request is stopped just
// before it would be).
import { expect } from 'chai';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisEventSource } from '../../src/stream/kinesis.js';

const ARN = 'arn:aws:kinesis:eu-west-2:111122223333:stream/connect-profile-resolver';

describe('the event stream reader: where its Kinesis calls go', () => {
  it("names the stream, so the SDK calls Kinesis' regional endpoint, not the account-specific ones", async () => {
    const client = new KinesisClient({ region: 'eu-west-2', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
    const sent: Array<{ host: string; target: string; body: Record<string, unknown> }> = [];
    client.middlewareStack.add(
      (_next) => (args) => {
        const request = args.request as { hostname: string; headers: Record<string, string>; body: string };
        sent.push({ host: request.hostname, target: request.headers['x-amz-target']!, body: JSON.parse(request.body) as Record<string, unknown> });
        return Promise.reject(new Error('not sent'));
      },
      { step: 'finalizeRequest' },
    );
    const source = new KinesisEventSource(client, ARN);
    const settle = (p: Promise<unknown>) => p.then(() => 'answered', () => 'stopped');
    expect([await settle(source.shards()), await settle(source.iterator('shardId-000000000000', { kind: 'trim-horizon' })), await settle(source.read('an-iterator', 100))]).to.deep.equal([
      'stopped',
      'stopped',
      'stopped',
    ]);
    client.destroy();
    // with a StreamARN the SDK would call 111122223333.control-kinesis.eu-west-2.amazonaws.com and
    // 111122223333.data-kinesis.eu-west-2.amazonaws.com (its endpoint rules), names AWS does not list for the
    // kinesis-streams interface endpoint's private DNS
    expect(sent.map((s) => [s.target, s.host])).to.deep.equal([
      ['Kinesis_20131202.ListShards', 'kinesis.eu-west-2.amazonaws.com'],
      ['Kinesis_20131202.GetShardIterator', 'kinesis.eu-west-2.amazonaws.com'],
      ['Kinesis_20131202.GetRecords', 'kinesis.eu-west-2.amazonaws.com'],
    ]);
    expect(sent.map((s) => s.body.StreamName)).to.deep.equal(['connect-profile-resolver', 'connect-profile-resolver', undefined]);
    expect(sent.filter((s) => 'StreamARN' in s.body)).to.deep.equal([]);
  });

  it('refuses what is not a stream ARN', () => {
    expect(() => new KinesisEventSource(new KinesisClient({ region: 'eu-west-2' }), 'arn:aws:kinesis:eu-west-2:111122223333:consumer/x')).to.throw(/not a Kinesis stream ARN/);
  });
});
