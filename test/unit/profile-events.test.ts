// The profile event stream, without a network: its records read, what applying them does to the cache (the
// in-process cache), and the reader's order, checkpoints, leases and back-off over a scripted stream and clock.
import { expect } from 'chai';
import { StateKeys } from '../../src/cache/keys.js';
import { MemoryProfileCache, type CachedLookup } from '../../src/cache/profile-cache.js';
import { normalisePhone } from '../../src/domain/identity.js';
import { createLogger } from '../../src/ops/logger.js';
import { ProfileEventApplier, type EventOutcome } from '../../src/stream/apply.js';
import { ProfileEventConsumer } from '../../src/stream/consumer.js';
import { parseProfileEvent } from '../../src/stream/event.js';
import { StreamError, type EventSource, type Position, type ShardInfo, type ShardRead, type StreamRecord } from '../../src/stream/kinesis.js';
import { MemoryStreamStore, type Checkpoint } from '../../src/stream/store.js';

const DOMAIN = 'acme';
const P1 = '0123456789abcdef0123456789abcdef';
const P2 = 'fedcba9876543210fedcba9876543210';
const P3 = 'aaaabbbbccccddddaaaabbbbccccdddd';
const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const record = (type: string, object: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  SchemaVersion: 0, EventId: `e-${Math.random()}`, EventTimestamp: '2025-01-01T00:00:00Z', EventType: type, DomainName: DOMAIN,
  ObjectTypeName: '_profile', AssociatedProfileId: object.ProfileId ?? null, ProfileObjectUniqueKey: null, Object: object, IsMessageRealTime: true, ...more,
});
const event = (type: string, object: Record<string, unknown>, more: Record<string, unknown> = {}) => parseProfileEvent(bytes(record(type, object, more)))!;

describe('profile events: the records', () => {
  it("reads the Administrator Guide's sample: an object's record (its ObjectTypeName), no profile id in it", () => {
    const sample = {
      SchemaVersion: 0, EventId: 'eventId', EventTimestamp: '2020-01-01T00:00:00Z', EventType: 'CREATED', DomainName: 'domainName',
      ObjectTypeName: 'objectTypeName', AssociatedProfileId: 'associatedProfileId', ProfileObjectUniqueKey: 'profileObjectUniqueKey',
      Object: { map: { k1: ['a', 'b', 'c'] } }, IsMessageRealTime: true,
    };
    expect(parseProfileEvent(bytes(sample))).to.deep.equal({
      eventId: 'eventId', type: 'CREATED', domain: 'domainName', aboutProfile: false, profileId: undefined, profile: undefined, mergedAway: [],
      at: Date.parse('2020-01-01T00:00:00Z'),
    });
  });

  it('a `_profile` record: the profile as its Object shows it; a MERGED one the profiles merged away; Go-style timestamps read too', () => {
    const updated = parseProfileEvent(bytes(record('UPDATED', { ProfileId: P1, FirstName: 'Amy' }, { EventTimestamp: '2023-04-28 14:42:18.761 +0000 UTC' })))!;
    expect(updated).to.deep.include({ type: 'UPDATED', aboutProfile: true, profileId: P1, profile: { ProfileId: P1, FirstName: 'Amy' }, at: Date.parse('2023-04-28T14:42:18.761Z') });
    // as AWS Solutions' consumer documents a merge: AssociatedProfileId null, the kept profile as Object
    const merged = parseProfileEvent(bytes(record('MERGED', { ProfileId: P1 }, {
      AssociatedProfileId: null, MergeId: '045d69ae-42c2-11ee-be56-0242ac120002', DuplicateProfiles: [{ ProfileId: P2, FirstName: 'x' }, { ProfileId: 'not-an-id' }, 'junk'],
    })))!;
    expect(merged).to.deep.include({ type: 'MERGED', profileId: P1, mergedAway: [P2] });
  });

  it('what is not an event reads as nothing; a profile id that is not one (it would go into a key name) is not taken', () => {
    expect(parseProfileEvent(bytes('not json'))).to.equal(undefined);
    expect(parseProfileEvent(bytes({ DomainName: DOMAIN }))).to.equal(undefined);
    expect(parseProfileEvent(bytes([1, 2]))).to.equal(undefined);
    const odd = parseProfileEvent(bytes(record('UPDATED', { ProfileId: '{p:x}:lookups' })))!;
    expect(odd).to.deep.include({ profileId: undefined, profile: undefined, at: Date.parse('2025-01-01T00:00:00Z') });
    expect(parseProfileEvent(bytes(record('UPDATED', { ProfileId: P1 }, { EventTimestamp: 'yesterday' })))!.at).to.equal(undefined);
  });
});

