// Kinesis Data Streams as the real @aws-sdk/client-kinesis speaks it (awsJson1_1: POST /, header
// `X-Amz-Target: Kinesis_20131202.<Operation>`, JSON bodies, blobs in base64, timestamps in epoch seconds),
// for the operations a reader of a Customer Profiles event stream sends (ListShards, GetShardIterator,
// GetRecords) and PutRecord, which tests and the Customer Profiles fake write with. FakeAws serves it on
// its own port, routed by the X-Amz-Target prefix (see FakeAws.onRequest).
// Shapes: the installed SDK's schemas (node_modules/@aws-sdk/client-kinesis/dist-es/schemas/schemas_0.js,
// 3.1143): ListShardsInput [StreamName, NextToken, ExclusiveStartShardId, MaxResults, StreamCreationTimestamp,
// ShardFilter, StreamARN, StreamId] -> [Shards, NextToken]; Shard [ShardId, HashKeyRange, SequenceNumberRange,
// ParentShardId, AdjacentParentShardId]; GetShardIteratorInput [ShardId, ShardIteratorType, StreamName,
// StartingSequenceNumber, Timestamp, StreamARN, ...] -> [ShardIterator]; GetRecordsInput [ShardIterator, Limit,
// StreamARN, ...] -> [Records, NextShardIterator, MillisBehindLatest, ChildShards]; Record [SequenceNumber, Data,
// ApproximateArrivalTimestamp, PartitionKey, EncryptionType].
// Limits, from the SDK's documentation of the operations (dist-types/commands/*.d.ts): GetRecords "has a limit of
// five transactions per second per shard" and Limit is at most 10,000; GetShardIterator "has a limit of five
// transactions per second per account per open shard"; "a shard iterator expires 5 minutes after it is returned";
// a closed shard's last GetRecords has no NextShardIterator and lists its ChildShards. Past a limit the call is
// answered 400 ProvisionedThroughputExceededException (calls refused do not count against the window). Not
// modelled: the 2 MiB a second of reads per shard, retention (nothing is ever trimmed), on-demand mode.
import { createHash, randomBytes } from 'node:crypto';

type Json = Record<string, unknown>;

export class KinesisError extends Error {
  constructor(readonly status: number, readonly errorType: string, message: string) { super(message); }
}
const invalid = (message: string): KinesisError => new KinesisError(400, 'InvalidArgumentException', message);

export const KINESIS_TARGET_PREFIX = 'Kinesis_20131202.';
export const FAKE_ACCOUNT = '123456789012';
const ITERATOR_TTL_MS = 5 * 60_000;
const MAX_LIMIT = 10_000;
const HASH_SPACE = 1n << 128n;
// Sequence numbers look like real ones (56 digits, increasing within a shard); their value means nothing else.
const SEQUENCE_BASE = 49_600_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000n;

export interface FakeRecord { sequenceNumber: string; partitionKey: string; data: Buffer; arrivedAt: number }
interface Shard {
  id: string; start: bigint; end: bigint; parent?: string; adjacentParent?: string;
  firstSequence: string; closedAt?: string; records: FakeRecord[];
}
interface Stream { name: string; arn: string; createdAt: number; shards: Shard[] }
interface Iterator { stream: string; shard: string; index: number; issuedAt: number }

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Times of calls in the last 1000 ms (oldest first). */
class Window {
  private times: number[] = [];
  count(at: number): number {
    this.times = this.times.filter((t) => t > at - 1000);
    return this.times.length;
  }
  add(at: number): void { this.times.push(at); }
}

export class FakeKinesis {
  /** every call handled, in order: the operation and its body (Data of PutRecord as sent, base64) */
  readonly calls: Array<{ operation: string; body: Json; at: number; error?: string }> = [];
  private readonly streams = new Map<string, Stream>();
  private readonly iterators = new Map<string, Iterator>();
  private readonly reads = new Map<string, Window>(); // per `${stream}/${shard}/${operation}`
  private sequence = 0n;
  /** the per-shard limit of GetRecords and of GetShardIterator, calls a second (Kinesis': 5); 0 turns it off */
  readsPerSecond = 5;

  constructor(private readonly region = 'us-east-1', private readonly now: () => number = Date.now) {}

