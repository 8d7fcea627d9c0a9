// The reader of the domain's event stream: each shard read by one replica of the fleet at a time, under a lease in
// the stream store (renewed every third of its life, taken over by another replica once it lapses), its records
// applied in order and its checkpoint moved past them only once applied: a replica that dies (or a restart) leaves
// the shard to be read again from the last checkpoint, so no event is skipped, and one applied twice only drops
// lookups again (see apply.ts). Each replica takes its share of the shards (the shards over the live readers).
//
// It runs on timers in the main process, off the resolve path: a tick every 100 ms or so that does nothing unless a
// shard is due (every PROFILE_EVENT_POLL_MS), then one GetRecords and a few Redis commands per event; the cache it
// drops from lives here (in memory without Redis). Nothing it does is awaited by a request, and when the stream
// fails the answers are as they are without it.
import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from '../ops/logger.js';
import type { EventOutcome, ProfileEventApplier } from './apply.js';
import { parseProfileEvent } from './event.js';
import { StreamError, type EventSource, type Position, type ShardInfo, type ShardRead, type StreamRecord } from './kinesis.js';
import type { StreamStore } from './store.js';

/** What the reader reports, for metrics. */
export interface StreamObserver {
  /** one record read: its EventType (CREATED, UPDATED, MERGED, DELETED, OTHER), what applying it did, and its age then */
  event(type: string, outcome: EventOutcome | 'malformed' | 'failed', ageSeconds: number | undefined): void;
  /** a call that failed: the operation (ListShards, GetShardIterator, GetRecords, apply, store) and why */
  error(operation: string, kind: string): void;
}

export interface ConsumerOptions {
  source: EventSource;
  store: StreamStore;
  applier: ProfileEventApplier;
  /** each held shard is read this often (at least 200 ms: Kinesis allows 5 reads a second per shard) */
  pollMs: number;
  /** a hold on a shard lasts this long unless renewed */
  leaseMs: number;
  logger: Logger;
  observer?: StreamObserver | undefined;
  now?: () => number;
}

interface HeldShard {
  id: string;
  since: number;
  iterator: string | undefined;
  nextReadAt: number;
  backoffMs: number;
  busy: boolean;
  /** MillisBehindLatest of the last read, and when it was made (0: not yet) */
  behindMs: number;
  lastReadAt: number;
}

// Records a GetRecords may return (Kinesis allows 10,000): bounds the work of one read between two ticks.
const READ_LIMIT = 1000;
// While a read says it is behind the tip, the next comes this soon (4 reads a second: under the shard's 5).
const CATCH_UP_MS = 250;
// ListShards again this often (new shards after a reshard), and sooner after a shard ends or a listing fails.
const LIST_EVERY_MS = 60_000;
const LIST_RETRY_MS = 5000;
// After a failed call: the next waits at least this long (throttled: Kinesis advises a second), doubling, up to the cap.
const THROTTLED_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 10_000;
const EVENT_TYPES = new Set(['CREATED', 'UPDATED', 'MERGED', 'DELETED']);
// A shard never read starts this long before it was first seen: Kinesis stamps records with its own clock, and a few
// seconds of skew must not skip the records of the first moments (reading these again only drops lookups).
const START_MARGIN_MS = 30_000;

export class ProfileEventConsumer {
  private readonly token = randomBytes(12).toString('base64url');
  /** where in the list of shards this replica starts taking them: replicas starting together do not all reach for the same one first */
  private readonly offset = randomInt(1 << 30);
  private readonly now: () => number;
  private readonly held = new Map<string, HeldShard>();
  private readonly reading = new Set<Promise<void>>();
  private shards: ShardInfo[] = [];
  private listAt = 0;
  private balanceAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private lastError: { operation: string; kind: string; at: number } | undefined;
  private loggedAt = 0;