describe('profile events: applied to the cache', () => {
  const keys = new StateKeys('cpr:acme', 'a-test-secret-of-some-length', []);
  let now = 1_764_000_000_000;
  let cache: MemoryProfileCache;
  let store: MemoryStreamStore;
  let applier: ProfileEventApplier;
  const lookup = (profileId: string | undefined, cachedAt = now - 1000): CachedLookup => ({
    status: profileId ? 'KNOWN' : 'NOT_FOUND', matchCount: profileId ? 1 : 0, cachedAt,
    ...(profileId && { summary: { profileId, firstName: 'F', lastName: 'L', accountNumber: '', mapped: {} } }),
  });
  const phoneTag = (phone: string) => keys.identityTag(normalisePhone(phone, 'US')!);

  beforeEach(async () => {
    cache = new MemoryProfileCache(86_400_000);
    store = new MemoryStreamStore();
    applier = new ProfileEventApplier({ cache, keys, store, domain: DOMAIN, defaultCountry: 'US', settleMs: 2000, now: () => now });
    await cache.set('caller1', lookup(P1));
    await cache.set('caller1', lookup(P1), 'withAccount');
    await cache.set('caller2', lookup(P2));
  });

  it("an UPDATED profile: every lookup that answers it goes, others stay; the same profile again drops nothing", async () => {
    expect(await applier.apply(event('UPDATED', { ProfileId: P1, FirstName: 'Amy' }))).to.equal('applied');
    expect(await cache.get('caller1')).to.equal(undefined);
    expect(await cache.get('caller1', 'withAccount')).to.equal(undefined);
    expect(await cache.get('caller2')).to.not.equal(undefined);
    await cache.set('caller1', lookup(P1));
    expect(await applier.apply(event('UPDATED', { FirstName: 'Amy', ProfileId: P1 })), 'the same profile, its keys in another order').to.equal('unchanged');
    expect(await cache.get('caller1')).to.not.equal(undefined);
    expect(await applier.apply(event('UPDATED', { ProfileId: P1, FirstName: 'Ada' }))).to.equal('applied');
    expect(await cache.get('caller1')).to.equal(undefined);
  });

  it('a lookup made after the event was applied stays; the lookups by the profile\'s own numbers alone go (a "no profile" among them)', async () => {
    await cache.set('fresh', lookup(P1, now + 1));
    await cache.set(phoneTag('(206) 555-0100'), lookup(undefined));
    expect(await applier.apply(event('UPDATED', { ProfileId: P1, MobilePhoneNumber: '+12065550100' }))).to.equal('applied');
    expect(await cache.get('fresh')).to.not.equal(undefined);
    expect(await cache.get(phoneTag('+12065550100')), 'cached as "no profile": may find this one now').to.equal(undefined);
  });

  it("CREATED: what is cached of the new profile stays (the creation's own lookup); its numbers' lookups that answer something else go", async () => {
    const phone = '+12065550199';
    await cache.set(phoneTag(phone), lookup(P3), 'withAccount');
    await cache.set(phoneTag(phone), lookup(P3));
    await cache.set(phoneTag('+12065550198'), lookup(undefined));
    expect(await applier.apply(event('CREATED', { ProfileId: P3, PhoneNumber: phone, HomePhoneNumber: '2065550198' }))).to.equal('applied');
    expect(await cache.get(phoneTag(phone)), 'this caller was made this profile').to.not.equal(undefined);
    expect(await cache.get(phoneTag('+12065550198')), 'a "no profile" finds it now').to.equal(undefined);
    // an update that shows it the same drops nothing
    expect(await applier.apply(event('UPDATED', { ProfileId: P3, PhoneNumber: phone, HomePhoneNumber: '2065550198' }))).to.equal('unchanged');
  });

  it('MERGED: the profiles merged away and the one kept lose their lookups, even when the kept one shows no change', async () => {
    await applier.apply(event('UPDATED', { ProfileId: P1 }));
    await cache.set('caller1', lookup(P1));
    await cache.set('caller3', lookup(P3));
    const merged = event('MERGED', { ProfileId: P1 }, { AssociatedProfileId: null, MergeId: 'm', DuplicateProfiles: [{ ProfileId: P2 }] });
    expect(await applier.apply(merged)).to.equal('applied');
    expect(await cache.get('caller1')).to.equal(undefined);
    expect(await cache.get('caller2')).to.equal(undefined);
    expect(await cache.get('caller3')).to.not.equal(undefined);
  });

  it('DELETED (and a type this version does not know) drops; an object\'s record and another domain\'s are ignored', async () => {
    const outcomes: EventOutcome[] = [
      await applier.apply(parseProfileEvent(bytes(record('CREATED', { ContactId: 'c' }, { ObjectTypeName: 'ResolvedContact', AssociatedProfileId: P2 })))!),
      await applier.apply(parseProfileEvent(bytes(record('UPDATED', { ProfileId: P2 }, { DomainName: 'other' })))!),
    ];
    expect(outcomes).to.deep.equal(['ignored', 'ignored']);
    expect(await cache.get('caller2')).to.not.equal(undefined);
    expect(await applier.apply(event('DELETED', { ProfileId: P2 }))).to.equal('applied');
    expect(await cache.get('caller2')).to.equal(undefined);
    expect(await applier.apply(event('UNMERGED', { ProfileId: P1 }))).to.equal('applied');
    expect(await cache.get('caller1')).to.equal(undefined);
  });

  it('a second pass, a deadline and a second later, drops a lookup that read the profile before the change and was cached after it', async () => {
    await applier.apply(event('UPDATED', { ProfileId: P1, FirstName: 'Amy' }));
    // a lookup under way since before the change: its search came back 500 ms after the event was applied
    await cache.set('slow', lookup(P1, now + 500));
    await cache.set('later', lookup(P1, now + 2500));
    now += 2999;
    await applier.settle();
    expect(await cache.get('slow'), 'not due yet').to.not.equal(undefined);
    now += 1;
    await applier.settle();
    expect(await cache.get('slow')).to.equal(undefined);
    expect(await cache.get('later'), 'began after the change: kept').to.not.equal(undefined);
    expect(applier.settling).to.equal(0);
  });

  it('stopping, the replica runs the second passes still waiting once they are due, not before', async () => {
    await applier.apply(event('UPDATED', { ProfileId: P1, FirstName: 'Amy' }));
    now += 1000;
    // another replica's lookup, under way since before the change, is cached as this one stops
    await cache.set('slow', lookup(P1, now));
    const slept: number[] = [];
    await applier.finish(async (ms) => {
      slept.push(ms);
      // the lookup under way on another replica since before the change comes back while this one waits
      await cache.set('slower', lookup(P1, now + 900));
      now += ms;
    });
    expect(slept, 'until the pass is due: a deadline and a second after the event, 1 s of it gone').to.deep.equal([2000]);
    expect(await cache.get('slow')).to.equal(undefined);
    expect(await cache.get('slower')).to.equal(undefined);
    expect(applier.settling).to.equal(0);
    // nothing waiting: no wait
    await applier.finish(() => Promise.reject(new Error('nothing to wait for')));
  });

  it('a cache that fails rejects the event, and keeps no digest: applied again, it drops', async () => {
    let failing = true;
    const flaky = {
      dropProfile: (id: string, before: number) => (failing ? Promise.reject(new Error('Redis down')) : cache.dropProfile(id, before)),
      dropLookup: (tag: string, before: number) => cache.dropLookup(tag, before),
    };
    const a = new ProfileEventApplier({ cache: flaky, keys, store, domain: DOMAIN, defaultCountry: 'US', settleMs: 2000, now: () => now });
    const e = event('UPDATED', { ProfileId: P1, FirstName: 'Amy' });
    let error: unknown;
    await a.apply(e).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(Error);
    failing = false;
    expect(await a.apply(e)).to.equal('applied');
    expect(await cache.get('caller1')).to.equal(undefined);
  });
});