  /** A stream of `shards` open shards splitting the hash key space evenly; returns its ARN. */
  createStream(name: string, shards = 1): string {
    if (!/^[a-zA-Z0-9_.-]{1,128}$/.test(name)) throw new Error(`FakeKinesis.createStream: invalid stream name ${name}`);
    if (this.streams.has(name)) throw new Error(`FakeKinesis.createStream: stream ${name} exists`);
    const arn = `arn:aws:kinesis:${this.region}:${FAKE_ACCOUNT}:stream/${name}`;
    const stream: Stream = { name, arn, createdAt: this.now(), shards: [] };
    const width = HASH_SPACE / BigInt(shards);
    for (let i = 0; i < shards; i++) {
      stream.shards.push(this.newShard(stream, BigInt(i) * width, i === shards - 1 ? HASH_SPACE - 1n : BigInt(i + 1) * width - 1n));
    }
    this.streams.set(name, stream);
    return arn;
  }

  /**
   * Splits an open shard in two at the middle of its hash key range (SplitShard): the parent is closed (its
   * records stay readable; its last GetRecords names the children), new records go to the children.
   */
  splitShard(streamName: string, shardId: string): [string, string] {
    const stream = this.stream({ StreamName: streamName });
    const parent = this.shardOf(stream, shardId);
    if (parent.closedAt !== undefined) throw new Error(`FakeKinesis.splitShard: ${shardId} is closed`);
    parent.closedAt = this.nextSequence();
    const middle = parent.start + (parent.end - parent.start) / 2n;
    const a = this.newShard(stream, parent.start, middle, parent.id);
    stream.shards.push(a);
    const b = this.newShard(stream, middle + 1n, parent.end, parent.id);
    stream.shards.push(b);
    return [a.id, b.id];
  }

