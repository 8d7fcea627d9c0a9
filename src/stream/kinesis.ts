// Reading the event stream's Kinesis shards: the three calls a polling reader needs (ListShards, GetShardIterator,
// GetRecords), their failures sorted into what the reader does about them. Limits (the SDK's documentation of the
// operations, @aws-sdk/client-kinesis 3.1143): GetRecords "has a limit of five transactions per second per shard",
// returns at most 10,000 records and 10 MiB; "a shard iterator expires 5 minutes after it is returned";
// GetShardIterator "has a limit of five transactions per second per account per open shard"; ListShards 1000 a
// second per stream; past a limit, ProvisionedThroughputExceededException ("we recommend that you wait 1 second
// between calls to GetRecords").
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

/** Where to read a shard from. */
export type Position =
  | { kind: 'after'; sequence: string }
  | { kind: 'at-time'; at: number }
  | { kind: 'trim-horizon' };

export interface ShardInfo {
  id: string;
  /** the shards it was split or merged from (read to their end before it) */
  parents: string[];
}

export interface StreamRecord {
  sequence: string;
  data: Uint8Array;
  /** ApproximateArrivalTimestamp, epoch ms */
  arrivedAt: number;
}

export interface ShardRead {
  records: StreamRecord[];
  /** undefined: the shard is closed and read to its end */
  next: string | undefined;
  /** MillisBehindLatest: how far this read is from the shard's tip */
  behindMs: number;
}

/** Why a call failed, as the reader acts on it. */
export type StreamFailure = 'throttled' | 'expired-iterator' | 'bad-position' | 'not-found' | 'failed';

export class StreamError extends Error {
  constructor(readonly kind: StreamFailure, readonly operation: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The event stream as the reader sees it (Kinesis here; a test may put another behind it). */
export interface EventSource {
  shards(): Promise<ShardInfo[]>;
  iterator(shardId: string, from: Position): Promise<string>;
  read(iterator: string, limit: number): Promise<ShardRead>;
}

const KIND: Record<string, StreamFailure> = {
  ProvisionedThroughputExceededException: 'throttled',
  LimitExceededException: 'throttled',
  ThrottlingException: 'throttled',
  ExpiredIteratorException: 'expired-iterator',
  InvalidArgumentException: 'bad-position',
  ResourceNotFoundException: 'not-found',
};

/**
 * The stream is named by its name, not its ARN: given a StreamARN the SDK calls the account-specific endpoints
 * (`<account>.control-kinesis.<region>` and `<account>.data-kinesis.<region>`, the SDK's endpoint rules), which AWS
 * does not document among the `kinesis-streams` interface endpoint's private DNS names and a strict egress allowlist
 * must name too (General Reference, "Amazon Kinesis Data Streams endpoints"); by name it calls
 * `kinesis.<region>.amazonaws.com`, which both cover. The name is looked up in the account of the service's
 * credentials: the stream is the domain's, in the domain's account (CreateEventStream), as those credentials are.
 */
export class KinesisEventSource implements EventSource {
  private readonly streamName: string;

  constructor(
    private readonly client: KinesisClient,
    streamArn: string,
    /** per call: no call holds a shard's loop longer */
    private readonly timeoutMs = 5000,
  ) {
    const name = /:stream\/([a-zA-Z0-9_.-]{1,128})$/.exec(streamArn)?.[1];
    if (!name) throw new Error(`not a Kinesis stream ARN: ${streamArn}`);
    this.streamName = name;
  }

  async shards(): Promise<ShardInfo[]> {
    const shards: ShardInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('ListShards', (abortSignal) =>
        this.client.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.streamName }), { abortSignal }),
      );
      for (const s of page.Shards ?? []) {
        if (s.ShardId) shards.push({ id: s.ShardId, parents: [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => p !== undefined) });
      }
      token = page.NextToken;
    } while (token);
    return shards;
  }

  async iterator(shardId: string, from: Position): Promise<string> {
    const position =
      from.kind === 'after'
        ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' as const, StartingSequenceNumber: from.sequence }
        : from.kind === 'at-time'
          ? { ShardIteratorType: 'AT_TIMESTAMP' as const, Timestamp: new Date(from.at) }
          : { ShardIteratorType: 'TRIM_HORIZON' as const };
    const out = await this.call('GetShardIterator', (abortSignal) =>
      this.client.send(new GetShardIteratorCommand({ StreamName: this.streamName, ShardId: shardId, ...position }), { abortSignal }),
    );
    if (!out.ShardIterator) throw new StreamError('failed', 'GetShardIterator', 'no ShardIterator in the answer');
    return out.ShardIterator;
  }

  async read(iterator: string, limit: number): Promise<ShardRead> {
    const out = await this.call('GetRecords', (abortSignal) =>
      this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), { abortSignal }),
    );
    return {
      records: (out.Records ?? []).map((r) => ({ sequence: r.SequenceNumber ?? '', data: r.Data ?? new Uint8Array(), arrivedAt: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now() })),
      next: out.NextShardIterator ?? undefined,
      behindMs: out.MillisBehindLatest ?? 0,
    };
  }

  private async call<T>(operation: string, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await send(AbortSignal.timeout(this.timeoutMs));
    } catch (err) {
      const name = (err as { name?: string }).name ?? '';
      throw new StreamError(KIND[name] ?? 'failed', operation, `${operation} failed: ${name || (err as Error).message}`, { cause: err });
    }
  }
}