  constructor(private readonly o: ConsumerOptions) {
    this.now = o.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => {
      this.ticking ??= this.tick()
        .catch((err: unknown) => this.failed('tick', 'failed', err))
        .finally(() => (this.ticking = undefined));
    }, Math.min(100, this.o.pollMs / 2));
    this.timer.unref();
  }

  /**
   * Stops reading and lets the shards go at once (another replica takes them without waiting for the leases to lapse),
   * then runs the second passes still waiting (at most a deadline and a second).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.drained();
    await Promise.all([...this.held.keys()].map((id) => this.o.store.release(id, this.token).catch(() => undefined)));
    this.held.clear();
    await this.o.store.leave(this.token).catch(() => undefined);
    // the shards are another replica's now; the second passes of what this one applied are still its own to run
    await this.o.applier.finish().catch((err: unknown) => this.failed('apply', 'failed', err));
  }

  /** Waits for the reads a tick started (stop() does; tests too). */
  async drained(): Promise<void> {
    await Promise.all(this.reading);
  }

  /**
   * Per shard this replica reads: how far behind the stream's tip what it has applied may be, in seconds (the last
   * read's MillisBehindLatest plus the time since that read; since the shard was taken when not read yet). It grows
   * while the stream cannot be read.
   */
  lag(): Array<{ shard: string; seconds: number }> {
    const now = this.now();
    return [...this.held.values()].map((s) => ({
      shard: s.id,
      seconds: Math.max(0, s.lastReadAt === 0 ? now - s.since : s.behindMs + now - s.lastReadAt) / 1000,
    }));
  }

  /** What /readyz shows of it. */
  readiness(): Record<string, unknown> {
    return {
      shards: this.shards.length,
      held: [...this.held.keys()],
      settling: this.o.applier.settling,
      ...(this.lastError && { lastError: `${this.lastError.operation}: ${this.lastError.kind}`, lastErrorAt: new Date(this.lastError.at).toISOString() }),
    };
  }

  /** One round: the shard list and the leases when due, a read of each held shard that is due, due second passes. */
  async tick(): Promise<void> {
    if (this.stopped) return;
    const now = this.now();
    if (now >= this.listAt) await this.listShards(now);
    if (now >= this.balanceAt) await this.balance(now);
    for (const shard of this.held.values()) {
      if (shard.busy || now < shard.nextReadAt || this.stopped) continue;
      shard.busy = true;
      const read = this.readShard(shard).finally(() => {
        shard.busy = false;
        this.reading.delete(read);
      });
      this.reading.add(read);
    }
    await this.o.applier.settle().catch((err: unknown) => this.failed('apply', 'failed', err));
  }

  private async listShards(now: number): Promise<void> {
    try {
      this.shards = await this.o.source.shards();
      this.listAt = now + LIST_EVERY_MS;
    } catch (err) {
      this.failed('ListShards', err instanceof StreamError ? err.kind : 'failed', err);
      this.listAt = now + LIST_RETRY_MS;
    }
  }

  /**
   * Renews the leases held, and takes free shards up to this replica's share: the shards that can be read (not read
   * to their end; their parents, if still listed, read to theirs) over the live readers, rounded up. A replica over
   * its share (one joined) lets one go per round. A lease that cannot be renewed is given up here at once: its
   * shard's reads stop before another replica may take it.
   */
  private async balance(now: number): Promise<void> {
    this.balanceAt = now + this.o.leaseMs / 3;
    const { store, leaseMs } = this.o;
    try {
      const readers = await store.readers(this.token, leaseMs);
      for (const shard of [...this.held.values()]) {
        if (!(await store.claim(shard.id, this.token, leaseMs))) this.lose(shard.id);
      }
      const ids = this.shards.map((s) => s.id);
      const ended = new Map((await store.ended(ids)).map((e, i) => [ids[i]!, e]));
      const readable = this.shards.filter((s) => !ended.get(s.id) && s.parents.every((p) => ended.get(p) ?? true));
      const share = Math.ceil(readable.length / Math.max(1, readers));
      const extra = this.held.size > share ? [...this.held.values()].find((s) => !s.busy) : undefined;
      if (extra) {
        this.lose(extra.id);
        await store.release(extra.id, this.token);
      }
      for (let i = 0; i < readable.length && this.held.size < share; i++) {
        const shard = readable[(this.offset + i) % readable.length]!;
        if (this.held.has(shard.id) || !(await store.claim(shard.id, this.token, leaseMs))) continue;
        this.held.set(shard.id, { id: shard.id, since: now, iterator: undefined, nextReadAt: now, backoffMs: 0, busy: false, behindMs: 0, lastReadAt: 0 });
      }
    } catch (err) {
      // the store cannot be reached: no lease can be renewed, so none is relied on
      this.failed('store', 'failed', err);
      for (const id of [...this.held.keys()]) this.lose(id);
    }
  }

  private async readShard(shard: HeldShard): Promise<void> {
    const { source, store, pollMs } = this.o;
    try {
      shard.iterator ??= await this.iterator(shard);
      if (shard.iterator === undefined) return;
      const read: ShardRead = await source.read(shard.iterator, READ_LIMIT);
      const readAt = this.now();
      const applied = await this.applyAll(read.records);
      if (applied.last !== undefined && !(await store.checkpoint(shard.id, this.token, { kind: 'after', sequence: applied.last }))) {
        return this.lose(shard.id);
      }
      if (!applied.complete) {
        // the cache failed part way: read again from what was applied, after a pause
        shard.iterator = undefined;
        shard.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(pollMs, shard.backoffMs * 2));
        shard.nextReadAt = this.now() + shard.backoffMs;
        return;
      }
      shard.lastReadAt = readAt;
      shard.behindMs = read.behindMs;
      shard.backoffMs = 0;
      shard.iterator = read.next;
      if (read.next === undefined) return await this.end(shard);
      shard.nextReadAt = readAt + (read.behindMs > 0 && read.records.length > 0 ? Math.min(pollMs, CATCH_UP_MS) : pollMs);
    } catch (err) {
      const kind = err instanceof StreamError ? err.kind : 'failed';
      this.failed(err instanceof StreamError ? err.operation : 'store', kind, err);
      // an iterator that expired (5 minutes) or is refused: a new one from the checkpoint
      if (kind === 'expired-iterator' || kind === 'bad-position') shard.iterator = undefined;
      const floor = kind === 'throttled' ? THROTTLED_BACKOFF_MS : pollMs;
      shard.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(floor, shard.backoffMs * 2));
      shard.nextReadAt = this.now() + shard.backoffMs;
    }
  }

  /**
   * Where to read the shard from: after its checkpoint. A shard the fleet never read starts now (AT_TIMESTAMP, less a
   * margin for clocks: what the cache holds was read from Customer Profiles before), or from its oldest record when it was split or merged from
   * others (everything after its parents, which were read to their end). A checkpoint the shard refuses (its records
   * trimmed by retention) is read again from the oldest record kept. Undefined: the shard was read to its end.
   */
  private async iterator(shard: HeldShard): Promise<string | undefined> {
    const info = this.shards.find((s) => s.id === shard.id);
    const start: Position = info && info.parents.length > 0 ? { kind: 'trim-horizon' } : { kind: 'at-time', at: this.now() - START_MARGIN_MS };
    const from = await this.o.store.position(shard.id, start);
    if (from.kind === 'end') {
      await this.end(shard);
      return undefined;
    }
    try {
      return await this.o.source.iterator(shard.id, from);
    } catch (err) {
      if (!(err instanceof StreamError && err.kind === 'bad-position' && from.kind === 'after')) throw err;
      this.o.logger.warn({ shard: shard.id }, 'profile event stream: the checkpoint is not in the shard any more (trimmed): reading from its oldest record');
      return this.o.source.iterator(shard.id, { kind: 'trim-horizon' });
    }
  }

  /** Applies records in order; stops at the first the cache could not take. `last`: the last one applied. */
  private async applyAll(records: StreamRecord[]): Promise<{ last: string | undefined; complete: boolean }> {
    let last: string | undefined;
    for (const record of records) {
      const event = parseProfileEvent(record.data);
      if (!event) {
        this.o.observer?.event('OTHER', 'malformed', undefined);
        last = record.sequence;
        continue;
      }
      const type = EVENT_TYPES.has(event.type) ? event.type : 'OTHER';
      try {
        const outcome = await this.o.applier.apply(event);
        this.o.observer?.event(type, outcome, (this.now() - (event.at ?? record.arrivedAt)) / 1000);
      } catch (err) {
        this.o.observer?.event(type, 'failed', undefined);
        this.failed('apply', 'failed', err);
        return { last, complete: false };
      }
      last = record.sequence;
    }
    return { last, complete: true };
  }

  /** The shard is closed and read to its end: noted, let go, and the list read again (its children are readable now). */
  private async end(shard: HeldShard): Promise<void> {
    await this.o.store.checkpoint(shard.id, this.token, { kind: 'end' });
    this.lose(shard.id);
    await this.o.store.release(shard.id, this.token);
    this.listAt = 0;
    this.balanceAt = 0;
  }

  private lose(shardId: string): void {
    this.held.delete(shardId);
  }

  private failed(operation: string, kind: string, err: unknown): void {
    const now = this.now();
    this.lastError = { operation, kind, at: now };
    this.o.observer?.error(operation, kind);
    if (now - this.loggedAt < 10_000) return;
    this.loggedAt = now;
    this.o.logger.warn({ operation, kind, err: (err as Error)?.message }, 'profile event stream: failing (answers go on without it; its lag grows)');
  }
}
