import { expect } from 'chai';
import type { Latency } from '../../bench/load.js';
import type { Row } from '../../bench/measure.js';
import { DEADLINE_MS, SLOW_RECORD_WRITE_MS } from '../../bench/options.js';
import * as t from '../../bench/targets.js';
import { verdictLine } from '../../bench/report.js';
import type { AssociationPhase, AssociationResult } from '../../bench/association.js';
import { ASSOCIATION, burstSchedule, evenly, fifoDelays, keyDelays, type KeyDelays } from '../../bench/association-model.js';
import type { SurgeResult } from '../../bench/surge.js';
import { SURGE, canServe, schedule, type Outcome, type Planned } from '../../bench/surge-model.js';

// The benchmark's targets (bench/targets.ts) are pure functions of the measured rows: each is checked here at
// its threshold, just past it, and without the scenarios it needs.

const latency = (over: Partial<Latency> = {}): Latency => ({ p50: 10, p90: 12, p99: 15, p999: 18, max: 20, mean: 10, ...over });

/** A clean row: every answer `status`, no error, exactly one SearchProfiles a contact. */
function row(id: string, over: Partial<Row> & { status?: string; ops?: Record<string, number> } = {}): Row {
  const { status = 'KNOWN', ops, ...rest } = over;
  const requests = rest.requests ?? 100;
  return {
    id,
    label: id,
    kind: 'service',
    connections: 4,
    requests,
    seconds: 10,
    rps: 1000,
    latency: latency(),
    errors: 0,
    non2xx: 0,
    timeouts: 0,
    answers: { [status]: requests },
    contactRecordStatus: { QUEUED: requests },
    aws: { calls: { total: 0, byOperation: ops ?? { SearchProfiles: requests }, byStatus: {} }, searchPerContact: 1, createPerContact: 0, hotPerContact: 1, recordWritesPerContact: 0 },
    cpu: { targetMsPerRequest: 1, targetPct: 50, redisPct: 10, fakePct: 5, loadGeneratorPct: 30, othersPct: 0, stealPct: 0 },
    attempts: 1,
    rssMb: 200,
    redis: { commandsPerRequest: 10, byCommand: {} },
    ...rest,
  };
}
const cpu = (ms: number): Row['cpu'] => ({ targetMsPerRequest: ms, targetPct: 50, redisPct: 10, fakePct: 5, loadGeneratorPct: 30, othersPct: 0, stealPct: 0 });
const openLoop = (unsent = 0): Row['openLoop'] => ({ offeredRps: 500, unsent, sendLag: { p50: 0.1, p99: 0.5, max: 1 } });

const SDK = latency({ p50: 50 });
const results = (rows: Row[], sdkCall: Latency | undefined = SDK): t.Results => ({ rows: new Map(rows.map((r) => [r.id, r])), sdkCall, latencyMs: 50 });
/** the verdict of `target` on `rows` (it must give one) */
const verdict = (target: t.Target, rows: Row[], sdkCall?: Latency): t.Verdict => {
  const v = target(results(rows, sdkCall));
  if (!v) throw new Error('no verdict');
  return v;
};
const pass = (target: t.Target, rows: Row[], sdkCall?: Latency): boolean | null => verdict(target, rows, sdkCall).pass;

const lat = (p99: number): Latency => latency({ p50: p99 / 2, p99, max: p99 + 10 });
/** a surge that passes every target; `over` changes parts of it */
const surge = (over: Partial<SurgeResult> = {}): SurgeResult => ({
  shape: SURGE,
  share: 60,
  fakeLatencyMs: 50,
  contacts: 2300,
  sendLag: { p50: 1, p99: 5, max: 9 },
  answers: { UNAVAILABLE: { count: 1800, latency: lat(1400) }, NEW: { count: 400, latency: lat(1490) }, KNOWN: { count: 100, latency: lat(20) } },
  fallbackReasons: { QUOTA: 1800 },
  serve: { canServe: 500, needAws: 2200, cacheable: 100, served: 500, windowSeconds: 12.5 },
  seconds: [],
  calls: { SearchProfiles: { sent: 700, refused: 7, maxPerSecond: 63, maxWindow: 63 }, PutProfileObject: { sent: 500, refused: 0, maxPerSecond: 50, maxWindow: 55 } },
  records: { promised: 480, written: 480, lost: 0, lostSample: [], drainMs: 15_000, drainAfterSurgeMs: 3000, timedOut: false },
  duplicates: { phones: 0, extraProfiles: 0, profiles: 600 },
  sigterm: { replica: 2, exitCode: 0, signal: null, exitMs: 300, queueDepthAtSignal: 40 },
  diagnostics: { cpuPct: { replicas: [50, 50], redis: 10, fake: 10, bench: 10, machine: 140, cores: 2 }, replicas: [] },
  ...over,
});

