// The enrich step (Enricher): which calls it makes, when it makes none, how it shares the fleet's
// allowance, and what a failed, slow or skipped source leaves in the answer. A scripted ProfileStore,
// the real in-process allowance (AccountQuota's, in-process book) and a clock the tests move.
import { expect } from 'chai';
import { setImmediate as turn } from 'node:timers/promises';
import { AccountQuota, type CallBudget } from '../../src/cache/quota.js';
import { Enricher, NO_ENRICHMENT, type EnrichOutcome } from '../../src/contact/enrich.js';
import type { Enriched } from '../../src/domain/answer.js';
import { parseAttributeMapping, type AttributeMapping, type EnrichmentCall, type EnrichmentResult } from '../../src/domain/mapping.js';
import { AllowanceSpent, ProfileStoreError, type Match, type ProfileStore } from '../../src/profiles/profile.js';
import type { Profile } from '../../src/domain/profile.js';
import type { HistoryRecord } from '../../src/domain/history.js';

const T0 = Date.parse('2026-12-01T09:00:00.000Z');
const TTL_MS = 60_000;
const STALE_MAX_AGE_MS = 3_600_000;
const AMELIA = '0123456789abcdef0123456789abcdef';
const RAVI = 'fedcba9876543210fedcba9876543210';

function mappingOf(attributes: Record<string, string>, objects: Record<string, { latestBy: string }> = {}): AttributeMapping {
  const { mapping, problems } = parseAttributeMapping({ attributes, objects });
  expect(problems).to.deep.equal([]);
  return mapping;
}

/** Three sources: the calculated attributes, the latest Orders object, the VIP segment. */
const MAPPING = mappingOf(
  { contacts30d: 'CalculatedAttributes.contacts_30d', orderStatus: 'Objects.Orders.status', vip: 'Segments.VIP' },
  { Orders: { latestBy: 'updatedAt' } },
);
const SOURCES = ['calculated-attributes', 'object:Orders', 'segment:VIP'];
const OPERATIONS = ['ListCalculatedAttributesForProfile', 'ListProfileObjects', 'GetSegmentMembership'];

function defaultResult(call: EnrichmentCall): EnrichmentResult {
  if (call.kind === 'calculated') return { contacts_30d: { value: '3' } };
  if (call.kind === 'object') return { status: 'SHIPPED', updatedAt: '2026-11-28T00:00:00Z' };
  return { member: true };
}
const VALUES = { contacts30d: '3', orderStatus: 'SHIPPED', vip: 'true' };

/** A profile store that only enriches: each call is recorded and answered by `answer` (by default at once). */
class ScriptedStore implements ProfileStore {
  readonly kind = 'embedded';
  readonly calls: Array<{ source: string; profileId: string }> = [];
  answer: (call: EnrichmentCall, profileId: string, anotherPage?: () => Promise<boolean>) => Promise<EnrichmentResult> = (call) =>
    Promise.resolve(defaultResult(call));

  search(): Promise<Match[]> {
    throw new Error('enrichment never searches');
  }
  create(): Promise<Profile> {
    throw new Error('enrichment never creates');
  }
  history(): Promise<HistoryRecord[]> {
    throw new Error('enrichment never reads history');
  }
  enrich(call: EnrichmentCall, profileId: string, _signal: AbortSignal, anotherPage?: () => Promise<boolean>): Promise<EnrichmentResult> {
    this.calls.push({ source: call.id, profileId });
    return this.answer(call, profileId, anotherPage);
  }
  sources(profileId?: string): string[] {
    return this.calls.filter((c) => profileId === undefined || c.profileId === profileId).map((c) => c.source);
  }
}

/** The real in-process allowance, recording what is asked of it; `hold` keeps its answers until released. */
class WatchedBudget implements CallBudget {
  readonly asked: Array<Record<string, number>> = [];
  private held: Array<() => void> | undefined;
  constructor(private readonly inner: CallBudget) {}

  async take(wanted: ReadonlyMap<string, number>): Promise<Set<string>> {
    this.asked.push(Object.fromEntries(wanted));
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    return this.inner.take(wanted);
  }
  hold(): void {
    this.held = [];
  }
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const go of held) go();
  }
  get waiting(): number {
    return this.held?.length ?? 0;
  }
}

