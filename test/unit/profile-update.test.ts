import { expect } from 'chai';
import { updateAnswer, updateSummary, type ProfileSummary } from '../../src/domain/answer.js';
import { parseAttributeMapping } from '../../src/domain/mapping.js';
import { applyUpdate, InvalidUpdate, parseProfileUpdate, pickFields, updatedFieldNames } from '../../src/domain/profile-update.js';
import { Pacer } from '../../src/records/pacer.js';

const PROFILE_ID = '5d2e5c3a1f8b4e0c9a7d6b3e2f1a0c9d';

function failure(parameters: Record<string, unknown>): InvalidUpdate {
  try {
    parseProfileUpdate(parameters, 'US');
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidUpdate);
    return err as InvalidUpdate;
  }
  expect.fail('the update was accepted');
}

describe('profile updates', () => {
  describe('parseProfileUpdate', () => {
    it('reads every kind of field, ignores the other parameters, and holds no update when none is given', () => {
      const update = parseProfileUpdate(
        {
          phoneNumber: '+14255550123',
          'profile.LastName': 'Hughes',
          'profile.BirthDate': '1990-04-01',
          'profile.AdditionalInformation': 'x'.repeat(1000),
          'profile.ShippingAddress.Address1': '1 High St',
          'profile.Attributes.consent.sms': 'true',
        },
        'US',
      );

      expect(update).to.deep.equal({
        LastName: 'Hughes',
        BirthDate: '1990-04-01',
        AdditionalInformation: 'x'.repeat(1000),
        ShippingAddress: { Address1: '1 High St' },
        Attributes: { 'consent.sms': 'true' },
      });
      expect(updatedFieldNames(update!)).to.deep.equal(['AdditionalInformation', 'Attributes.consent.sms', 'BirthDate', 'LastName', 'ShippingAddress.Address1']);
      expect(parseProfileUpdate({ phoneNumber: '+14255550123' }, 'US')).to.equal(undefined);
    });

    it('normalises phone numbers to E.164 in the region and e-mail addresses to lower case, as lookups do', () => {
      expect(parseProfileUpdate({ 'profile.PhoneNumber': '(425) 555-0199', 'profile.BusinessEmailAddress': ' Jo@Example.COM ' }, 'US')).to.deep.equal({
        PhoneNumber: '+14255550199',
        BusinessEmailAddress: 'jo@example.com',
      });
    });

    const rejected: Array<[string, Record<string, unknown>, string]> = [
      ['an unknown field', { 'profile.Nickname': 'Jo' }, 'profile.Nickname'],
      ['a deprecated enum field', { 'profile.Gender': 'FEMALE' }, 'profile.Gender'],
      ['a field with a part it does not have', { 'profile.FirstName.Given': 'Jo' }, 'profile.FirstName.Given'],
      ['an unknown address part', { 'profile.Address.Street': 'High St' }, 'profile.Address.Street'],
      ['a value over 255 characters', { 'profile.FirstName': 'a'.repeat(256) }, 'profile.FirstName'],
      ['AdditionalInformation over 1000 characters', { 'profile.AdditionalInformation': 'a'.repeat(1001) }, 'profile.AdditionalInformation'],
      ['an invalid phone number', { 'profile.MobilePhoneNumber': '12' }, 'profile.MobilePhoneNumber'],
      ['an invalid e-mail address', { 'profile.EmailAddress': 'not an address' }, 'profile.EmailAddress'],
      ['a birth date that is not YYYY-MM-DD', { 'profile.BirthDate': '01/04/1990' }, 'profile.BirthDate'],
      ['a 29 February of a year that is not a leap year', { 'profile.BirthDate': '1981-02-29' }, 'profile.BirthDate'],
      ['a birth date with month 13 and day 45', { 'profile.BirthDate': '1980-13-45' }, 'profile.BirthDate'],
      ['a 31 April', { 'profile.BirthDate': '1990-04-31' }, 'profile.BirthDate'],
      ['a day 00', { 'profile.BirthDate': '1990-04-00' }, 'profile.BirthDate'],
      ['a 29 February of a century that is not a leap year', { 'profile.BirthDate': '1900-02-29' }, 'profile.BirthDate'],
      ['a control character', { 'profile.LastName': 'Hu\u0000ghes' }, 'profile.LastName'],
      ['a value that is not a string', { 'profile.LastName': 5 }, 'profile.LastName'],
      ['an attribute name with a space', { 'profile.Attributes.my key': 'x' }, 'profile.Attributes.my key'],
      ['the attribute name __proto__', { 'profile.Attributes.__proto__': 'x' }, 'profile.Attributes.__proto__'],
    ];
    for (const [what, parameters, parameter] of rejected) {
      it(`rejects ${what}, naming the parameter`, () => {
        expect(failure(parameters).parameter).to.equal(parameter);
      });
    }

    it('accepts a birth date that is a real calendar date: 29 February of a leap year (2000, 1984), 31 December', () => {
      for (const date of ['2000-02-29', '1984-02-29', '1999-12-31']) {
        expect(parseProfileUpdate({ 'profile.BirthDate': date }, 'US')).to.deep.equal({ BirthDate: date });
      }
    });

    it('an empty value clears the field (UpdateProfile semantics), with no phone or e-mail check', () => {
      expect(parseProfileUpdate({ 'profile.MobilePhoneNumber': ' ', 'profile.Attributes.tier': '' }, 'US')).to.deep.equal({
        MobilePhoneNumber: '',
        Attributes: { tier: '' },
      });
    });
  });

  describe('read your writes', () => {
    const { mapping } = parseAttributeMapping({
      attributes: { city: 'Address.City', tier: 'Attributes.tier', language: 'Attributes.preferredLanguage', orders: 'Objects.Orders.status' },
      objects: { Orders: { latestBy: 'at' } },
    });
    const summary: ProfileSummary = {
      profileId: PROFILE_ID,
      firstName: 'Amelia',
      lastName: 'Hughes',
      accountNumber: 'UK-1',
      mapped: { city: 'London', tier: 'gold', language: 'en-GB' },
    };

    it('updateSummary sets and clears the fields the update touches and keeps the others', () => {
      const updated = updateSummary(summary, { FirstName: 'Amy', Address: { City: 'Cardiff' }, Attributes: { tier: '' } }, mapping);

      expect(updated).to.deep.equal({ ...summary, firstName: 'Amy', mapped: { city: 'Cardiff', tier: '', language: 'en-GB' } });
    });

    it('updateAnswer does the same to a kept answer, every other key untouched', () => {
      const answer = { customerStatus: 'KNOWN', profileId: PROFILE_ID, firstName: 'Amelia', lastName: 'Hughes', accountNumber: 'UK-1', city: 'London', tier: 'gold', language: 'en-GB', orders: 'SHIPPED' };

      expect(updateAnswer(answer, { LastName: 'Jones', Attributes: { preferredLanguage: 'cy-GB' } }, mapping)).to.deep.equal({ ...answer, lastName: 'Jones', language: 'cy-GB' });
    });

    it('applyUpdate applies it to a whole profile as Customer Profiles does ("" removes)', () => {
      const profile = { ProfileId: PROFILE_ID, FirstName: 'Amelia', MiddleName: 'J', Address: { City: 'London', Country: 'GB' }, Attributes: { tier: 'gold', x: '1' } };

      expect(applyUpdate(profile, { MiddleName: '', Address: { City: 'Cardiff' }, Attributes: { x: '' } })).to.deep.equal({
        ProfileId: PROFILE_ID,
        FirstName: 'Amelia',
        Address: { City: 'Cardiff', Country: 'GB' },
        Attributes: { tier: 'gold' },
      });
    });
  });

  describe('the order of updates (Pacer.newestFields, without Redis)', () => {
    it('an older update retried late writes only the fields no newer update wrote', async () => {
      const pacer = new Pacer({ keyPrefix: 'test', connectPerSecond: 5 });

      expect(await pacer.newestFields('p1', ['FirstName', 'Attributes.tier'], 2000)).to.deep.equal(['FirstName', 'Attributes.tier']);
      // the older update, retried after the newer one was written
      expect(await pacer.newestFields('p1', ['FirstName', 'LastName'], 1000)).to.deep.equal(['LastName']);
      // the same update again (its own retry) still writes; another profile is another book
      expect(await pacer.newestFields('p1', ['FirstName'], 2000)).to.deep.equal(['FirstName']);
      expect(await pacer.newestFields('p2', ['FirstName'], 1)).to.deep.equal(['FirstName']);
    });

    it('pickFields keeps the named fields, address parts and attributes of an update', () => {
      const update = { FirstName: 'Amy', LastName: 'Jones', Address: { City: 'Cardiff', Country: 'GB' }, Attributes: { tier: 'gold', x: '' } };
      expect(pickFields(update, ['LastName', 'Address.Country', 'Attributes.x'])).to.deep.equal({ LastName: 'Jones', Address: { Country: 'GB' }, Attributes: { x: '' } });
    });
  });
});