/** a phase of the association bench: 60 contacts, all QUEUED, every key written; `keys` changes the delays */
const assocPhase = (name: AssociationPhase['name'], keys: Partial<KeyDelays> = {}): AssociationPhase => ({
  name,
  contacts: 60,
  offeredPerSecond: 5,
  answers: { NEW: 60 },
  answerLatency: { p50: 110, p99: 150, max: 160 },
  sendLag: { p99: 1, max: 2 },
  keys: { contacts: 60, written: 60, late: 0, delay: { p50: 30, p95: 50, p99: 1000, max: 1000 }, ...keys },
  fifoAtRecordRate: { p50: 0, p95: 0, p99: 0, max: 0 },
  keysPerSecond: 5,
  lastKeyAfterLastAnswerMs: 30,
  queueDepthAtLastAnswer: 1,
  maxPerSecond: { AddProfileKey: 5, PutProfileObject: 5 },
  recordJobs: { written: 60 },
  backgroundBookings: { 'AddProfileKey granted': 60 },
  cpuPct: { replicas: [10, 10], machine: 30, others: 0 },
});
/** an association run whose phase at rest is at the threshold */
const association = (rest: Partial<KeyDelays> = {}, over: Partial<AssociationPhase> = {}): AssociationResult => ({
  shape: ASSOCIATION,
  recordRate: 60,
  fakeLatencyMs: 50,
  phases: [{ ...assocPhase('at rest', rest), ...over }, { ...assocPhase('under pacing', { delay: { p50: 6000, p95: 12_000, p99: 13_000, max: 13_000 } }), contacts: 900, offeredPerSecond: 180 }],
});