/** A stream under the test's hand: shards of records, iterators as `<shard>|<index>`, failures to order. */
class ScriptedStream implements EventSource {
  list: ShardInfo[] = [{ id: 's0', parents: [] }];
  records = new Map<string, StreamRecord[]>([['s0', []]]);
  closed = new Set<string>();
  failNext: StreamError[] = [];
  readonly calls: Array<{ op: string; shard: string; at: number; from?: Position }> = [];
  private seq = 100;
  constructor(private readonly clock: () => number) {}

  put(shard: string, data: unknown): string {
    const r = { sequence: String(++this.seq), data: bytes(data), arrivedAt: this.clock() };
    (this.records.get(shard) ?? this.records.set(shard, []).get(shard)!).push(r);
    return r.sequence;
  }
  shards(): Promise<ShardInfo[]> {
    return this.failed<ShardInfo[]>('ListShards', '') ?? Promise.resolve(this.list);
  }
  iterator(shard: string, from: Position): Promise<string> {
    this.calls.push({ op: 'GetShardIterator', shard, at: this.clock(), from });
    const failure = this.failed<string>('GetShardIterator', shard);
    if (failure) return failure;
    const rs = this.records.get(shard) ?? [];
    const i = from.kind === 'after' ? rs.findIndex((r) => r.sequence === from.sequence) + 1 : from.kind === 'at-time' ? rs.filter((r) => r.arrivedAt < from.at).length : 0;
    return Promise.resolve(`${shard}|${i}`);
  }
  read(iterator: string, limit: number): Promise<ShardRead> {
    const [shard, index] = [iterator.split('|')[0]!, Number(iterator.split('|')[1])];
    this.calls.push({ op: 'GetRecords', shard, at: this.clock() });
    const failure = this.failed<ShardRead>('GetRecords', shard);
    if (failure) return failure;
    const rs = this.records.get(shard) ?? [];
    const batch = rs.slice(index, index + limit);
    const end = index + batch.length;
    return Promise.resolve({ records: batch, next: this.closed.has(shard) && end >= rs.length ? undefined : `${shard}|${end}`, behindMs: end < rs.length ? 100 : 0 });
  }
  reads(shard = 's0'): number[] {
    return this.calls.filter((c) => c.op === 'GetRecords' && c.shard === shard).map((c) => c.at);
  }
  private failed<T>(op: string, _shard: string): Promise<T> | undefined {
    const f = this.failNext.find((e) => e.operation === op);
    if (!f) return undefined;
    this.failNext.splice(this.failNext.indexOf(f), 1);
    return Promise.reject<T>(f);
  }
}

