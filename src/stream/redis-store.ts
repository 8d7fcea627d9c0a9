// The fleet's place in the event stream, in Redis: one lease and one checkpoint per shard and the live readers, all
// under one hash tag (one Redis Cluster slot), so a checkpoint moves only in the same step as its lease is checked;
// the profiles' digests beside their other keys ({p:<profileId>}).
import type { StateKeys } from '../cache/keys.js';
import { RELEASE_LEASE, RedisScript, type RedisClient } from '../redis/client.js';
import type { Position } from './kinesis.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint, type StreamStore } from './store.js';

/** The stream's keys' prefix: one hash tag per domain. */
export function streamKeyPrefix(keyNamespace: string): string {
  return `{${keyNamespace}:profile-events}`;
}

// A checkpoint lives as long as the cache keeps lookups, from the last time its shard's lease was taken or renewed: a
// quiet shard's stays while it is read; one older than every cached lookup would spare none (the fleet was down
// longer than that), and the shard starts afresh.
// CLAIM (KEYS lease, checkpoint; ARGV token, ms, keep ms): takes the lease, or renews it when it is ours. -> 1 | 0
const CLAIM = new RedisScript(`
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`);
// CHECKPOINT (KEYS lease, checkpoint; ARGV token, checkpoint, keep ms): moves the checkpoint while the lease is ours. -> 1 | 0
const CHECKPOINT = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`);
// POSITION (KEYS checkpoint; ARGV start, keep ms): the checkpoint, set to `start` if the shard has none. -> string
const POSITION = new RedisScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return redis.call('GET', KEYS[1])
`);
// READERS (KEYS readers; ARGV token, ms): notes the reader alive (Redis' clock: the replicas' may differ) and drops
// those not seen within ms. -> how many are alive
const READERS = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
`);

export class RedisStreamStore implements StreamStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    keyNamespace: string,
    private readonly keys: StateKeys,
    /** how long a checkpoint and a profile's digest are kept: as long as a lookup they could spare (the cache's keep) */
    private readonly keepMs: number,
  ) {
    this.prefix = streamKeyPrefix(keyNamespace);
  }

  async claim(shardId: string, token: string, leaseMs: number): Promise<boolean> {
    return (await CLAIM.run(this.redis, [this.lease(shardId), this.checkpointKey(shardId)], [token, leaseMs, this.keep])) === 1;
  }

  async release(shardId: string, token: string): Promise<void> {
    await RELEASE_LEASE.run(this.redis, [this.lease(shardId)], [token]);
  }

  async position(shardId: string, start: Position): Promise<Checkpoint> {
    const raw = (await POSITION.run(this.redis, [this.checkpointKey(shardId)], [encodeCheckpoint(start), this.keep])) as string;
    // a value this version cannot read (written by a later one): from the start given
    return decodeCheckpoint(raw) ?? start;
  }

  async ended(shardIds: readonly string[]): Promise<boolean[]> {
    if (shardIds.length === 0) return [];
    const values = await this.redis.mget(...shardIds.map((id) => this.checkpointKey(id)));
    return values.map((v) => v === 'end');
  }

  async checkpoint(shardId: string, token: string, to: Checkpoint): Promise<boolean> {
    return (await CHECKPOINT.run(this.redis, [this.lease(shardId), this.checkpointKey(shardId)], [token, encodeCheckpoint(to), this.keep])) === 1;
  }

  async readers(token: string, leaseMs: number): Promise<number> {
    return Number(await READERS.run(this.redis, [`${this.prefix}:readers`], [token, leaseMs]));
  }

  async leave(token: string): Promise<void> {
    await this.redis.zrem(`${this.prefix}:readers`, token);
  }

  async lastSeen(profileId: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.profileSeen(profileId))) ?? undefined;
  }

  async seen(profileId: string, digest: string): Promise<void> {
    await this.redis.set(this.keys.profileSeen(profileId), digest, 'PX', this.keep);
  }

  private get keep(): number {
    return Math.max(60_000, this.keepMs);
  }

  private lease(shardId: string): string {
    return `${this.prefix}:lease:${shardId}`;
  }

  private checkpointKey(shardId: string): string {
    return `${this.prefix}:checkpoint:${shardId}`;
  }
}