describe('bench targets', () => {
  it('are the documented thresholds (docs/performance.md)', () => {
    expect([t.HIT_CPU_VS_FLOOR, t.OPEN_P99_PCT, t.OPEN_P99_VS_FLOOR, t.OPEN_P999_PCT, t.OPEN_P999_MS]).to.deep.equal([1.6, 50, 2, 25, 25]);
    expect([t.KNOWN_ABOVE_SDK_MS, t.NEW_ABOVE_SDK_MS, t.ENRICH_ABOVE_SDK_MS]).to.deep.equal([3, 5, 5]);
    expect([t.VS_NAIVE_NEW, t.VS_NAIVE_KNOWN, t.VS_NAIVE_REPEAT]).to.deep.equal([1.4, 1.85, 20]);
    expect([t.OUTAGE_MARGIN_MS, t.SOAK_RSS_GROWTH_PCT, t.SOAK_MIN_MINUTES]).to.deep.equal([50, 10, 2]);
  });

  it('give no verdict for scenarios that did not run', () => {
    expect(t.verdicts([], SDK, 50)).to.deep.equal([]);
    for (const target of t.TARGETS) expect(target(results([]))).to.equal(undefined);
    // a pair needs both sides
    expect(t.hitCpu(results([row('hit')]))).to.equal(undefined);
    expect(t.hitCpu(results([row('floor', { kind: 'floor' })]))).to.equal(undefined);
    expect(t.hitOpenP99(results([row('hit-open-50', { openLoop: openLoop() })]))).to.equal(undefined);
    expect(t.vsNaiveNew(results([row('new', { status: 'NEW' })]))).to.equal(undefined);
    expect(t.vsNaiveNew(results([row('naive-new', { kind: 'naive' })]))).to.equal(undefined);
    // rows without AWS counts (the floor's) cannot be counted
    expect(t.knownCalls(results([row('known', { aws: undefined })]))).to.equal(undefined);
    expect(t.enrichCalls(results([row('known-enrich', { aws: undefined })]))).to.equal(undefined);
  });

  it('give one verdict each, in order, when every scenario ran', () => {
    const ids = ['floor', 'hit', 'hit-stream', 'hit-open-25', 'hit-open-50', 'floor-open-25', 'floor-open-50', 'hit-pool-low', 'hit-pool', 'known', 'known-load', 'records', 'known-enrich', 'hit-enrich', 'new', 'new-load', 'naive-known', 'naive-known-load', 'naive-new', 'naive-new-load', 'naive-repeat-low', 'naive-repeat', 'outage', 'outage-burst'];
    const vs = t.verdicts(
      ids.map((id) => (id === 'hit-stream' ? row(id, { eventStream: { editsPerSecond: 20, edits: 200, recordsRead: 500 } }) : row(id))),
      SDK,
      50,
      surge(),
      association(),
    );
    expect(vs).to.have.length(t.TARGETS.length);
    expect(vs[0]?.target).to.match(/^cache hit: server CPU/);
    expect(vs.at(-1)?.target).to.match(/^surge: SIGTERM/);
    expect(vs.filter((v) => v.pass === null).map((v) => v.target)).to.have.length(9);
  });

  describe('cache hit with the profile event stream read', () => {
    const hit = row('hit', { connections: 32, cpu: cpu(0.3), rps: 3000 });
    const withStream = (over: Partial<Row> = {}) => row('hit-stream', { connections: 32, cpu: cpu(0.33), rps: 2900, eventStream: { editsPerSecond: 20, edits: 200, recordsRead: 512 }, ...over });
    it('is reported against the hit without the stream, not judged', () => {
      const v = verdict(t.hitStream, [hit, withStream()]);
      expect(v.pass).to.equal(null);
      expect(v.target).to.equal('cache hit with the profile event stream read: its cost against the hit without it (32 conns)');
      expect(v.measured).to.match(/^CPU 0\.330 \/ 0\.300 ms a request = 1\.10x, 2900 \/ 3000 req\/s, .*\(200 edits of other profiles at 20\/s, 512 stream records read\)$/);
    });
    it('fails when the stream was not read, or a hit was not a hit', () => {
      expect(pass(t.hitStream, [hit, withStream({ eventStream: { editsPerSecond: 20, edits: 200, recordsRead: 0 } })])).to.equal(false);
      expect(pass(t.hitStream, [hit, withStream({ eventStream: undefined })])).to.equal(false);
      expect(pass(t.hitStream, [hit, withStream({ answers: { KNOWN: 99, NEW: 1 } })])).to.equal(false);
    });
    it('is left out without both rows', () => {
      expect(t.hitStream(results([hit]))).to.equal(undefined);
      expect(t.hitStream(results([withStream()]))).to.equal(undefined);
    });
  });

  describe('cache hit: server CPU against the floor', () => {
    const floor = row('floor', { kind: 'floor', cpu: cpu(0.25), aws: undefined });
    const hit = (ms: number, over: Partial<Row> = {}) => row('hit', { connections: 32, cpu: cpu(ms), ...over });
    it('passes at the threshold and fails just above it', () => {
      expect(pass(t.hitCpu, [floor, hit(0.25 * t.HIT_CPU_VS_FLOOR)])).to.equal(true);
      expect(pass(t.hitCpu, [floor, hit(0.2)])).to.equal(true);
      expect(pass(t.hitCpu, [floor, hit(0.25 * t.HIT_CPU_VS_FLOOR + 0.001)])).to.equal(false);
    });
    it('fails on errors or answers other than KNOWN, however cheap', () => {
      expect(pass(t.hitCpu, [floor, hit(0.1, { errors: 1 })])).to.equal(false);
      expect(pass(t.hitCpu, [floor, hit(0.1, { answers: { KNOWN: 99, NEW: 1 } })])).to.equal(false);
    });
    it('shows the threshold and the ratio', () => {
      const v = verdict(t.hitCpu, [floor, hit(0.5)]);
      expect(v.target).to.equal(`cache hit: server CPU a request at most ${t.HIT_CPU_VS_FLOOR}x the floor's (32 conns)`);
      expect(v.measured).to.equal('0.500 / 0.250 ms = 2.00x');
      expect(verdictLine(v)).to.equal(`FAIL  ${v.target}: ${v.measured}`);
    });
    it('shows the throughput for information only', () => {
      const v = verdict(t.hitThroughput, [{ ...floor, rps: 4000 }, hit(0.3, { rps: 2000 })]);
      expect(v.pass).to.equal(null);
      expect(v.measured).to.equal('2000 / 4000 req/s = 50.0%');
      expect(verdictLine(v)).to.match(/^INFO {2}/);
    });
  });

  describe('cache hit, open loop', () => {
    const floor = (p99: number, p999 = 10) => row(`floor-open-${t.OPEN_P99_PCT}`, { kind: 'floor', latency: latency({ p99, p999 }), openLoop: openLoop() });
    const hit = (id: string, over: Partial<Latency>, unsent = 0) => row(id, { latency: latency(over), openLoop: openLoop(unsent) });
    const at50 = `hit-open-${t.OPEN_P99_PCT}`;
    const at25 = `hit-open-${t.OPEN_P999_PCT}`;
    it(`p99 at ${t.OPEN_P99_PCT}%: passes at ${t.OPEN_P99_VS_FLOOR}x the floor's and fails above`, () => {
      expect(pass(t.hitOpenP99, [floor(10), hit(at50, { p99: 10 * t.OPEN_P99_VS_FLOOR })])).to.equal(true);
      expect(pass(t.hitOpenP99, [floor(10), hit(at50, { p99: 10 * t.OPEN_P99_VS_FLOOR + 0.01 })])).to.equal(false);
    });
    it('fails when a request was not sent in time, or the run was not open-loop', () => {
      expect(pass(t.hitOpenP99, [floor(10), hit(at50, { p99: 11 }, 1)])).to.equal(false);
      expect(pass(t.hitOpenP99, [floor(10), row(at50, { latency: latency({ p99: 11 }) })])).to.equal(false);
      expect(pass(t.hitOpenP999, [hit(at25, { p999: 5 }, 3)])).to.equal(false);
    });
    it(`p99.9 at ${t.OPEN_P999_PCT}%: passes under ${t.OPEN_P999_MS} ms, fails at it`, () => {
      expect(pass(t.hitOpenP999, [hit(at25, { p999: t.OPEN_P999_MS - 0.01 })])).to.equal(true);
      expect(pass(t.hitOpenP999, [hit(at25, { p999: t.OPEN_P999_MS })])).to.equal(false);
    });
    it('show their thresholds, and the floor beside the p99.9 when it ran', () => {
      expect(verdict(t.hitOpenP99, [floor(10), hit(at50, { p99: 12 })]).target).to.equal(`cache hit, open loop at ${t.OPEN_P99_PCT}% of its capacity: p99 at most ${t.OPEN_P99_VS_FLOOR}x the floor's p99 at the same rate`);
      const alone = verdict(t.hitOpenP999, [hit(at25, { p999: 20 })]);
      expect(alone.target).to.equal(`cache hit, open loop at ${t.OPEN_P999_PCT}% of its capacity: p99.9 under ${t.OPEN_P999_MS} ms`);
      expect(alone.measured).to.not.include('floor');
      const withFloor = verdict(t.hitOpenP999, [hit(at25, { p999: 20 }), row(`floor-open-${t.OPEN_P999_PCT}`, { latency: latency({ p999: 9 }) })]);
      expect(withFloor.measured).to.include('(floor: p99.9 9.00 ms');
    });
  });

  describe('AWS calls on the hot path', () => {
    it('known caller: exactly one SearchProfiles and no CreateProfile a contact, in every row that ran', () => {
      expect(pass(t.knownCalls, [row('known'), row('known-load', { connections: 32 })])).to.equal(true);
      expect(pass(t.knownCalls, [row('known'), row('known-load', { ops: { SearchProfiles: 101 } })])).to.equal(false);
      expect(pass(t.knownCalls, [row('records', { ops: { SearchProfiles: 100, CreateProfile: 1 } })])).to.equal(false);
      expect(pass(t.knownCalls, [row('known', { status: 'NEW' })])).to.equal(false);
      const v = verdict(t.knownCalls, [row('known')]);
      expect(v.target).to.equal('known caller, cold cache: exactly one AWS call on the hot path (SearchProfiles)');
      expect(v.measured).to.equal('4 conns: 100 SearchProfiles + 0 CreateProfile / 100 contacts');
    });
    it('new caller: exactly one SearchProfiles and one CreateProfile a contact', () => {
      const ops = { SearchProfiles: 100, CreateProfile: 100 };
      expect(pass(t.newCalls, [row('new', { status: 'NEW', ops })])).to.equal(true);
      expect(pass(t.newCalls, [row('new', { status: 'NEW', ops: { ...ops, CreateProfile: 99 } })])).to.equal(false);
      expect(verdict(t.newCalls, [row('new', { status: 'NEW', ops })]).target).to.equal('new caller: exactly two AWS calls on the hot path (SearchProfiles, CreateProfile)');
    });
    it('a cache hit with enrichment sources: no AWS call', () => {
      expect(pass(t.hitEnrichNoAws, [row('hit-enrich', { ops: { AddProfileKey: 5, PutProfileObject: 5 } })])).to.equal(true);
      expect(pass(t.hitEnrichNoAws, [row('hit-enrich', { ops: { ListProfileObjects: 1 } })])).to.equal(false);
      expect(pass(t.hitEnrichNoAws, [row('hit-enrich', { aws: undefined })])).to.equal(false);
    });
    it('a cold lookup with enrichment: one SearchProfiles and one call per source a contact', () => {
      const ops = { SearchProfiles: 100, ListCalculatedAttributesForProfile: 100, ListProfileObjects: 100, GetSegmentMembership: 100 };
      expect(pass(t.enrichCalls, [row('known-enrich', { ops })])).to.equal(true);
      expect(pass(t.enrichCalls, [row('known-enrich', { ops: { ...ops, ListProfileObjects: 200 } })])).to.equal(false);
      expect(pass(t.enrichCalls, [row('known-enrich', { ops: { ...ops, GetSegmentMembership: 0 } })])).to.equal(false);
    });
  });

  describe('the contact record off the hot path', () => {
    it(`passes when every answer came in under ${SLOW_RECORD_WRITE_MS} ms, all QUEUED`, () => {
      expect(pass(t.recordsOffHotPath, [row('records', { latency: latency({ max: SLOW_RECORD_WRITE_MS - 0.01 }) })])).to.equal(true);
      expect(pass(t.recordsOffHotPath, [row('records', { latency: latency({ max: SLOW_RECORD_WRITE_MS }) })])).to.equal(false);
      expect(pass(t.recordsOffHotPath, [row('records', { contactRecordStatus: { QUEUED: 99 } })])).to.equal(false);
      expect(verdict(t.recordsOffHotPath, [row('records')]).target).to.include(`record writes take ${SLOW_RECORD_WRITE_MS} ms at the fake`);
    });
  });

  describe('latency above the SDK calls alone', () => {
    it('known caller: passes at the limit above one SDK call, fails past it', () => {
      expect(pass(t.knownAboveSdk, [row('known', { latency: latency({ p50: 50 + t.KNOWN_ABOVE_SDK_MS }) })])).to.equal(true);
      expect(pass(t.knownAboveSdk, [row('known', { latency: latency({ p50: 50 + t.KNOWN_ABOVE_SDK_MS + 0.01 }) })])).to.equal(false);
      const v = verdict(t.knownAboveSdk, [row('known', { latency: latency({ p50: 52 }) })]);
      expect(v.target).to.equal(`known caller, cold cache: p50 at most ${t.KNOWN_ABOVE_SDK_MS} ms above one SDK call alone (4 conns)`);
      expect(v.measured).to.equal('p50 52.00 ms, +2.00 ms over one SDK call alone (50.00 ms)');
    });
    it('new caller: against two SDK calls', () => {
      expect(pass(t.newAboveSdk, [row('new', { latency: latency({ p50: 100 + t.NEW_ABOVE_SDK_MS }) })])).to.equal(true);
      expect(pass(t.newAboveSdk, [row('new', { latency: latency({ p50: 100 + t.NEW_ABOVE_SDK_MS + 0.01 }) })])).to.equal(false);
      expect(verdict(t.newAboveSdk, [row('new')]).target).to.include(`at most ${t.NEW_ABOVE_SDK_MS} ms above 2 SDK calls alone`);
    });
    it("against the fake's latency when the SDK call was not timed", () => {
      const v = t.knownAboveSdk({ rows: new Map([['known', row('known', { latency: latency({ p50: 54 }) })]]), sdkCall: undefined, latencyMs: 50 });
      expect(v?.pass).to.equal(false);
      expect(v?.measured).to.equal("p50 54.00 ms, +4.00 ms over the fake's 50 ms");
    });
    it('under load: shown, not judged', () => {
      const v = verdict(t.knownLoadAboveSdk, [row('known-load', { connections: 32, latency: latency({ p50: 500 }) })]);
      expect(v.pass).to.equal(null);
      expect(v.target).to.match(/\(32 conns\), under load$/);
      expect(pass(t.newLoadAboveSdk, [row('new-load')])).to.equal(null);
    });
    it('enrichment: the search plus one source, within the limit', () => {
      expect(pass(t.enrichP50, [row('known-enrich', { latency: latency({ p50: 100 + t.ENRICH_ABOVE_SDK_MS }) })])).to.equal(true);
      expect(pass(t.enrichP50, [row('known-enrich', { latency: latency({ p50: 100 + t.ENRICH_ABOVE_SDK_MS + 0.01 }) })])).to.equal(false);
      expect(verdict(t.enrichP50, [row('known-enrich')]).target).to.equal(`known caller, cold cache, 3 enrichment sources at 50 ms each: p50 within ${t.ENRICH_ABOVE_SDK_MS} ms of the search's latency plus one source's (4 conns)`);
    });
  });

  describe('against the naive peer', () => {
    const pair = (target: t.Target, ours: string, theirs: string, factor: number) => {
      const a = row(ours, { latency: latency({ p50: 10 }) });
      const b = (p50: number, connections = 4) => row(theirs, { kind: 'naive', connections, latency: latency({ p50 }) });
      expect(pass(target, [a, b(10 * factor)]), `${ours} at ${factor}x`).to.equal(true);
      expect(pass(target, [a, b(10 * factor - 0.01)]), `${ours} under ${factor}x`).to.equal(false);
      expect(pass(target, [a, b(10 * factor * 2, 32)]), `${ours} at other connections`).to.equal(false);
      expect(verdict(target, [a, b(10 * factor)]).target).to.include(`p50 lower by >= ${factor}x (4 conns)`);
    };
    it('new caller', () => pair(t.vsNaiveNew, 'new', 'naive-new', t.VS_NAIVE_NEW));
    it('known caller on a cold cache', () => pair(t.vsNaiveKnown, 'known', 'naive-known', t.VS_NAIVE_KNOWN));
    it('repeat caller', () => pair(t.vsNaiveRepeat, 'hit-pool-low', 'naive-repeat-low', t.VS_NAIVE_REPEAT));
    it('under load: shown, not judged', () => {
      for (const [target, ours, theirs] of [
        [t.vsNaiveNewLoad, 'new-load', 'naive-new-load'],
        [t.vsNaiveKnownLoad, 'known-load', 'naive-known-load'],
        [t.vsNaiveRepeatLoad, 'hit-pool', 'naive-repeat'],
      ] as const) {
        const v = verdict(target, [row(ours), row(theirs, { latency: latency({ p50: 1 }) })]);
        expect(v.pass).to.equal(null);
        expect(v.target).to.match(/, under load$/);
      }
    });
  });

  describe('outage', () => {
    const limit = DEADLINE_MS + t.OUTAGE_MARGIN_MS;
    const outage = (max: number, over: Partial<Row> = {}) => row('outage', { label: 'Outage: fake hangs (16 callers, arrivals spread)', status: 'UNAVAILABLE', latency: latency({ max }), ...over });
    it('passes when every answer came within the deadline plus the margin, all UNAVAILABLE', () => {
      expect(pass(t.outageSpread, [outage(limit)])).to.equal(true);
      expect(pass(t.outageSpread, [outage(limit + 0.01)])).to.equal(false);
      expect(pass(t.outageSpread, [outage(1990, { answers: { UNAVAILABLE: 99, KNOWN: 1 } })])).to.equal(false);
      expect(pass(t.outageSpread, [outage(1990, { errors: 1 })])).to.equal(false);
    });
    it('shows the margin and the limit, and the scenario', () => {
      expect(verdict(t.outageSpread, [outage(1990)]).target).to.equal(`outage: every answer within the deadline + ${t.OUTAGE_MARGIN_MS} ms (${limit} ms), 16 callers, arrivals spread`);
    });
    it('callers in step: shown, not judged', () => {
      expect(pass(t.outageBurst, [row('outage-burst', { latency: latency({ max: 5000 }) })])).to.equal(null);
    });
  });

  describe('soak', () => {
    const soak = (meanLastMinuteMb: number, over: Partial<{ minutes: number; errors: number }> = {}) => t.soakVerdict({ minutes: 3, meanSecondMinuteMb: 100, meanLastMinuteMb, errors: 0, ...over });
    it(`passes under ${t.SOAK_RSS_GROWTH_PCT}% growth, fails at it, and on errors`, () => {
      expect(soak(100 + t.SOAK_RSS_GROWTH_PCT - 0.01).pass).to.equal(true);
      expect(soak(90).pass).to.equal(true);
      expect(soak(100 + t.SOAK_RSS_GROWTH_PCT).pass).to.equal(false);
      expect(soak(100, { errors: 1 }).pass).to.equal(false);
    });
    it(`a soak shorter than ${t.SOAK_MIN_MINUTES} minutes is shown, not judged`, () => {
      const v = soak(200, { minutes: t.SOAK_MIN_MINUTES - 0.5 });
      expect(v.pass).to.equal(null);
      expect(v.measured).to.equal(`100.0 -> 200.0 MB = 100.0% (a soak shorter than ${t.SOAK_MIN_MINUTES} minutes cannot tell)`);
      // no minute-2 samples at all (a 12 s soak): no number, no verdict
      expect(t.soakVerdict({ minutes: 0.2, meanSecondMinuteMb: 0, meanLastMinuteMb: 0, errors: 0 }).measured).to.include('= n/a%');
    });
    it('shows the threshold', () => {
      expect(soak(101).target).to.equal(`soak: RSS growth after the first minute < ${t.SOAK_RSS_GROWTH_PCT}% (mean of minute 2 vs mean of the last minute)`);
    });
  });

  describe('surge', () => {
    const judge = (target: t.Target, s: SurgeResult): boolean | null => target({ ...results([]), surge: s })?.pass ?? null;
    const SURGE_TARGETS = [t.surgeRefusals, t.surgeShare, t.surgeServed, t.surgeUnavailable, t.surgeDrain, t.surgeLost, t.surgeDuplicates, t.surgeSigterm];

    it('are the documented thresholds (docs/performance.md, "The surge")', () => {
      expect([t.SURGE_REFUSED_PCT, t.SURGE_WINDOW_JITTER_PCT, t.SURGE_SERVED_PCT, t.SURGE_DRAIN_FACTOR, t.SURGE_DRAIN_SLACK_S]).to.deep.equal([1, 5, 90, 1.25, 5]);
    });
    it('pass on a surge at every threshold', () => {
      expect(SURGE_TARGETS.map((target) => judge(target, surge()))).to.deep.equal(SURGE_TARGETS.map(() => true));
    });
    it('fail just past each threshold', () => {
      const calls = surge().calls;
      expect(judge(t.surgeRefusals, surge({ calls: { ...calls, SearchProfiles: { ...calls.SearchProfiles!, refused: 13 } } }))).to.equal(false);
      expect(judge(t.surgeShare, surge({ calls: { ...calls, SearchProfiles: { ...calls.SearchProfiles!, maxPerSecond: 64 } } }))).to.equal(false);
      expect(judge(t.surgeShare, surge({ calls: { ...calls, PutProfileObject: { ...calls.PutProfileObject!, maxWindow: 64 } } }))).to.equal(false);
      expect(judge(t.surgeServed, surge({ serve: { ...surge().serve, served: 449 } }))).to.equal(false);
      expect(judge(t.surgeServed, surge({ serve: { ...surge().serve, served: 450 } }))).to.equal(true);
      expect(judge(t.surgeUnavailable, surge({ answers: { UNAVAILABLE: { count: 1, latency: lat(1501) } } }))).to.equal(false);
      expect(judge(t.surgeUnavailable, surge({ answers: { ...surge().answers, ERROR: { count: 1, latency: lat(10) } } }))).to.equal(false);
      // 480 records at 60/s: 8 s x 1.25 + 5 s = 15 s; a surge of 12 s: 17 s
      expect(judge(t.surgeDrain, surge({ records: { ...surge().records, drainMs: 15_001, drainAfterSurgeMs: 5001 } }))).to.equal(false);
      expect(judge(t.surgeDrain, surge({ records: { ...surge().records, drainMs: 17_000, drainAfterSurgeMs: 5000 } }))).to.equal(true);
      expect(judge(t.surgeDrain, surge({ records: { ...surge().records, drainMs: 17_001, drainAfterSurgeMs: 5001 } }))).to.equal(false);
      expect(judge(t.surgeDrain, surge({ records: { ...surge().records, timedOut: true } }))).to.equal(false);
      expect(judge(t.surgeLost, surge({ records: { ...surge().records, lost: 1 } }))).to.equal(false);
      expect(judge(t.surgeDuplicates, surge({ duplicates: { phones: 1, extraProfiles: 1, profiles: 600 } }))).to.equal(false);
      expect(judge(t.surgeSigterm, surge({ sigterm: { ...surge().sigterm, exitCode: 1 } }))).to.equal(false);
      expect(judge(t.surgeSigterm, surge({ records: { ...surge().records, lost: 1 } }))).to.equal(false);
    });

    it('the schedule: the burst within its second, then the sustained rate, replicas in turn, repeat callers only of earlier contacts', () => {
      const plan = schedule(SURGE);
      const burst = plan.filter((p) => p.phase === 1);
      const sustained = plan.filter((p) => p.phase === 2);
      expect([burst.length, sustained.length]).to.deep.equal([300, 2000]);
      expect(burst.every((p) => p.dueMs < 1000 && !p.repeat) && new Set(burst.map((p) => p.caller)).size === 300).to.equal(true);
      expect(sustained.every((p) => p.dueMs >= 1000 && p.dueMs < 11_000)).to.equal(true);
      expect(plan.filter((p) => p.replica === 0).length).to.equal(1150);
      const repeats = sustained.filter((p) => p.repeat);
      expect(repeats.length).to.be.within(300, 500); // 20% of 2000, drawn
      const firstDue = new Map<number, number>();
      for (const p of plan) if (!firstDue.has(p.caller)) firstDue.set(p.caller, p.dueMs);
      expect(repeats.every((p) => firstDue.get(p.caller)! <= p.dueMs - SURGE.repeatAfterMs)).to.equal(true);
    });

    it('can serve: the share over the run and a deadline, plus the repeat callers a cached answer serves', () => {
      const planned = (dueMs: number, caller: number): Planned => ({ dueMs, phase: 1, replica: 0, caller, repeat: false });
      const outcome = (p: Planned, customerStatus: string, latencyMs = 100): Outcome => ({ planned: p, contactId: `c${p.caller}-${p.dueMs}`, http: 200, latencyMs, answeredAt: p.dueMs + latencyMs, customerStatus, fallbackReason: '', contactRecordStatus: '' });
      // 10 callers over 1 s at a share of 2/s with a 500 ms deadline: (1 + 0.5) s x 2 = 3 can be looked up;
      // caller 0 calls again after its NEW answer (a cache hit), caller 1 again after its UNAVAILABLE one (needs AWS again)
      const outcomes = [
        ...Array.from({ length: 10 }, (_, i) => outcome(planned(i * 100, i), i === 0 ? 'NEW' : 'UNAVAILABLE')),
        outcome(planned(1000, 0), 'KNOWN', 1),
        outcome(planned(1000, 1), 'UNAVAILABLE'),
      ];
      expect(canServe(outcomes, 2, 500)).to.deep.equal({ canServe: 4, needAws: 11, cacheable: 1, served: 2, windowSeconds: 1.5 });
    });
  });

  describe('association', () => {
    const judge = (target: t.Target, a: AssociationResult): t.Verdict | undefined => target({ ...results([]), association: a });

    it('is the documented threshold (docs/performance.md, "Association")', () => {
      expect(t.ASSOC_REST_P99_MS).to.equal(1000);
    });
    it('at rest: passes at p99 = the threshold, fails just above it, or when a key is missing or late, or a contact not QUEUED', () => {
      expect(judge(t.associationAtRest, association())?.pass).to.equal(true);
      expect(judge(t.associationAtRest, association({ delay: { p50: 30, p95: 50, p99: 1001, max: 1001 } }))?.pass).to.equal(false);
      expect(judge(t.associationAtRest, association({ written: 59, late: 1, delay: { p50: 30, p95: 50, p99: Infinity, max: Infinity } }))?.pass).to.equal(false);
      // a key written after the wait: not within 30 s, though the percentiles would pass
      expect(judge(t.associationAtRest, association({ late: 1 }))?.pass).to.equal(false);
      expect(judge(t.associationAtRest, association({ contacts: 59 }, { answers: { NEW: 59, UNAVAILABLE: 1 } }))?.pass).to.equal(false);
      expect(judge(t.associationAtRest, association({ contacts: 0, written: 0 }, { contacts: 0 }))?.pass).to.equal(false);
    });
    it('at rest: says what it checks and what was measured', () => {
      const v = judge(t.associationAtRest, association({ written: 59, late: 1, delay: { p50: 27.4, p95: 52, p99: Infinity, max: Infinity } }));
      expect(v?.target).to.equal(`association at rest: each contact's _ctrContactId key written within ${t.ASSOC_REST_P99_MS} ms of its answer at p99 (5 new callers a second), every contact QUEUED and its key written`);
      expect(v?.measured).to.equal('p50 27 ms, p95 52 ms, p99 never, max never; 59 keys written for 60 contacts QUEUED of 60, 1 not within 30 s');
    });
    it('under pacing: shown for information', () => {
      const v = judge(t.associationUnderPacing, association());
      expect(v?.pass).to.equal(null);
      expect(v?.measured).to.match(/^p50 6000 ms, p95 12000 ms, /);
    });
    it('give no verdict without the association run, or without its phase', () => {
      expect(judge(t.associationAtRest, { ...association(), phases: [] })).to.equal(undefined);
      expect(t.associationAtRest(results([]))).to.equal(undefined);
      expect(t.associationUnderPacing(results([]))).to.equal(undefined);
    });

    it('key delays: key time - answer time; a key never written counts as infinitely late, and so does one past the wait', () => {
      const answers = [0, 1, 2, 3].map((i) => ({ contactId: `c${i}`, answeredAt: 1000 * i }));
      const d = keyDelays(answers, { c0: 30, c1: 1020, c2: 2000 + 31_000, other: 5 }, 30_000);
      expect(d).to.deep.equal({ contacts: 4, written: 3, late: 2, delay: { p50: 30, p95: Infinity, p99: Infinity, max: Infinity } });
      // a key written before the answer came back (the answer read late) is a negative delay, kept as it is
      expect(keyDelays([{ contactId: 'c', answeredAt: 100 }], { c: 90 }, 30_000).delay.p50).to.equal(-10);
    });
    it('the FIFO floor: keys one after another at the rate, none before its answer', () => {
      // three answers at once and one later, at 2 keys a second: 0, 500 and 1000 ms, then the late one at once (0)
      expect(fifoDelays([5000, 0, 0, 0], 2)).to.deep.equal({ p50: 0, p95: 1000, p99: 1000, max: 1000 });
      expect(fifoDelays([0, 0, 0, 0, 0], 2).p50).to.equal(1000);
      expect(fifoDelays([], 2).p50).to.be.NaN;
    });

    it('the schedules: at rest evenly at its rate; under pacing 3x the record rate for 5 s, replicas in turn, callers as drawn', () => {
      const rest = evenly(60, 5, 0, 2);
      expect([rest.length, rest.at(-1)?.dueMs, rest.filter((p) => p.replica === 1).length, new Set(rest.map((p) => p.caller)).size]).to.deep.equal([60, 11_800, 30, 60]);
      const { plan, kinds } = burstSchedule(ASSOCIATION);
      const pool = ASSOCIATION.restContacts + ASSOCIATION.poolCallers;
      expect(plan.length).to.equal(900);
      expect(plan.every((p, i) => p.dueMs === (i * 1000) / 180 && p.replica === i % 2 && p.dueMs < 5000)).to.equal(true);
      const of = (kind: string) => plan.filter((_, i) => kinds[i] === kind);
      // callers never seen: numbered from the pool's end, each once; the rest are callers of the pool (cached)
      const fresh = of('new').map((p) => p.caller);
      expect(fresh.every((c, i) => c === pool + i) && of('new').every((p) => !p.repeat)).to.equal(true);
      expect(of('pool').every((p) => p.caller < pool && p.repeat) && of('hot').every((p) => p.caller < ASSOCIATION.hotCallers && p.repeat)).to.equal(true);
      // 15% and 10% drawn: within a few points
      expect(fresh.length).to.be.within(100, 170);
      expect(of('hot').length).to.be.within(60, 120);
      // the same seed, the same schedule
      expect(burstSchedule(ASSOCIATION).plan).to.deep.equal(plan);
    });
  });
});