/** The in-process store with real leases (a token and an expiry on the test's clock), for several readers. */
class LeasingStore extends MemoryStreamStore {
  private readonly leases = new Map<string, { token: string; until: number }>();
  private readonly alive = new Map<string, number>();
  constructor(private readonly clock: () => number) { super(); }
  override claim(shardId: string, token: string, leaseMs: number): Promise<boolean> {
    const l = this.leases.get(shardId);
    if (l && l.token !== token && l.until > this.clock()) return Promise.resolve(false);
    this.leases.set(shardId, { token, until: this.clock() + leaseMs });
    return Promise.resolve(true);
  }
  override release(shardId: string, token: string): Promise<void> {
    if (this.leases.get(shardId)?.token === token) this.leases.delete(shardId);
    return Promise.resolve();
  }
  override checkpoint(shardId: string, token: string, to: Checkpoint): Promise<boolean> {
    const l = this.leases.get(shardId);
    if (!l || l.token !== token) return Promise.resolve(false);
    return super.checkpoint(shardId, token, to);
  }
  override readers(token: string, leaseMs: number): Promise<number> {
    this.alive.set(token, this.clock());
    return Promise.resolve([...this.alive.values()].filter((t) => t > this.clock() - leaseMs).length);
  }
  override leave(token: string): Promise<void> {
    this.alive.delete(token);
    return Promise.resolve();
  }
  holder(shardId: string): string | undefined {
    const l = this.leases.get(shardId);
    return l && l.until > this.clock() ? l.token : undefined;
  }
}

