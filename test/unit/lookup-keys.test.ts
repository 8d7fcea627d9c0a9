import { expect } from 'chai';
import { StateKeys } from '../../src/cache/keys.js';
import { normalisePhone } from '../../src/domain/identity.js';
import { isVerifying, mayCreateFrom, searchKeysOf, type CallerKeys } from '../../src/domain/keys.js';

const keys = new StateKeys('cpr:acme', 'a-test-secret-of-some-length', []);
const phone = normalisePhone('+14255550123', 'US')!;
const account = { name: '_account', values: ['ACME-7781'] };
const loyalty = { name: 'loyaltyId', values: ['L-1001'] };
const of = (k: Partial<CallerKeys>): CallerKeys => ({ identity: undefined, extra: [], mode: 'any', ...k });

describe('lookup keys', () => {
  it('a phone alone keeps the identity tag and no variant (the keys of every earlier release)', () => {
    expect(keys.lookupKey(of({ identity: phone }))).to.deep.equal({ tag: keys.identityTag(phone), variant: '' });
  });

  it('other keys and the mode make variants of the same caller tag, so an erasure of the phone finds them all', () => {
    const plain = keys.lookupKey(of({ identity: phone }));
    const withAccount = keys.lookupKey(of({ identity: phone, extra: [account] }));
    const withAccountAll = keys.lookupKey(of({ identity: phone, extra: [account], mode: 'all' }));
    const withOtherAccount = keys.lookupKey(of({ identity: phone, extra: [{ name: '_account', values: ['ACME-0000'] }] }));

    expect(new Set([withAccount.tag, withAccountAll.tag, withOtherAccount.tag])).to.deep.equal(new Set([plain.tag]));
    expect(new Set([plain.variant, withAccount.variant, withAccountAll.variant, withOtherAccount.variant]).size).to.equal(4);
    expect(keys.profileCache(withAccount.tag, withAccount.variant)).to.match(/^cpr:acme:\{[A-Za-z0-9_-]{22}\}:profile:[A-Za-z0-9_-]{8}:[A-Za-z0-9_-]{16}$/);
    // the account number never appears in clear
    expect(keys.profileCache(withAccount.tag, withAccount.variant)).not.to.include('ACME');
  });

  it('without a phone or e-mail, the first other key tags the lookup; a key with another name is another caller', () => {
    const byAccount = keys.lookupKey(of({ extra: [account] }));
    const byAccountAndLoyalty = keys.lookupKey(of({ extra: [account, loyalty] }));
    const byLoyalty = keys.lookupKey(of({ extra: [loyalty] }));
    const byAccountNamedOtherwise = keys.lookupKey(of({ extra: [{ name: 'accountRef', values: ['ACME-7781'] }] }));

    expect(byAccount.variant).to.equal('');
    expect(byAccountAndLoyalty.tag).to.equal(byAccount.tag);
    expect(byAccountAndLoyalty.variant).not.to.equal('');
    expect(byLoyalty.tag).not.to.equal(byAccount.tag);
    expect(byAccountNamedOtherwise.tag).not.to.equal(byAccount.tag);
  });

  it('searches the identity first; verifies from two keys; creates only from a phone or e-mail alone', () => {
    expect(searchKeysOf(of({ identity: phone, extra: [account] })).map((k) => k.name)).to.deep.equal(['_phone', '_account']);
    expect([isVerifying(of({ identity: phone })), isVerifying(of({ extra: [account] })), isVerifying(of({ identity: phone, extra: [account] }))]).to.deep.equal([
      false,
      false,
      true,
    ]);
    expect([mayCreateFrom(of({ identity: phone })), mayCreateFrom(of({ extra: [account] })), mayCreateFrom(of({ identity: phone, extra: [loyalty] }))]).to.deep.equal([
      true,
      false,
      false,
    ]);
  });
});
