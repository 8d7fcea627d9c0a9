// Property-based tests of operation "update" over real HTTP (the real app on port 0): generated
// profile.* names and values never get a 5xx, a rejected update queues nothing, and no value sent
// reaches a log line.
import { expect } from 'chai';
import fc from 'fast-check';
import { UPDATABLE_FIELDS } from '../../src/domain/profile-update.js';
import { ADDRESS_FIELDS, ADDRESS_PARTS } from '../../src/domain/profile.js';
import { startApp, type RunningApp } from '../support/app.js';
import { eventFrom } from '../support/fixtures.js';

const RUNS = 300;
const PROFILE_ID = '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d';
const PHONE = '+14255550123';

// names: the fields a flow may set, their near misses, and anything at all
const name = fc.oneof(
  fc.constantFrom(...UPDATABLE_FIELDS).map((f) => `profile.${f}`),
  fc.tuple(fc.constantFrom(...ADDRESS_FIELDS), fc.constantFrom(...ADDRESS_PARTS)).map(([a, p]) => `profile.${a}.${p}`),
  fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/).map((n) => `profile.Attributes.${n}`),
  fc.string({ maxLength: 40 }).map((n) => `profile.${n}`),
  fc.constantFrom('profile.Gender', 'profile.PartyType', 'profile.FirstName.x', 'profile.Address', 'profile.', 'profile.Attributes.'),
);
// values: each carries a marker that must never be logged, then anything (long, control characters, unicode)
const value = fc.tuple(fc.stringMatching(/^[a-f0-9]{10}$/), fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constant(''), fc.constantFrom('(425) 555-0199', 'jo@example.com', '1990-04-01')));

describe('operation "update" over HTTP (property-based)', function () {
  this.timeout(120_000);
  let app: RunningApp;
  const markers: string[] = [];

  before(async () => {
    app = await startApp({ seed: [{ ProfileId: PROFILE_ID, PhoneNumber: PHONE, FirstName: 'Amelia' }] });
  });
  after(async () => {
    await app.stop();
  });

  it(`for ${RUNS} generated updates, answers 200 or 400 INVALID_EVENT, and a 400 queues nothing`, async () => {
    let seq = 0;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(name, value, { minKeys: 1, maxKeys: 6 }), fc.boolean(), async (fields, named) => {
        const contactId = `44444444-0000-4000-8000-${String(++seq).padStart(12, '0')}`;
        const parameters: Record<string, string> = { operation: 'update', ...(named ? { profileId: PROFILE_ID } : {}) };
        for (const [n, [marker, rest]] of Object.entries(fields)) {
          // a phone or e-mail value stays parseable when it is one; the marker then goes into another field
          parameters[n] = /(Phone|Email)/.test(n) || rest === '' ? rest : `${marker}${rest}`;
          markers.push(marker);
        }
        const before = await app.records.depth();
        const res = await app.resolve(eventFrom('voice-e164.json', { address: PHONE, contactId, parameters }));
        const body = (await res.json()) as Record<string, unknown>;
        expect([200, 400], JSON.stringify(body)).to.include(res.status);
        if (res.status === 400) {
          expect((body.error as { code: string }).code).to.equal('INVALID_EVENT');
          expect(await app.records.depth(), 'a rejected update queues nothing').to.equal(before);
        } else {
          expect(body.updateStatus).to.be.oneOf(['QUEUED', 'NO_PROFILE']);
          expect(Object.values(body).every((v) => typeof v === 'string')).to.equal(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('after those requests, no log line holds a value that was sent', () => {
    const text = app.log.text();
    const leaked = markers.filter((m) => text.includes(m));
    expect(leaked, 'values in the log').to.deep.equal([]);
  });
});
