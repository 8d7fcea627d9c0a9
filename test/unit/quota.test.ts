import { expect } from 'chai';
import { AccountQuota, BACKGROUND_AHEAD_MS, ENRICH_AHEAD_MS, MemoryQuotaBook, MIN_FACTOR, RECOVER_MS, type Priority, type QuotaObserver } from '../../src/cache/quota.js';
import { useFakeClock } from '../support/clock.js';

const START = Date.parse('2026-12-06T09:00:00Z');
const shares = (perSecond: number) => ({ default: perSecond, perOperation: new Map<string, number>() });

/** Records what the allowance tells the metrics. */
function watch(): QuotaObserver & { events: string[]; rates: number[] } {
  const events: string[] = [];
  const rates: number[] = [];
  return {
    events,
    rates,
    booked: (operation, priority, result, _waitedMs, calls) => events.push(`${operation} ${priority} ${result}${calls === 1 ? '' : ` x${calls}`}`),
    rate: (_operation, perSecond) => rates.push(perSecond),
    throttled: (operation) => events.push(`${operation} throttled`),
  };
}

describe('the fleet share of the account quota (cache/quota.ts)', () => {
  describe('its book (MemoryQuotaBook: the Redis book runs the same in a script, test/integration/quota.test.ts)', () => {
    let now: number;
    beforeEach(() => (now = START));

    it('spaces the slots of an operation 1000/rate ms apart (2% wider), each operation on a line of its own', async () => {
      const book = new MemoryQuotaBook(() => now);
      const waits: number[] = [];
      for (let i = 0; i < 5; i++) waits.push((await book.book('SearchProfiles', 100, 1, 1000)).waitMs);
      expect(waits).to.deep.equal([0, 11, 21, 31, 41]);
      expect((await book.book('CreateProfile', 100, 1, 1000)).waitMs).to.equal(0);
    });

    it('refuses a booking whose slot would come later than asked, says when the first free slot is, and books nothing', async () => {
      const book = new MemoryQuotaBook(() => now);
      for (let i = 0; i < 10; i++) await book.book('SearchProfiles', 10, 1, 5000); // 10 slots: ~1 s booked
      const refused = await book.book('SearchProfiles', 10, 1, 500);
      expect(refused.granted).to.equal(false);
      expect(refused.waitMs).to.be.within(1019, 1021);
      // nothing was booked by the refusal: the next one that may wait gets the same slot
      expect((await book.book('SearchProfiles', 10, 1, 5000)).waitMs).to.equal(refused.waitMs);
    });

    it('halves the rate on a 429, once a second at most, never below MIN_FACTOR, and climbs back linearly in RECOVER_MS', async () => {
      const book = new MemoryQuotaBook(() => now);
      const factor = async () => (await book.book('SearchProfiles', 100, 1, 10_000)).factor;
      expect(await factor()).to.equal(1);
      await book.throttled('SearchProfiles', 100);
      await book.throttled('SearchProfiles', 100); // the same second: the same news
      expect(await factor()).to.equal(0.5);
      now += 1000;
      await book.throttled('SearchProfiles', 100);
      expect(await factor()).to.be.closeTo((0.5 + 1000 / RECOVER_MS) / 2, 1e-9);
      // a 429 every second: it settles where a second's climb is cut again, at the floor
      for (let i = 0; i < 30; i++) {
        now += 1000;
        await book.throttled('SearchProfiles', 100);
      }
      expect(await factor()).to.be.within(MIN_FACTOR, MIN_FACTOR + 1e-6);
      now += RECOVER_MS / 2;
      expect(await factor()).to.be.closeTo(MIN_FACTOR + 0.5, 1e-6);
      now += RECOVER_MS;
      expect(await factor()).to.equal(1);
    });

    it('spaces the slots wider while backed off, the next one a gap of the lowered rate after the 429', async () => {
      const book = new MemoryQuotaBook(() => now);
      await book.throttled('CreateProfile', 100);
      // 50 a second: a slot every 20.4 ms, the first one gap from the 429, not at once
      expect((await book.book('CreateProfile', 100, 1, 1000)).waitMs).to.equal(21);
      expect((await book.book('CreateProfile', 100, 1, 1000)).waitMs).to.equal(41);
    });
  });

  describe('the allowance (AccountQuota)', () => {
    const clock = useFakeClock(START);

    it('lets a live call go at once when its slot is free, and makes the next wait for its own', async () => {
      const observer = watch();
      const quota = new AccountQuota(shares(10), observer);
      expect(await quota.acquire('SearchProfiles', 'live', { latestStartAt: Date.now() + 1000 })).to.deep.equal({ granted: true, waitedMs: 0 });
      let second: unknown;
      void quota.acquire('SearchProfiles', 'live', { latestStartAt: Date.now() + 1000 }).then((g) => (second = g));
      await clock.advance(100);
      expect(second).to.equal(undefined);
      await clock.advance(10);
      expect(second).to.deep.equal({ granted: true, waitedMs: 110 });
      expect(observer.events).to.deep.equal(['SearchProfiles live granted', 'SearchProfiles live waited']);
      expect(observer.rates).to.deep.equal([10, 10]);
    });

    it('refuses a live call at once when no slot comes before its latest start, and it takes no slot', async () => {
      const observer = watch();
      const quota = new AccountQuota(shares(10), observer);
      const pending = [1, 2, 3].map(() => quota.acquire('CreateProfile', 'live', { latestStartAt: Date.now() + 1000 }));
      await clock.settle();
      // the slots at 0, 102 and 204 ms are taken: one that must start within 250 ms is refused at once
      const refused = await quota.acquire('CreateProfile', 'live', { latestStartAt: Date.now() + 250 });
      expect(refused).to.deep.equal({ granted: false, retryInMs: 306 });
      expect(observer.events).to.include('CreateProfile live refused');
      // the refusal took nothing: the next caller who may wait a second gets 306 ms
      const next = quota.acquire('CreateProfile', 'live', { latestStartAt: Date.now() + 1000 });
      await clock.advance(310);
      expect((await next).granted).to.equal(true);
      expect((await next as { waitedMs: number }).waitedMs).to.be.within(306, 310);
      await Promise.all(pending);
    });

    it('books again, rather than send late in a bunch, when the process stalled past its slot', async () => {
      const observer = watch();
      const quota = new AccountQuota(shares(10), observer); // a slot every 102 ms
      await quota.acquire('SearchProfiles', 'live');
      const served: string[] = [];
      const go = (name: string, latestInMs: number) =>
        quota.acquire('SearchProfiles', 'live', { latestStartAt: Date.now() + latestInMs }).then((g) => served.push(`${name} ${JSON.stringify(g)}`));
      const calls = [go('a', 1000), go('b', 1000)]; // slots at 102 and 204 ms
      // a stall: the event loop comes back at 300 ms, both slots long past
      await clock.advance(300, 300);
      await clock.settle();
      // each booked again, the next free slots (306 and 408 ms): one at a time, not both at once
      expect(served).to.deep.equal([]);
      await clock.advance(10);
      expect(served).to.deep.equal(['a {"granted":true,"waitedMs":310}']);
      await clock.advance(90);
      expect(served).to.have.length(1);
      await clock.advance(10);
      await Promise.all(calls);
      expect(served[1]).to.equal('b {"granted":true,"waitedMs":410}');
      expect(observer.events).to.deep.equal([
        'SearchProfiles live granted',
        'SearchProfiles live missed',
        'SearchProfiles live missed',
        'SearchProfiles live waited',
        'SearchProfiles live waited',
      ]);
    });

    it('lets a call that missed its second slot too go late: no third booking, no refusal', async () => {
      const observer = watch();
      const quota = new AccountQuota(shares(10), observer);
      await quota.acquire('SearchProfiles', 'live');
      const calls = [quota.acquire('SearchProfiles', 'live'), quota.acquire('SearchProfiles', 'live')]; // slots at 102, 204 ms
      await clock.advance(300, 300); // a stall past both: they book again (306, 408 ms)
      await clock.settle();
      await clock.advance(400, 400); // and another past those: they go now
      const grants = await Promise.all(calls);
      expect(grants.map((g) => g.granted)).to.deep.equal([true, true]);
      expect(observer.events).to.deep.equal([
        'SearchProfiles live granted',
        'SearchProfiles live missed',
        'SearchProfiles live missed',
        'SearchProfiles live waited',
        'SearchProfiles live waited',
      ]);
    });

    it('lets a live call past its latest start take a slot free now, never wait for one', async () => {
      const quota = new AccountQuota(shares(10));
      expect((await quota.acquire('SearchProfiles', 'live', { latestStartAt: Date.now() - 10 })).granted).to.equal(true);
      expect(await quota.acquire('SearchProfiles', 'live', { latestStartAt: Date.now() - 10 })).to.deep.equal({ granted: false, retryInMs: 102 });
    });

    it('gives a slot that comes up to the earliest deadline among the live callers waiting on the replica', async () => {
      const quota = new AccountQuota(shares(10));
      const order: string[] = [];
      const go = (name: string, latestInMs: number, priority: Priority = 'live') =>
        quota.acquire('SearchProfiles', priority, { latestStartAt: Date.now() + latestInMs }).then((g) => g.granted && order.push(name));
      const first = go('first', 2000);
      const late = go('late deadline', 2000); // booked the slot at 102 ms
      const soon = go('early deadline', 300); // booked the slot at 204 ms, and may start until 300 ms
      await clock.advance(300);
      await Promise.all([first, late, soon]);
      expect(order).to.deep.equal(['first', 'early deadline', 'late deadline']);
    });

    it('serves live callers waiting before enrichment and background writes waiting for the same operation', async () => {
      const quota = new AccountQuota(shares(10));
      const order: string[] = [];
      await quota.acquire('PutProfileObject', 'background');
      const background = quota.acquire('PutProfileObject', 'background').then(() => order.push('background'));
      const live = quota.acquire('PutProfileObject', 'live', { latestStartAt: Date.now() + 1000 }).then(() => order.push('live'));
      await clock.advance(250);
      await Promise.all([background, live]);
      expect(order).to.deep.equal(['live', 'background']);
    });

    it(`lets a background write book at most ${BACKGROUND_AHEAD_MS} ms ahead: past that it comes back when the live callers' slots have passed`, async () => {
      const observer = watch();
      const quota = new AccountQuota(shares(10), observer);
      const live = [1, 2, 3, 4].map(() => quota.acquire('UpdateProfile', 'live', { latestStartAt: Date.now() + 2000 }));
      await clock.settle();
      const put = await quota.acquire('UpdateProfile', 'background');
      expect(put).to.deep.equal({ granted: false, retryInMs: 408 });
      expect(observer.events.at(-1)).to.equal('UpdateProfile background refused');
      await clock.advance(410);
      await Promise.all(live);
    });

    it(`grants enrichment only slots within ${ENRICH_AHEAD_MS} ms, all or none of an operation's calls, without waiting`, async () => {
      const seen = watch();
      const quota = new AccountQuota(shares(20), seen); // a slot every 51 ms
      expect([...(await quota.take(new Map([['ListProfileObjects', 2], ['GetSegmentMembership', 1]])))].sort()).to.deep.equal(['GetSegmentMembership', 'ListProfileObjects']);
      // the metrics count every call booked at once
      expect(seen.events).to.deep.equal(['ListProfileObjects enrich granted x2', 'GetSegmentMembership enrich granted']);
      // ListProfileObjects' next free slot is 102 ms away: refused; GetSegmentMembership's is 51 ms away
      expect([...(await quota.take(new Map([['ListProfileObjects', 1], ['GetSegmentMembership', 1]])))]).to.deep.equal(['GetSegmentMembership']);
      // three calls side by side would start their last slot's call 102 ms early: none of them
      expect([...(await quota.take(new Map([['ListCalculatedAttributesForProfile', 3]])))]).to.deep.equal([]);
    });

    it('stops waiting when the request is abandoned, and its slot goes to the next caller waiting', async () => {
      const quota = new AccountQuota(shares(10));
      await quota.acquire('SearchProfiles', 'live');
      const controller = new AbortController();
      const abandoned = quota.acquire('SearchProfiles', 'live', { signal: controller.signal });
      const next = quota.acquire('SearchProfiles', 'live');
      let nextAt = 0;
      void next.then(() => (nextAt = Date.now() - START));
      const ended = abandoned.then(
        () => 'granted',
        (err: Error) => err.name,
      );
      await clock.advance(50);
      controller.abort();
      expect(await ended).to.equal('AbortError');
      await clock.advance(60);
      expect(nextAt).to.be.within(100, 110); // the abandoned caller's slot (102 ms), not its own (204 ms)
    });

    it('tells the metrics of a 429 and backs the fleet off', async () => {
      const observer = watch();
      const quota = new AccountQuota(shares(100), observer);
      quota.throttled('SearchProfiles');
      await clock.settle();
      // the next call waits a gap of the halved rate (20.4 ms): not sent at once into the spent quota
      const next = quota.acquire('SearchProfiles', 'live');
      await clock.advance(30);
      expect((await next).granted).to.equal(true);
      expect(observer.events).to.deep.equal(['SearchProfiles throttled', 'SearchProfiles live waited']);
      expect(observer.rates).to.deep.equal([50]);
    });

    it("keeps a share per operation, and reserves for a call twice what its calls have been taking and the event loop's lag", () => {
      const quota = new AccountQuota({ default: 60, perOperation: new Map([['SearchProfiles', 80]]) });
      expect([quota.share('SearchProfiles'), quota.share('CreateProfile')]).to.deep.equal([80, 60]);
      expect(quota.callReserveMs('SearchProfiles')).to.equal(250);
      for (let i = 0; i < 100; i++) quota.observeCall('SearchProfiles', 40);
      expect(quota.callReserveMs('SearchProfiles')).to.be.closeTo(130, 1);
      for (let i = 0; i < 100; i++) quota.observeCall('SearchProfiles', 2000);
      expect(quota.callReserveMs('SearchProfiles')).to.equal(1000);
    });
  });
});