describe('profile events: the reader', () => {
  let now: number;
  const clock = () => now;
  let stream: ScriptedStream;
  let store: LeasingStore;
  let applied: string[];
  let failApply: boolean;
  /** the readers stopped that ran their second passes */
  let finished = 0;
  const applier = () =>
    ({
      apply: (e: { eventId: string }) => (failApply && e.eventId === 'bad' ? Promise.reject(new Error('cache down')) : (applied.push(e.eventId), Promise.resolve('applied' as const))),
      settle: () => Promise.resolve(),
      finish: () => ((finished += 1), Promise.resolve()),
      settling: 0,
    }) as unknown as ProfileEventApplier;
  const reader = (pollMs = 1000) => new ProfileEventConsumer({ source: stream, store, applier: applier(), pollMs, leaseMs: 10_000, logger: createLogger('silent'), now: clock });
  const at = async (consumer: ProfileEventConsumer, ms: number) => {
    now = ms;
    await consumer.tick();
    await consumer.drained();
  };
  const put = (shard: string, id: string) => stream.put(shard, record('UPDATED', { ProfileId: P1 }, { EventId: id }));

  beforeEach(() => {
    now = 1_000_000;
    stream = new ScriptedStream(clock);
    store = new LeasingStore(clock);
    applied = [];
    failApply = false;
  });

  it('starts at the time it first saw the shard (less 30 s for clocks), applies in order, checkpoints what it applied, and reads each shard once a poll', async () => {
    now -= 30_001;
    put('s0', 'before');
    now += 30_001;
    put('s0', 'within the margin');
    const r = reader(1000);
    await at(r, 1_000_100);
    expect(applied, 'from 30 s before the fleet first saw it').to.deep.equal(['within the margin']);
    put('s0', 'e1');
    put('s0', 'e2');
    await at(r, 1_000_600);
    expect(applied, 'not due before the poll').to.deep.equal(['within the margin']);
    await at(r, 1_001_100);
    expect(applied).to.deep.equal(['within the margin', 'e1', 'e2']);
    expect(await store.position('s0', { kind: 'trim-horizon' })).to.deep.equal({ kind: 'after', sequence: '104' });
    const reads = stream.reads();
    expect(reads.slice(1).map((t, i) => t - reads[i]!)).to.deep.equal([1000]);
  });

  it('a replica that stops without letting go: the next takes the shard once the lease lapses and reads on from the checkpoint', async () => {
    const first = reader();
    await at(first, 1_000_000);
    put('s0', 'e1');
    await at(first, 1_001_000);
    const second = reader();
    put('s0', 'e2');
    await at(second, 1_002_000);
    expect(stream.reads().length, 'the lease is held: the second reads nothing').to.equal(2);
    // the first dies (no more ticks); its lease lapses after 10 s
    await at(second, 1_011_001);
    await at(second, 1_012_100);
    expect(applied).to.deep.equal(['e1', 'e2']);
    const from = stream.calls.filter((c) => c.op === 'GetShardIterator').map((c) => c.from);
    expect(from[1], 'from the checkpoint, not from now').to.deep.equal({ kind: 'after', sequence: '101' });
  });

  it('the cache failing part way: what was applied is checkpointed; the rest is read again, after a pause', async () => {
    const r = reader(1000);
    await at(r, 1_000_000);
    put('s0', 'e1');
    put('s0', 'bad');
    put('s0', 'e3');
    failApply = true;
    await at(r, 1_001_000);
    expect(applied).to.deep.equal(['e1']);
    expect(await store.position('s0', { kind: 'trim-horizon' })).to.deep.equal({ kind: 'after', sequence: '101' });
    failApply = false;
    await at(r, 1_001_500);
    expect(applied, 'pausing').to.deep.equal(['e1']);
    await at(r, 1_002_000);
    expect(applied).to.deep.equal(['e1', 'bad', 'e3']);
  });

  it('throttled (ProvisionedThroughputExceededException): the next read waits a second, then two; the lag grows meanwhile', async () => {
    const r = reader(200);
    await at(r, 1_000_000);
    stream.failNext.push(new StreamError('throttled', 'GetRecords', 'rate'), new StreamError('throttled', 'GetRecords', 'rate'));
    for (let t = 1_000_200; t <= 1_004_000; t += 100) await at(r, t);
    const reads = stream.reads();
    expect(reads.slice(0, 4)).to.deep.equal([1_000_000, 1_000_200, 1_001_200, 1_003_200]);
    expect(reads.slice(1).map((t, i) => t - reads[i]!).every((gap) => gap >= 200), 'never more often than the poll').to.equal(true);
    stream.failNext.push(new StreamError('failed', 'GetRecords', 'down'));
    await at(r, 1_004_200);
    now = 1_006_000;
    expect(r.lag()[0]!.seconds).to.be.closeTo(2, 0.3);
  });

  it('an expired iterator is replaced from the checkpoint', async () => {
    const r = reader();
    await at(r, 1_000_000);
    put('s0', 'e1');
    stream.failNext.push(new StreamError('expired-iterator', 'GetRecords', 'expired'));
    await at(r, 1_001_000);
    await at(r, 1_002_000);
    expect(applied).to.deep.equal(['e1']);
    expect(stream.calls.filter((c) => c.op === 'GetShardIterator')).to.have.length(2);
  });

  it('a closed shard is read to its end, then its children from their oldest record', async () => {
    const r = reader();
    await at(r, 1_000_000);
    put('s0', 'e1');
    stream.closed.add('s0');
    stream.list = [{ id: 's0', parents: [] }, { id: 's1', parents: ['s0'] }];
    put('s1', 'e2');
    // the listing is read again after a minute, or as soon as a shard ends
    await at(r, 1_001_000);
    expect(await store.ended(['s0'])).to.deep.equal([true]);
    await at(r, 1_001_100);
    await at(r, 1_001_200);
    expect(applied).to.deep.equal(['e1', 'e2']);
    expect(stream.calls.filter((c) => c.shard === 's1' && c.op === 'GetShardIterator')[0]!.from).to.deep.equal({ kind: 'trim-horizon' });
  });

  it('two readers share the shards; when one stops it lets them go at once, and runs its second passes', async () => {
    stream.list = [{ id: 's0', parents: [] }, { id: 's1', parents: [] }];
    const [a, b] = [reader(), reader()];
    await at(a, 1_000_000);
    await at(b, 1_000_000);
    // a took both before b was alive; over its share once b is seen, it lets one go
    await at(a, 1_003_400);
    await at(b, 1_003_400);
    const holders = [store.holder('s0'), store.holder('s1')];
    expect(new Set(holders).size, 'one shard each').to.equal(2);
    const before = finished;
    await a.stop();
    expect(finished - before, 'its second passes run').to.equal(1);
    await at(b, 1_006_800);
    expect(a.lag()).to.deep.equal([]);
    expect(b.lag().map((l) => l.shard).sort()).to.deep.equal(['s0', 's1']);
  });
});
