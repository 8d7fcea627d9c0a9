// Where the fleet keeps its place in the event stream: who reads each shard (a lease: a token with an expiry,
// renewed by its holder, taken over once it lapses), how far each shard has been applied (a checkpoint, moved only
// by the lease's holder), and the profiles' last digests (what an event showed of a profile, so one that changes
// nothing drops nothing). In Redis for a fleet; in this process when the replica is the whole fleet.
import { LRUCache } from 'lru-cache';
import type { Position } from './kinesis.js';

/** A shard's checkpoint: a position to read from, or the shard read to its end. */
export type Checkpoint = Position | { kind: 'end' };

export interface StreamStore {
  /** Takes the shard's lease when it is free (or lapsed), or renews it when it is ours. */
  claim(shardId: string, token: string, leaseMs: number): Promise<boolean>;
  /** Lets the shard's lease go, if it is ours. */
  release(shardId: string, token: string): Promise<void>;
  /** Where the fleet is in the shard; a shard the fleet never read starts at `start` (kept, so every replica agrees). */
  position(shardId: string, start: Position): Promise<Checkpoint>;
  /** Whether each shard was read to its end. */
  ended(shardIds: readonly string[]): Promise<boolean[]>;
  /** Moves the shard's checkpoint, only while the lease is ours; false: it is not (another replica reads the shard). */
  checkpoint(shardId: string, token: string, to: Checkpoint): Promise<boolean>;
  /** Notes this reader alive and returns how many are (this one included): each takes its share of the shards. */
  readers(token: string, leaseMs: number): Promise<number>;
  /** This reader stops: the others count without it at once. */
  leave(token: string): Promise<void>;
  /** The digest of the profile the last event showed; undefined when none is kept. */
  lastSeen(profileId: string): Promise<string | undefined>;
  seen(profileId: string, digest: string): Promise<void>;
}

// how long this process keeps a profile's digest (Redis keeps it as long as the cache keeps lookups)
const DIGEST_KEEP_MS = 86_400_000;

export function encodeCheckpoint(c: Checkpoint): string {
  switch (c.kind) {
    case 'after': return `after:${c.sequence}`;
    case 'at-time': return `at:${c.at}`;
    case 'trim-horizon': return 'trim-horizon';
    case 'end': return 'end';
  }
}

export function decodeCheckpoint(raw: string): Checkpoint | undefined {
  if (raw === 'end' || raw === 'trim-horizon') return { kind: raw };
  const [kind, value] = [raw.slice(0, raw.indexOf(':')), raw.slice(raw.indexOf(':') + 1)];
  if (kind === 'after' && /^\d{1,128}$/.test(value)) return { kind: 'after', sequence: value };
  if (kind === 'at' && /^\d+$/.test(value)) return { kind: 'at-time', at: Number(value) };
  return undefined;
}

/**
 * Without Redis the replica is the whole fleet: it holds every shard, and keeps its place in memory. Its cache is in
 * memory too, empty at each start, so a restart that starts the stream afresh (at its start time) misses nothing.
 */
export class MemoryStreamStore implements StreamStore {
  private readonly checkpoints = new Map<string, Checkpoint>();
  private readonly digests = new LRUCache<string, string>({ max: 100_000, ttl: DIGEST_KEEP_MS });

  claim(_shardId: string, _token: string, _leaseMs: number): Promise<boolean> {
    return Promise.resolve(true);
  }
  release(_shardId: string, _token: string): Promise<void> {
    return Promise.resolve();
  }
  position(shardId: string, start: Position): Promise<Checkpoint> {
    if (!this.checkpoints.has(shardId)) this.checkpoints.set(shardId, start);
    return Promise.resolve(this.checkpoints.get(shardId)!);
  }
  ended(shardIds: readonly string[]): Promise<boolean[]> {
    return Promise.resolve(shardIds.map((id) => this.checkpoints.get(id)?.kind === 'end'));
  }
  checkpoint(shardId: string, _token: string, to: Checkpoint): Promise<boolean> {
    this.checkpoints.set(shardId, to);
    return Promise.resolve(true);
  }
  readers(_token: string, _leaseMs: number): Promise<number> {
    return Promise.resolve(1);
  }
  leave(_token: string): Promise<void> {
    return Promise.resolve();
  }
  lastSeen(profileId: string): Promise<string | undefined> {
    return Promise.resolve(this.digests.get(profileId));
  }
  seen(profileId: string, digest: string): Promise<void> {
    this.digests.set(profileId, digest);
    return Promise.resolve();
  }
}
