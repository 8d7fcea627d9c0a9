// The exact UpdateProfile requests of the flow's profile updates, through the real SDK (nock). Shape
// from the Customer Profiles model: PUT /domains/{DomainName}/profiles, the fields at the top level,
// address blocks as UpdateAddress, Attributes a map; "" clears a field, an address part or an attribute.
import { expect } from 'chai';
import nock from 'nock';
import { parseProfileUpdate } from '../../src/domain/profile-update.js';
import { createCustomerProfilesClient } from '../../src/aws/clients.js';
import type { UpdateJob } from '../../src/records/job.js';
import { Pacer } from '../../src/records/pacer.js';
import { AwsRecordTarget } from '../../src/profiles/customer-profiles-records.js';
import { RecordWriter } from '../../src/records/writer.js';
import { useNock } from '../support/nock.js';

const PROFILES = 'https://profile.us-east-1.amazonaws.com';
const DOMAIN = 'acme-contacts';
const PROFILE_ID = '0123456789abcdef0123456789abcdef';

function writer(): RecordWriter {
  const profiles = createCustomerProfilesClient({
    region: 'us-east-1',
    requestTimeoutMs: 5000,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
  return new RecordWriter(new AwsRecordTarget({ profiles, domain: DOMAIN, objectTypeName: 'ResolvedContact' }), new Pacer({ keyPrefix: 'test', connectPerSecond: 10 }));
}

/** An update job from flow parameters, as the update use case makes it. */
function job(parameters: Record<string, string>): UpdateJob {
  const update = parseProfileUpdate(parameters, 'GB');
  expect(update, 'the parameters hold an update').to.not.equal(undefined);
  return { kind: 'update', contactId: 'c1', updateId: 'u1', profileId: PROFILE_ID, identityTag: 't', receivedAt: '2026-11-30T08:00:00.000Z', update: update! };
}

async function bodyOf(parameters: Record<string, string>): Promise<unknown> {
  let body: unknown;
  const scope = nock(PROFILES)
    .put(`/domains/${DOMAIN}/profiles`, (b: unknown) => {
      body = b;
      return true;
    })
    .reply(200, { ProfileId: PROFILE_ID });
  const outcome = await writer().run(job(parameters), {});
  expect(outcome).to.deep.equal({ done: true });
  expect(scope.isDone()).to.equal(true);
  return body;
}

describe('profile updates through the real SDK (contract, nock)', () => {
  useNock();

  it('a partial update sends only the fields given, trimmed, the phone in E.164 and the e-mail lower-cased', async () => {
    const body = await bodyOf({
      'profile.FirstName': ' Amelia ',
      'profile.MobilePhoneNumber': '07400 123456',
      'profile.PersonalEmailAddress': 'Amelia.H@Example.ORG',
    });

    expect(body).to.deep.equal({
      ProfileId: PROFILE_ID,
      FirstName: 'Amelia',
      MobilePhoneNumber: '+447400123456',
      PersonalEmailAddress: 'amelia.h@example.org',
    });
  });

  it('an emptied field is sent as "" (UpdateProfile clears it)', async () => {
    expect(await bodyOf({ 'profile.MiddleName': '', 'profile.BusinessName': '  ' })).to.deep.equal({ ProfileId: PROFILE_ID, MiddleName: '', BusinessName: '' });
  });

  it('Attributes go as one map: a value sets, "" removes', async () => {
    expect(await bodyOf({ 'profile.Attributes.preferredLanguage': 'cy-GB', 'profile.Attributes.marketingConsent': '' })).to.deep.equal({
      ProfileId: PROFILE_ID,
      Attributes: { preferredLanguage: 'cy-GB', marketingConsent: '' },
    });
  });

  it('address parts go as one UpdateAddress block per address', async () => {
    expect(await bodyOf({ 'profile.Address.City': 'Cardiff', 'profile.Address.PostalCode': 'CF10 1AA', 'profile.BillingAddress.Country': 'GB' })).to.deep.equal({
      ProfileId: PROFILE_ID,
      Address: { City: 'Cardiff', PostalCode: 'CF10 1AA' },
      BillingAddress: { Country: 'GB' },
    });
  });
});