  /** Appends a record, to the open shard whose hash key range holds the MD5 of the partition key (as Kinesis does). */
  put(streamName: string, partitionKey: string, data: string | Buffer): { shardId: string; sequenceNumber: string } {
    const stream = this.stream({ StreamName: streamName });
    const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
    const shard = stream.shards.find((s) => s.closedAt === undefined && s.start <= hash && hash <= s.end)!;
    const record: FakeRecord = { sequenceNumber: this.nextSequence(), partitionKey, data: Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'), arrivedAt: this.now() };
    shard.records.push(record);
    return { shardId: shard.id, sequenceNumber: record.sequenceNumber };
  }

  /** The records of a stream, every shard, in arrival order. */
  records(streamName: string): Array<FakeRecord & { shardId: string }> {
    const stream = this.stream({ StreamName: streamName });
    return stream.shards.flatMap((s) => s.records.map((r) => ({ ...r, shardId: s.id }))).sort((a, b) => a.arrivedAt - b.arrivedAt);
  }

  /** The JSON records of a stream, parsed. */
  events(streamName: string): Json[] {
    return this.records(streamName).map((r) => JSON.parse(r.data.toString('utf8')) as Json);
  }

  hasStream(name: string): boolean { return this.streams.has(name); }
  arnOf(name: string): string { return this.stream({ StreamName: name }).arn; }

  /** Drops every stream, iterator and call (FakeAws.reset does not call it: a stream outlives a test's profiles, as an object type does). */
  clear(): void {
    this.streams.clear(); this.iterators.clear(); this.reads.clear(); this.calls.splice(0);
  }

  /** One call, as FakeAws routes it (`operation` from X-Amz-Target); throws KinesisError for an error answer. */
  handle(operation: string, body: Json): Json {
    const at = this.now();
    const call: (typeof this.calls)[number] = { operation, body, at };
    this.calls.push(call);
    try {
      switch (operation) {
        case 'ListShards': return this.listShards(body);
        case 'GetShardIterator': return this.getShardIterator(body, at);
        case 'GetRecords': return this.getRecords(body, at);
        case 'PutRecord': return this.putRecord(body);
        default: throw new KinesisError(400, 'UnknownOperationException', `${operation} is not served by this fake`);
      }
    } catch (e) {
      if (e instanceof KinesisError) call.error = e.errorType;
      throw e;
    }
  }

  /** GetRecords calls answered (not refused) per shard. */
  readsOf(streamName: string, shardId: string): Array<{ at: number; error?: string }> {
    return this.calls
      .filter((c) => c.operation === 'GetRecords' && this.iterators.get(String(c.body.ShardIterator))?.stream === streamName &&
        this.iterators.get(String(c.body.ShardIterator))?.shard === shardId)
      .map((c) => ({ at: c.at, ...(c.error && { error: c.error }) }));
  }

  // ---- operations ---------------------------------------------------------------------------------------------

  /** StreamName or StreamARN (both: they must agree), as every operation here takes them. */
  private stream(body: Json): Stream {
    const { StreamName: name, StreamARN: arn } = body;
    if (name === undefined && arn === undefined) throw invalid('Either StreamName or StreamARN should be provided.');
    if (name !== undefined && !isStr(name)) throw invalid('StreamName must be a non-empty string');
    if (arn !== undefined && !isStr(arn)) throw invalid('StreamARN must be a non-empty string');
    const byArn = arn === undefined ? undefined : /^arn:aws:kinesis:[a-z0-9-]+:\d{12}:stream\/([a-zA-Z0-9_.-]+)$/.exec(arn)?.[1];
    if (arn !== undefined && byArn === undefined) throw invalid(`StreamARN ${arn} is not a Kinesis stream ARN`);
    if (name !== undefined && byArn !== undefined && name !== byArn) throw invalid('StreamName and StreamARN name different streams');
    const streamName = (name ?? byArn) as string;
    const stream = this.streams.get(streamName);
    if (!stream || (arn !== undefined && stream.arn !== arn)) {
      throw new KinesisError(400, 'ResourceNotFoundException', `Stream ${streamName} under account ${FAKE_ACCOUNT} not found.`);
    }
    return stream;
  }

  private shardOf(stream: Stream, shardId: unknown): Shard {
    const shard = stream.shards.find((s) => s.id === shardId);
    if (!shard) throw new KinesisError(400, 'ResourceNotFoundException', `Shard ${String(shardId)} in stream ${stream.name} under account ${FAKE_ACCOUNT} does not exist`);
    return shard;
  }

  /** ListShards: every shard, oldest first, MaxResults a page (1..10000, default 1000) and a NextToken (alone: no StreamName with it). */
  private listShards(body: Json): Json {
    if (body.ShardFilter !== undefined || body.ExclusiveStartShardId !== undefined) throw invalid('ShardFilter and ExclusiveStartShardId are not served by this fake');
    const max = body.MaxResults ?? 1000;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 10_000) throw invalid('MaxResults must be between 1 and 10000');
    let stream: Stream;
    let offset = 0;
    if (body.NextToken !== undefined) {
      if (body.StreamName !== undefined || body.StreamARN !== undefined) throw invalid('NextToken and StreamName cannot be provided together.');
      if (!isStr(body.NextToken)) throw invalid('NextToken must be a non-empty string');
      const token = /^(.+)\|(\d+)$/.exec(Buffer.from(body.NextToken, 'base64url').toString('utf8'));
      if (!token) throw new KinesisError(400, 'InvalidArgumentException', 'Invalid NextToken');
      stream = this.stream({ StreamName: token[1] });
      offset = Number(token[2]);
    } else stream = this.stream(body);
    const page = stream.shards.slice(offset, offset + max);
    const end = offset + page.length;
    return {
      Shards: page.map((s) => ({
        ShardId: s.id,
        ...(s.parent !== undefined && { ParentShardId: s.parent }),
        ...(s.adjacentParent !== undefined && { AdjacentParentShardId: s.adjacentParent }),
        HashKeyRange: { StartingHashKey: s.start.toString(), EndingHashKey: s.end.toString() },
        SequenceNumberRange: { StartingSequenceNumber: s.firstSequence, ...(s.closedAt !== undefined && { EndingSequenceNumber: s.closedAt }) },
      })),
      ...(end < stream.shards.length && { NextToken: Buffer.from(`${stream.name}|${end}`).toString('base64url') }),
    };
  }

  /** GetShardIterator: TRIM_HORIZON, LATEST, AT_/AFTER_SEQUENCE_NUMBER (a number of that shard), AT_TIMESTAMP (epoch seconds). */
  private getShardIterator(body: Json, at: number): Json {
    const stream = this.stream(body);
    if (!isStr(body.ShardId)) throw invalid('ShardId is required');
    const shard = this.shardOf(stream, body.ShardId);
    this.admit(stream, shard, 'GetShardIterator', at);
    const records = shard.records;
    let index: number;
    switch (body.ShardIteratorType) {
      case 'TRIM_HORIZON': index = 0; break;
      case 'LATEST': index = records.length; break;
      case 'AT_SEQUENCE_NUMBER':
      case 'AFTER_SEQUENCE_NUMBER': {
        const seq = body.StartingSequenceNumber;
        if (!isStr(seq) || !/^\d{1,128}$/.test(seq)) throw invalid('StartingSequenceNumber is required with AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER');
        const i = records.findIndex((r) => r.sequenceNumber === seq);
        if (i < 0) {
          throw invalid(`StartingSequenceNumber ${seq} used in GetShardIterator on shard ${shard.id} in stream ${stream.name} under account ${FAKE_ACCOUNT} is invalid because it did not come from this stream.`);
        }
        index = body.ShardIteratorType === 'AT_SEQUENCE_NUMBER' ? i : i + 1;
        break;
      }
      case 'AT_TIMESTAMP': {
        if (typeof body.Timestamp !== 'number') throw invalid('Timestamp is required with AT_TIMESTAMP');
        const from = body.Timestamp * 1000;
        const i = records.findIndex((r) => r.arrivedAt >= from);
        index = i < 0 ? records.length : i;
        break;
      }
      default: throw invalid('ShardIteratorType must be one of AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP');
    }
    return { ShardIterator: this.iterator({ stream: stream.name, shard: shard.id, index, issuedAt: at }) };
  }

