import { expect } from 'chai';
import type { ContactLeg } from '../../src/cache/contact-legs.js';
import { carries, earlierLegsOf } from '../../src/contact/legs.js';

const NOW = 1_800_000_000_000;
const WINDOW = 900_000;
/** a first leg asked with the phone number (tag P) and an account number (variant A), VERIFIED */
const leg: ContactLeg = {
  contactId: 'c1',
  at: NOW - 60_000,
  profileId: 'p'.repeat(32),
  status: 'KNOWN',
  matchCount: 1,
  verification: 'VERIFIED',
  matchedBy: ['_phone', '_account'],
  identityTag: 'P',
  tag: 'P',
  variant: 'A',
};

describe('a contact\'s later legs', () => {
  describe('earlierLegsOf', () => {
    it('names the previous contact first, then the initial one, never the contact itself', () => {
      expect(earlierLegsOf({ contactId: 'c3', initialContactId: 'c1', previousContactId: 'c2' })).to.deep.equal(['c2', 'c1']);
      expect(earlierLegsOf({ contactId: 'c2', initialContactId: 'c1', previousContactId: 'c1' })).to.deep.equal(['c1']);
      // a callback: its own InitialContactId, PreviousContactId the contact it calls back
      expect(earlierLegsOf({ contactId: 'c9', initialContactId: 'c9', previousContactId: 'c1' })).to.deep.equal(['c1']);
    });

    it('has none for a first leg, as AWS\'s samples send it (all three ids the same) or without PreviousContactId', () => {
      expect(earlierLegsOf({ contactId: 'c1', initialContactId: 'c1', previousContactId: 'c1' })).to.deep.equal([]);
      expect(earlierLegsOf({ contactId: 'c1', initialContactId: 'c1', previousContactId: '' })).to.deep.equal([]);
    });
  });

  describe('carries', () => {
    it('the same phone number asked alone or with the same keys, within the window', () => {
      expect(carries(leg, { identityTag: 'P', tag: 'P', variant: '' }, NOW, WINDOW)).to.equal(true);
      expect(carries(leg, { identityTag: 'P', tag: 'P', variant: 'A' }, NOW, WINDOW)).to.equal(true);
    });

    it('a later leg with no key of its own', () => {
      expect(carries(leg, undefined, NOW, WINDOW)).to.equal(true);
    });

    it('not another number or address, nor other keys with the same number', () => {
      expect(carries(leg, { identityTag: 'Q', tag: 'Q', variant: '' }, NOW, WINDOW)).to.equal(false);
      expect(carries(leg, { identityTag: 'P', tag: 'P', variant: 'B' }, NOW, WINDOW)).to.equal(false);
    });

    it('without a number or address, only the very keys of an earlier leg that had none', () => {
      const byAccount: ContactLeg = { ...leg, identityTag: '', tag: 'K', variant: '' };
      expect(carries(byAccount, { identityTag: '', tag: 'K', variant: '' }, NOW, WINDOW)).to.equal(true);
      expect(carries(byAccount, { identityTag: '', tag: 'L', variant: '' }, NOW, WINDOW)).to.equal(false);
      // the account number alone is not the phone number and account number the first leg gave
      expect(carries(leg, { identityTag: '', tag: 'K', variant: '' }, NOW, WINDOW)).to.equal(false);
    });

    it('never past the window, whatever the keys', () => {
      const old = { ...leg, at: NOW - WINDOW - 1 };
      expect(carries(old, undefined, NOW, WINDOW)).to.equal(false);
      expect(carries(old, { identityTag: 'P', tag: 'P', variant: '' }, NOW, WINDOW)).to.equal(false);
      expect(carries({ ...leg, at: NOW - WINDOW }, undefined, NOW, WINDOW)).to.equal(true);
    });
  });
});