describe('Enricher (the enrich step)', () => {
  let now: number;
  let store: ScriptedStore;
  let budget: WatchedBudget;
  let outcomes: Array<[string, EnrichOutcome]>;
  let signal: AbortSignal;

  function enricher(o: { mapping?: AttributeMapping; perSecond?: number } = {}): Enricher {
    budget = new WatchedBudget(new AccountQuota({ default: o.perSecond ?? 100, perOperation: new Map() }, undefined, () => now));
    return new Enricher({
      store,
      mapping: o.mapping ?? MAPPING,
      budget,
      ttlMs: TTL_MS,
      staleMaxAgeMs: STALE_MAX_AGE_MS,
      onCall: (call, outcome) => outcomes.push([call.id, outcome]),
      now: () => now,
    });
  }

  /** Entries as a call `ageMs` old left them. */
  function cachedEntries(ageMs: number, values: Record<string, Record<string, string>> = {}): Enriched {
    return Object.fromEntries(SOURCES.map((id) => [id, { at: now - ageMs, values: values[id] ?? { [keyOf(id)]: `old ${id}` } }]));
  }
  const keyOf = (source: string) => ({ 'calculated-attributes': 'contacts30d', 'object:Orders': 'orderStatus', 'segment:VIP': 'vip' })[source]!;

  beforeEach(() => {
    now = T0;
    store = new ScriptedStore();
    outcomes = [];
    signal = new AbortController().signal;
  });

  describe('what it calls', () => {
    it('when nothing is cached, calls each source once for the profile and answers every mapped value, COMPLETE', async () => {
      const e = enricher();

      const result = await e.enrich(AMELIA, undefined, true, signal);

      expect(store.sources(AMELIA)).to.have.members(SOURCES).and.have.length(3);
      expect(result).to.deep.include({ status: 'COMPLETE', values: VALUES, stale: false, changed: true });
      expect(result.enriched).to.deep.equal({
        'calculated-attributes': { at: T0, values: { contacts30d: '3' } },
        'object:Orders': { at: T0, values: { orderStatus: 'SHIPPED' } },
        'segment:VIP': { at: T0, values: { vip: 'true' } },
      });
      expect(outcomes).to.have.deep.members(SOURCES.map((s) => [s, 'success']));
    });

    it('when the mapping names no enrichment source, answers NONE and calls nothing', async () => {
      const e = enricher({ mapping: mappingOf({ tier: 'Attributes.tier' }) });

      expect(await e.enrich(AMELIA, undefined, true, signal)).to.equal(NO_ENRICHMENT);
      expect(e.reserveAll(signal)).to.equal(undefined);
      expect(store.calls).to.deep.equal([]);
      expect(budget.asked).to.deep.equal([]);
    });

    it('values younger than ENRICHMENT_TTL_SECONDS answer from the cache with no call and no allowance taken', async () => {
      const e = enricher();
      const cached = cachedEntries(TTL_MS - 1);

      const result = await e.enrich(AMELIA, cached, true, signal);

      expect(store.calls).to.deep.equal([]);
      expect(budget.asked).to.deep.equal([]);
      expect(result).to.deep.include({ status: 'COMPLETE', stale: false, changed: false, enriched: cached });
      expect(result.values).to.deep.equal({ contacts30d: 'old calculated-attributes', orderStatus: 'old object:Orders', vip: 'old segment:VIP' });
    });

    it('once ENRICHMENT_TTL_SECONDS have passed, calls only the sources whose values are that old, and keeps the others as they are', async () => {
      const e = enricher();
      const cached = cachedEntries(TTL_MS);
      cached['segment:VIP'] = { at: now - 1000, values: { vip: 'false' } };

      const result = await e.enrich(AMELIA, cached, true, signal);

      expect(store.sources()).to.have.members(['calculated-attributes', 'object:Orders']).and.have.length(2);
      expect(budget.asked).to.deep.equal([{ ListCalculatedAttributesForProfile: 1, ListProfileObjects: 1 }]);
      expect(result.values).to.deep.equal({ contacts30d: '3', orderStatus: 'SHIPPED', vip: 'false' });
      expect(result.enriched['segment:VIP']).to.deep.equal({ at: now - 1000, values: { vip: 'false' } });
      expect(result).to.deep.include({ status: 'COMPLETE', stale: false, changed: true });
    });

    it('a profile created now (nothingYet) has nothing to read: no call until ENRICHMENT_TTL_SECONDS have passed', async () => {
      const e = enricher();
      const created = e.nothingYet();
      expect(created).to.deep.equal(Object.fromEntries(SOURCES.map((s) => [s, { at: T0, values: {} }])));

      now += TTL_MS - 1;
      expect(await e.enrich(AMELIA, created, true, signal)).to.deep.include({ status: 'COMPLETE', values: {}, changed: false });
      expect(store.calls).to.deep.equal([]);

      now += 1;
      await e.enrich(AMELIA, created, true, signal);
      expect(store.calls).to.have.length(3);
    });

    it('when the lookup itself failed (refresh false), answers from the cached values only, stale ones included, and calls nothing', async () => {
      const e = enricher();

      const result = await e.enrich(AMELIA, cachedEntries(10 * TTL_MS), false, signal);

      expect(store.calls).to.deep.equal([]);
      expect(result).to.deep.include({ status: 'COMPLETE', stale: true, changed: false });
      expect(result.values).to.have.property('vip', 'old segment:VIP');
    });

    it('values are sanitised for Connect: control characters become spaces and the value is trimmed', async () => {
      const e = enricher();
      store.answer = (call) => Promise.resolve(call.kind === 'calculated' ? { contacts_30d: { value: ' 3\u0000\nmore\u2028 ' } } : defaultResult(call));

      const result = await e.enrich(AMELIA, undefined, true, signal);

      expect(result.values.contacts30d).to.equal('3 more');
    });
  });

  describe('freshness (what Customer Profiles said of each value)', () => {
    const PARTIAL_AT = Date.parse('2026-11-30T21:15:00Z');
    const COMPUTED_AT = Date.parse('2026-11-29T06:00:00Z');
    const answerWithFreshness = (call: EnrichmentCall): Promise<EnrichmentResult> =>
      Promise.resolve(
        call.kind === 'calculated'
          ? { contacts_30d: { value: '3', partial: true, asOf: PARTIAL_AT }, unmapped: { value: 'x', partial: false, asOf: 0 } }
          : call.kind === 'segment'
            ? { member: false, computedAt: COMPUTED_AT }
            : defaultResult(call),
      );

    it('keeps it by mapped key in the entry it caches, beside the values: an attribute not mapped and an object say nothing', async () => {
      const e = enricher();
      store.answer = answerWithFreshness;

      const result = await e.enrich(AMELIA, undefined, true, signal);

      expect(result.freshness).to.deep.equal({ contacts30d: { partial: true, asOf: PARTIAL_AT }, vip: { asOf: COMPUTED_AT } });
      expect(result.enriched).to.deep.equal({
        'calculated-attributes': { at: T0, values: { contacts30d: '3' }, freshness: { contacts30d: { partial: true, asOf: PARTIAL_AT } } },
        'object:Orders': { at: T0, values: { orderStatus: 'SHIPPED' } },
        'segment:VIP': { at: T0, values: { vip: 'false' }, freshness: { vip: { asOf: COMPUTED_AT } } },
      });
    });

    it('a value from the cache answers the freshness cached with it, a stale one (its refresh failed) included', async () => {
      const e = enricher();
      store.answer = answerWithFreshness;
      const cached = (await e.enrich(AMELIA, undefined, true, signal)).enriched;

      now += TTL_MS - 1;
      const hit = await e.enrich(AMELIA, cached, true, signal);
      now += 10 * TTL_MS;
      store.answer = () => Promise.reject(new ProfileStoreError('unavailable', '503'));
      const stale = await e.enrich(AMELIA, cached, true, signal);

      for (const result of [hit, stale]) expect(result.freshness).to.deep.equal({ contacts30d: { partial: true, asOf: PARTIAL_AT }, vip: { asOf: COMPUTED_AT } });
      expect(stale.stale).to.equal(true);
    });
  });

  describe('when a source fails, is slow or is skipped', () => {
    const unavailable = () => Promise.reject(new ProfileStoreError('unavailable', 'ListProfileObjects: 503'));

    it('a failed call keeps the source\'s last values (stale-if-error): COMPLETE but stale, and the others are fresh', async () => {
      const e = enricher();
      store.answer = (call) => (call.kind === 'object' ? unavailable() : Promise.resolve(defaultResult(call)));
      const cached = cachedEntries(TTL_MS + 5000);

      const result = await e.enrich(AMELIA, cached, true, signal);

      expect(result).to.deep.include({ status: 'COMPLETE', stale: true, changed: true });
      expect(result.values).to.deep.equal({ contacts30d: '3', orderStatus: 'old object:Orders', vip: 'true' });
      expect(result.enriched['object:Orders']).to.deep.equal(cached['object:Orders']);
      expect(outcomes).to.deep.include(['object:Orders', 'failed']);
    });

    it('a failed call with no value younger than CACHE_STALE_MAX_AGE_SECONDS leaves the source out: PARTIAL, its keys absent', async () => {
      const e = enricher();
      store.answer = (call) => (call.kind === 'object' ? unavailable() : Promise.resolve(defaultResult(call)));

      const tooOld = await e.enrich(AMELIA, cachedEntries(STALE_MAX_AGE_MS), true, signal);
      const none = await e.enrich(RAVI, undefined, true, signal);

      for (const result of [tooOld, none]) {
        expect(result.status).to.equal('PARTIAL');
        expect(result.values).to.deep.equal({ contacts30d: '3', vip: 'true' });
        expect(result.enriched).not.to.have.property('object:Orders');
      }
    });

    it('a throttled operation is not called again on this replica for a second: its sources are skipped, the other operations are not', async () => {
      const e = enricher();
      store.answer = (call) =>
        call.kind === 'segment' ? Promise.reject(new ProfileStoreError('throttled', 'GetSegmentMembership: 429')) : Promise.resolve(defaultResult(call));
      await e.enrich(AMELIA, undefined, true, signal);
      expect(outcomes).to.deep.include(['segment:VIP', 'throttled']);
      store.answer = (call) => Promise.resolve(defaultResult(call));
      outcomes = [];

      now += 999;
      const cooling = await e.enrich(RAVI, undefined, true, signal);
      expect(store.sources(RAVI)).to.have.members(['calculated-attributes', 'object:Orders']).and.have.length(2);
      expect(budget.asked.at(-1), 'the allowance is not asked for a resting operation').not.to.have.property('GetSegmentMembership');
      expect(outcomes).to.deep.include(['segment:VIP', 'skipped']);
      expect(cooling.status).to.equal('PARTIAL');

      now += 1;
      await e.enrich(RAVI, undefined, true, signal);
      expect(store.sources(RAVI)).to.include('segment:VIP');
    });

    it('a call still running when the request\'s deadline passes is given up (timeout) and the answer comes without it', async () => {
      const e = enricher();
      store.answer = (call) => (call.kind === 'calculated' ? new Promise<EnrichmentResult>(() => {}) : Promise.resolve(defaultResult(call)));
      const controller = new AbortController();

      const answer = e.enrich(AMELIA, cachedEntries(TTL_MS), true, controller.signal);
      await turn();
      controller.abort();
      const result = await answer;

      expect(result).to.deep.include({ status: 'COMPLETE', stale: true });
      expect(result.values).to.deep.equal({ contacts30d: 'old calculated-attributes', orderStatus: 'SHIPPED', vip: 'true' });
      expect(outcomes).to.deep.include(['calculated-attributes', 'timeout']);
    });

    it('a read that needs another page asks the allowance for it; refused, the source is skipped (AllowanceSpent), not failed', async () => {
      const e = enricher({ perSecond: 1 });
      const pages: boolean[] = [];
      store.answer = async (call, _profileId, anotherPage) => {
        if (call.kind !== 'object') return defaultResult(call);
        const more = await anotherPage!();
        pages.push(more);
        if (!more) throw new AllowanceSpent('ListProfileObjects');
        return defaultResult(call);
      };

      const result = await e.enrich(AMELIA, undefined, true, signal);

      expect(pages).to.deep.equal([false]);
      expect(budget.asked.at(-1)).to.deep.equal({ ListProfileObjects: 1 });
      expect(outcomes).to.deep.include(['object:Orders', 'skipped']);
      expect(result.status).to.equal('PARTIAL');
    });
  });

  describe('the fleet\'s allowance', () => {
    it('takes one call of each operation, all in one ask, and makes no call the allowance refused', async () => {
      const e = enricher({ perSecond: 1 });

      await e.enrich(AMELIA, undefined, true, signal);
      const second = await e.enrich(RAVI, undefined, true, signal);

      expect(budget.asked).to.deep.equal([Object.fromEntries(OPERATIONS.map((op) => [op, 1])), Object.fromEntries(OPERATIONS.map((op) => [op, 1]))]);
      expect(store.sources(RAVI), 'the second profile in the same second').to.deep.equal([]);
      expect(outcomes.filter(([, o]) => o === 'skipped')).to.have.length(3);
      expect(second).to.deep.include({ status: 'PARTIAL', values: {}, changed: false });

      now += 1000;
      await e.enrich(RAVI, undefined, true, signal);
      expect(store.sources(RAVI), 'in the next second').to.have.length(3);
    });

    it('the allowance reserveAll took beside the search is what enrich uses: it does not ask again', async () => {
      const e = enricher();

      const reserved = e.reserveAll(signal);
      expect(budget.asked).to.deep.equal([Object.fromEntries(OPERATIONS.map((op) => [op, 1]))]);
      const result = await e.enrich(AMELIA, undefined, true, signal, reserved);

      expect(budget.asked, 'asked once').to.have.length(1);
      expect(result.values).to.deep.equal(VALUES);
    });

    it('when the allowance does not answer by the deadline, nothing is called and the answer comes at the deadline', async () => {
      const e = enricher();
      budget.hold();
      const controller = new AbortController();

      const answer = e.enrich(AMELIA, cachedEntries(TTL_MS), true, controller.signal);
      await turn();
      controller.abort();
      const result = await answer;
      budget.release();

      expect(store.calls).to.deep.equal([]);
      expect(result).to.deep.include({ status: 'COMPLETE', stale: true, changed: false });
    });
  });

  describe('calls in flight on this replica', () => {
    it('a contact of a profile whose calls are in flight joins them: one call per source, both answer its values; another profile makes its own and both answer its values; another profile makes its own', async () => {
      const e = enricher();
      const answers: Array<() => void> = [];
      store.answer = (call) => new Promise((resolve) => answers.push(() => resolve(defaultResult(call))));

      const first = e.enrich(AMELIA, undefined, true, signal);
      while (answers.length < 3) await turn();
      const second = e.enrich(AMELIA, undefined, true, signal);
      const other = e.enrich(RAVI, undefined, true, signal);
      while (answers.length < 6) await turn();
      await turn();
      expect(store.sources(AMELIA), 'Amelia\'s calls').to.have.length(3);
      expect(store.sources(RAVI), 'Ravi\'s calls').to.have.length(3);
      for (const go of answers) go();

      for (const result of await Promise.all([first, second, other])) expect(result.values).to.deep.equal(VALUES);
      expect(budget.asked, 'the joining contact takes no allowance').to.have.length(2); // Amelia's first contact and Ravi's
    });

    it('a call another contact started while this one waited for its allowance is joined, not made twice', async () => {
      const e = enricher();
      budget.hold();

      // both pass the in-flight check before either has its allowance (replies that came in one Redis packet)
      const first = e.enrich(AMELIA, undefined, true, signal);
      const second = e.enrich(AMELIA, undefined, true, signal);
      while (budget.waiting < 2) await turn();
      budget.release();
      const results = await Promise.all([first, second]);

      expect(store.sources(AMELIA)).to.have.members(SOURCES).and.have.length(3);
      for (const result of results) expect(result.values).to.deep.equal(VALUES);
    });

    it('a contact that joined another\'s call answers at its own deadline, while the call goes on for the contact that made it', async () => {
      const e = enricher();
      let answer: (() => void) | undefined;
      store.answer = (call) =>
        call.kind === 'segment' ? new Promise((resolve) => (answer = () => resolve(defaultResult(call)))) : Promise.resolve(defaultResult(call));
      const first = e.enrich(AMELIA, undefined, true, signal);
      while (!answer) await turn();
      const joining = new AbortController();

      const cached = cachedEntries(0);
      cached['segment:VIP']!.at = now - TTL_MS; // the segment's call is due, and in flight
      const second = e.enrich(AMELIA, cached, true, joining.signal);
      await turn();
      joining.abort();
      const joined = await second;
      answer();

      expect(joined.values).to.have.property('vip', 'old segment:VIP');
      expect(joined.stale).to.equal(true);
      expect((await first).values).to.deep.equal(VALUES);
      expect(store.sources(AMELIA)).to.have.length(3);
    });

    it('once a call has ended, the next contact calls again (nothing is joined after it ended)', async () => {
      const e = enricher();

      await e.enrich(AMELIA, undefined, true, signal);
      await e.enrich(AMELIA, undefined, true, signal);

      expect(store.sources(AMELIA)).to.have.length(6);
    });
  });
});
