import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { AccountQuota, RedisQuotaBook, type QuotaObserver } from '../../src/cache/quota.js';
import { quotaKey } from '../../src/cache/keys.js';
import { useRedisServer } from '../support/redis.js';

// Two replicas of the fleet, each with its own allowance and its own connection, book their calls in one
// Redis: together they keep to the one share.
describe('the fleet share across replicas (RedisQuotaBook on a real Redis)', function () {
  this.timeout(20_000);
  const server = useRedisServer();
  const clients: Redis[] = [];
  let namespace = 0;
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  /** `slots`: when each slot the replica was granted comes (this process's clock), as the book answered */
  function replica(perSecond: number, observer?: QuotaObserver, failed?: string[], slots?: number[]): AccountQuota {
    const client = server().client();
    clients.push(client);
    const quota = new AccountQuota({ default: perSecond, perOperation: new Map() }, observer);
    const ns = `test${namespace}`;
    const book = new RedisQuotaBook(client, (operation) => quotaKey(ns, operation), { failed: (operation) => failed?.push(operation) });
    quota.shareThrough({
      book: async (operation, share, count, maxAheadMs) => {
        const answer = await book.book(operation, share, count, maxAheadMs);
        if (answer.granted) slots?.push(answer.from + answer.waitMs);
        return answer;
      },
      throttled: (operation, share) => book.throttled(operation, share),
    });
    return quota;
  }

  it('spaces the calls of two replicas as one fleet: no 1000 ms holds more than the share', async () => {
    namespace++;
    const slots: number[] = [];
    const [a, b] = [replica(50, undefined, undefined, slots), replica(50, undefined, undefined, slots)];
    const servedAt: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 === 0 ? a : b).acquire('SearchProfiles', 'live', { latestStartAt: Date.now() + 5000 }).then((g) => {
          expect(g.granted).to.equal(true);
          servedAt.push(Date.now());
        }),
      ),
    );
    servedAt.sort((x, y) => x - y);
    slots.sort((x, y) => x - y);
    // alone, each replica would have sent its 30 within 0.6 s; as one fleet, 60 at 50 a second take 1.2 s
    expect(servedAt.at(-1)! - started).to.be.above(59 * (1000 / 50) - 5);
    // the busiest 1000 ms of the slots the fleet's book gave out (a call whose timer fired late books again,
    // and that slot counts too): the share, one more at most (a slot's time is the reply's, rounded up to the ms)
    const busiest = Math.max(...slots.map((t) => slots.filter((u) => u >= t && u < t + 1000).length));
    expect(busiest).to.be.within(49, 51);
    // and no call goes before its slot: the k-th call sent is no earlier than the k-th slot given out. How
    // late a call may go when the process stalls (LATE_MS) is the unit tests'; here a loaded machine's
    // stalls would bunch the calls this test sees, not the fleet's book
    servedAt.forEach((t, k) => expect(t).to.be.at.least(slots[k]! - 1));
  });

  it("backs the whole fleet off when AWS throttles one replica's call", async () => {
    namespace++;
    const rates: number[] = [];
    const a = replica(40);
    const b = replica(40, { booked: () => undefined, throttled: () => undefined, rate: (_op, perSecond) => rates.push(perSecond) });
    a.throttled('CreateProfile');
    // the back-off reaches Redis (fire and forget): b sees it on its next booking
    for (let i = 0; i < 50 && !(rates.at(-1)! < 40); i++) await b.acquire('CreateProfile', 'background');
    expect(rates.at(-1)).to.be.within(20, 20.5);
  });

  it('keeps to the share on each replica alone while Redis fails, and says so', async () => {
    namespace++;
    const failed: string[] = [];
    const quota = replica(10, undefined, failed);
    clients[0]!.disconnect();
    const first = await quota.acquire('SearchProfiles', 'live', { latestStartAt: Date.now() + 50 });
    const second = await quota.acquire('SearchProfiles', 'live', { latestStartAt: Date.now() + 50 });
    expect(first.granted).to.equal(true);
    expect(second.granted).to.equal(false);
    expect(failed).to.deep.equal(['quota.book', 'quota.book']);
  });
});