  /**
   * GetRecords: up to Limit records from the iterator's position, the next iterator (none once a closed shard
   * is read to its end, which lists its ChildShards), and MillisBehindLatest: 0 when this reaches the shard's
   * tip, else how long ago the first record left unread arrived.
   */
  private getRecords(body: Json, at: number): Json {
    const token = body.ShardIterator;
    if (!isStr(token) || token.length > 512) throw invalid('ShardIterator is required (1-512 characters)');
    const limit = body.Limit ?? MAX_LIMIT;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw invalid(`Limit must be between 1 and ${MAX_LIMIT}`);
    const it = this.iterators.get(token);
    if (!it) throw invalid('Invalid ShardIterator.');
    if (at - it.issuedAt > ITERATOR_TTL_MS) {
      throw new KinesisError(400, 'ExpiredIteratorException', `Iterator expired. The iterator was created at time ${new Date(it.issuedAt).toUTCString()} while right now it is ${new Date(at).toUTCString()} which is further in the future than the tolerated delay of 300000 milliseconds.`);
    }
    const stream = this.stream({ StreamName: it.stream });
    const shard = this.shardOf(stream, it.shard);
    this.admit(stream, shard, 'GetRecords', at);
    const batch = shard.records.slice(it.index, it.index + limit);
    const next = it.index + batch.length;
    const atEnd = next >= shard.records.length;
    const closed = shard.closedAt !== undefined && atEnd;
    return {
      Records: batch.map((r) => ({ SequenceNumber: r.sequenceNumber, ApproximateArrivalTimestamp: r.arrivedAt / 1000, Data: r.data.toString('base64'), PartitionKey: r.partitionKey })),
      ...(!closed && { NextShardIterator: this.iterator({ stream: stream.name, shard: shard.id, index: next, issuedAt: at }) }),
      MillisBehindLatest: atEnd ? 0 : Math.max(0, at - shard.records[next]!.arrivedAt),
      ...(closed && {
        ChildShards: stream.shards.filter((s) => s.parent === shard.id).map((s) => ({
          ShardId: s.id, ParentShards: [shard.id], HashKeyRange: { StartingHashKey: s.start.toString(), EndingHashKey: s.end.toString() },
        })),
      }),
    };
  }

  private putRecord(body: Json): Json {
    const stream = this.stream(body);
    if (!isStr(body.PartitionKey) || body.PartitionKey.length > 256) throw invalid('PartitionKey is required (1-256 characters)');
    if (typeof body.Data !== 'string') throw invalid('Data is required');
    const { shardId, sequenceNumber } = this.put(stream.name, body.PartitionKey, Buffer.from(body.Data, 'base64'));
    return { ShardId: shardId, SequenceNumber: sequenceNumber };
  }

  // ---- internals -----------------------------------------------------------------------------------------------

  /** The per-shard limit of an operation: past readsPerSecond calls in the last second, refused. */
  private admit(stream: Stream, shard: Shard, operation: string, at: number): void {
    if (this.readsPerSecond <= 0) return;
    const key = `${stream.name}/${shard.id}/${operation}`;
    const window = this.reads.get(key) ?? this.reads.set(key, new Window()).get(key)!;
    if (window.count(at) >= this.readsPerSecond) {
      throw new KinesisError(400, 'ProvisionedThroughputExceededException', `Rate exceeded for shard ${shard.id} in stream ${stream.name} under account ${FAKE_ACCOUNT}.`);
    }
    window.add(at);
  }

  private iterator(it: Iterator): string {
    const token = randomBytes(48).toString('base64');
    this.iterators.set(token, it);
    return token;
  }

  private newShard(stream: Stream, start: bigint, end: bigint, parent?: string): Shard {
    return { id: `shardId-${String(stream.shards.length).padStart(12, '0')}`, start, end, ...(parent !== undefined && { parent }), firstSequence: this.nextSequence(), records: [] };
  }

  private nextSequence(): string {
    this.sequence += 1n;
    return (SEQUENCE_BASE + this.sequence * 1000n).toString();
  }
}
