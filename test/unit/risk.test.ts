import { expect } from 'chai';
import { ActionType } from '@aws-sdk/client-customer-profiles';
import { changedFields, HISTORY_ACTIONS, type HistoryRecord } from '../../src/domain/history.js';
import { riskSignals } from '../../src/domain/risk.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-03-10T12:00:00Z');
const WINDOW = { changeWindowDays: 7 };
const update = (daysAgo: number, changed?: string[]): HistoryRecord => ({
  actionType: 'UPDATED',
  createdAt: NOW - daysAgo * DAY,
  objectTypeName: '_profile',
  ...(changed && { changedFields: changed }),
});
const ALL_FALSE = { phoneChangedRecently: 'false', emailChangedRecently: 'false', addressChangedRecently: 'false', mergedRecently: 'false' };

describe('profile history: changed fields and step-up signals (domain/history.ts, domain/risk.ts)', () => {
  describe('HISTORY_ACTIONS', () => {
    it("is the SDK's ActionType enum (the model's: INGESTED, not INGESTION)", () => {
      expect([...HISTORY_ACTIONS].sort()).to.deep.equal(Object.values(ActionType).sort());
    });
  });

  describe('changedFields', () => {
    it('names the top-level fields set, changed or cleared, and the keys changed inside maps (Address.City, Attributes.tier)', () => {
      const before = { ProfileId: 'p', PhoneNumber: '+1', FirstName: 'Ada', Address: { City: 'Leeds', Country: 'GB' }, Attributes: { tier: 'gold' } };
      const after = { ProfileId: 'p', PhoneNumber: '+2', EmailAddress: 'a@x.test', Address: { City: 'York', Country: 'GB' }, Attributes: { tier: 'gold', vip: 'y' } };
      expect(changedFields(before, after)).to.deep.equal(['Address.City', 'Attributes.vip', 'EmailAddress', 'FirstName', 'PhoneNumber']);
    });

    it('is empty for the same state, and names every key of a map that appeared or went', () => {
      const state = { PhoneNumber: '+1', Address: { City: 'Leeds' } };
      expect(changedFields(state, structuredClone(state))).to.deep.equal([]);
      expect(changedFields({}, { MailingAddress: { City: 'Leeds', PostalCode: 'LS1' } })).to.deep.equal(['MailingAddress.City', 'MailingAddress.PostalCode']);
      expect(changedFields({ BillingAddress: { City: 'Leeds' } }, {})).to.deep.equal(['BillingAddress.City']);
      expect(changedFields({ Address: 'flat text' }, { Address: { City: 'Leeds' } })).to.deep.equal(['Address']); // not a map both sides
    });
  });

  describe('riskSignals', () => {
    it('with no history, every signal is "false"', () => {
      expect(riskSignals([], NOW, WINDOW)).to.deep.equal(ALL_FALSE);
    });

    const cases: Array<[string, string[], keyof typeof ALL_FALSE]> = [
      ['the phone number', ['PhoneNumber'], 'phoneChangedRecently'],
      ['the mobile number', ['MobilePhoneNumber'], 'phoneChangedRecently'],
      ['the business e-mail address', ['BusinessEmailAddress'], 'emailChangedRecently'],
      ['the e-mail address', ['EmailAddress'], 'emailChangedRecently'],
      ['the postal code of the address', ['Address.PostalCode'], 'addressChangedRecently'],
      ['the shipping address', ['ShippingAddress.City'], 'addressChangedRecently'],
    ];
    for (const [what, changed, signal] of cases) {
      it(`when an update 3 days ago changed ${what}, ${signal} is "true" and the others "false"`, () => {
        expect(riskSignals([update(3, changed)], NOW, WINDOW)).to.deep.equal({ ...ALL_FALSE, [signal]: 'true' });
      });
    }

    it('when a merge is in the window, mergedRecently is "true"; a merge outside it says nothing', () => {
      const merged = (daysAgo: number): HistoryRecord => ({ actionType: 'MERGED', createdAt: NOW - daysAgo * DAY, objectTypeName: '_profile' });
      expect(riskSignals([merged(1)], NOW, WINDOW)).to.deep.equal({ ...ALL_FALSE, mergedRecently: 'true' });
      expect(riskSignals([merged(8)], NOW, WINDOW)).to.deep.equal(ALL_FALSE);
    });

    it("counts a record at the window's first millisecond, not one a millisecond older", () => {
      const edge = (ms: number): HistoryRecord => ({ ...update(0, ['PhoneNumber']), createdAt: NOW - 7 * DAY + ms });
      expect(riskSignals([edge(0)], NOW, WINDOW).phoneChangedRecently).to.equal('true');
      expect(riskSignals([edge(-1)], NOW, WINDOW).phoneChangedRecently).to.equal('false');
      expect(riskSignals([edge(1)], NOW, { changeWindowDays: 7 }).phoneChangedRecently).to.equal('true');
    });

    it("counts a record stamped after now (AWS' clock ahead of this one)", () => {
      expect(riskSignals([{ ...update(0, ['EmailAddress']), createdAt: NOW + 2000 }], NOW, WINDOW).emailChangedRecently).to.equal('true');
    });

    it('ignores changes outside the window, and records that are not updates (CREATED, INGESTED, keys)', () => {
      const records: HistoryRecord[] = [
        update(30, ['PhoneNumber', 'EmailAddress', 'Address.City']),
        { actionType: 'CREATED', createdAt: NOW - DAY, objectTypeName: '_profile' },
        { actionType: 'INGESTED', createdAt: NOW - DAY, objectTypeName: 'ContactRecord' },
        { actionType: 'ADDED_PROFILE_KEY', createdAt: NOW - DAY, objectTypeName: '_profile' },
      ];
      expect(riskSignals(records, NOW, WINDOW)).to.deep.equal(ALL_FALSE);
      expect(riskSignals(records, NOW, { changeWindowDays: 31 })).to.deep.equal({
        ...ALL_FALSE,
        phoneChangedRecently: 'true',
        emailChangedRecently: 'true',
        addressChangedRecently: 'true',
      });
    });

    it('an update of other fields (a name, an attribute) leaves every signal "false"', () => {
      expect(riskSignals([update(1, ['FirstName', 'Attributes.tier'])], NOW, WINDOW)).to.deep.equal(ALL_FALSE);
    });

    it('an update in the window whose fields are not known makes the change signals "UNKNOWN", unless a known update says "true"', () => {
      const unknown = update(2);
      expect(riskSignals([unknown], NOW, WINDOW)).to.deep.equal({
        phoneChangedRecently: 'UNKNOWN',
        emailChangedRecently: 'UNKNOWN',
        addressChangedRecently: 'UNKNOWN',
        mergedRecently: 'false',
      });
      expect(riskSignals([update(1, ['PhoneNumber']), unknown], NOW, WINDOW)).to.deep.include({ phoneChangedRecently: 'true', emailChangedRecently: 'UNKNOWN' });
      expect(riskSignals([update(9)], NOW, WINDOW)).to.deep.equal(ALL_FALSE); // not known, but outside the window
    });

    it('rejects a window that is not a positive number of days', () => {
      for (const changeWindowDays of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => riskSignals([], NOW, { changeWindowDays }), String(changeWindowDays)).to.throw(RangeError);
      }
    });
  });
});
