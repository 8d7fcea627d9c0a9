import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { Pacer } from '../../src/records/pacer.js';
import { useFakeClock } from '../support/clock.js';
import { useRedisServer } from '../support/redis.js';

// Customer Profiles refuses two objects on one profile within a second: the pacer's slots are 1.05 s
// apart, and right before each write the last actual write on the profile is checked, so a slot's job
// that runs late cannot bring the next write closer than a gap.
describe('write pacing per profile (Pacer)', function () {
  this.timeout(20_000);
  const server = useRedisServer();
  let client: Redis;
  before(() => (client = server().client()));
  after(() => client.disconnect());

  for (const where of ['Redis', 'in-process'] as const) {
    describe(`with the book ${where === 'Redis' ? 'in Redis' : 'in-process (Redis failing)'}`, () => {
      const pacer = () => new Pacer({ redis: where === 'Redis' ? client : undefined, keyPrefix: `test:${where}`, connectPerSecond: 10 });
      // The book in Redis keeps Redis' clock: there the time must really pass. The in-process book reads
      // Date.now: a controlled clock moves it.
      const clock = where === 'in-process' ? useFakeClock(Date.parse('2026-12-01T09:00:00Z')) : undefined;
      const pass = (ms: number) => (clock ? clock.advance(ms, ms) : sleep(ms));

      it('reserves slots 1.05 s apart for one profile and none for another', async () => {
        const p = pacer();
        expect(await p.reserveProfileObject('a'.repeat(32))).to.equal(0);
        const second = await p.reserveProfileObject('a'.repeat(32));
        const third = await p.reserveProfileObject('a'.repeat(32));
        expect(second).to.be.within(1030, 1050);
        expect(third).to.be.within(2080, 2100);
        expect(await p.reserveProfileObject('b'.repeat(32))).to.equal(0);
      });

      it('right before a write, makes it wait out the gap after the profile’s last actual write', async () => {
        const p = pacer();
        const profile = 'c'.repeat(32);
        expect(await p.confirmProfileObject(profile)).to.equal(0); // written now
        const wait = await p.confirmProfileObject(profile); // a job whose slot came too soon after it
        expect(wait).to.be.within(1000, 1050);
        await pass(wait + 5);
        expect(await p.confirmProfileObject(profile)).to.equal(0);
        expect(await p.confirmProfileObject('d'.repeat(32))).to.equal(0); // other profiles are not held up
      });

      it('after a write comes back, the gap runs from then: a write slow to arrive does not bring the next one closer', async () => {
        const p = pacer();
        const profile = 'e'.repeat(32);
        expect(await p.confirmProfileObject(profile)).to.equal(0); // sent now
        await pass(400); // ... and back 400 ms later
        await p.settleProfileObject(profile);
        await pass(700); // past the gap from the send, not from the return
        const wait = await p.confirmProfileObject(profile);
        expect(wait).to.be.within(300, 360);
      });
    });
  }
});
