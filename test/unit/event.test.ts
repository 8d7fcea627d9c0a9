import { expect } from 'chai';
import { parseContactEvent, type ContactEvent } from '../../src/contact/event.js';
import { identify } from '../../src/contact/identify.js';
import { InvalidEventError } from '../../src/errors.js';
import { fixtureNames, loadFixture } from '../support/fixtures.js';

type Obj = Record<string, unknown>;
/** Edits a fresh event: its ContactData, its Parameters, and the whole event. */
type Edit = (data: Obj, parameters: Obj, event: Obj) => void;

/** A minimal valid event, changed by `edit` before it is parsed. */
function minimalEvent(edit: Edit = () => {}): Obj {
  const data: Obj = {
    ContactId: '11111111-2222-4333-8444-555555555555',
    Channel: 'VOICE',
    Attributes: {},
    CustomerEndpoint: null,
    SystemEndpoint: null,
  };
  const parameters: Obj = {};
  const event: Obj = { Name: 'ContactFlowEvent', Details: { ContactData: data, Parameters: parameters } };
  edit(data, parameters, event);
  return event;
}

function parseFailure(body: unknown): InvalidEventError {
  try {
    parseContactEvent(body);
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidEventError);
    return err as InvalidEventError;
  }
  expect.fail('parseContactEvent accepted an invalid event');
}

interface FixtureRow {
  file: string;
  channel: ContactEvent['channel'];
  contactId: string;
  initialContactId: string;
  customerEndpoint: ContactEvent['customerEndpoint'];
  systemEndpoint: ContactEvent['systemEndpoint'];
  attributes: Record<string, string>;
  parameters: ContactEvent['parameters'];
  identity: { type: 'PHONE'; e164: string; country: string } | { type: 'EMAIL'; address: string } | undefined;
  source?: 'parameter' | 'endpoint' | 'attribute';
}

const CONNECT_NUMBER = { address: '+18005550100', type: 'TELEPHONE_NUMBER' };
const noParameters = {
  phoneNumber: undefined,
  emailAddress: undefined,
  countryCode: undefined,
  createProfile: undefined,
  accountNumber: undefined,
  profileId: undefined,
  search: undefined,
  matchMode: 'any' as const,
};

const fixtureRows: FixtureRow[] = [
  {
    file: 'voice-e164.json',
    channel: 'VOICE',
    contactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe',
    initialContactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe',
    customerEndpoint: { address: '+14255550123', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: { type: 'PHONE', e164: '+14255550123', country: 'US' },
    source: 'endpoint',
  },
  {
    file: 'voice-national-digits.json',
    channel: 'VOICE',
    contactId: '0d7e3f21-5b1c-4c8e-9a4f-7e2d1c0b9a81',
    initialContactId: '0d7e3f21-5b1c-4c8e-9a4f-7e2d1c0b9a81',
    customerEndpoint: { address: '4255550123', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: { type: 'PHONE', e164: '+14255550123', country: 'US' },
    source: 'endpoint',
  },
  {
    file: 'voice-uk.json',
    channel: 'VOICE',
    contactId: 'a1f0c3d2-6e4b-4f7a-8c9d-0e1f2a3b4c5d',
    initialContactId: 'a1f0c3d2-6e4b-4f7a-8c9d-0e1f2a3b4c5d',
    customerEndpoint: { address: '+442079460958', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: { type: 'PHONE', e164: '+442079460958', country: 'GB' },
    source: 'endpoint',
  },
  {
    file: 'voice-withheld.json',
    channel: 'VOICE',
    contactId: 'b2e1d4c3-7f5a-4a8b-9d0e-1f2a3b4c5d6e',
    initialContactId: 'b2e1d4c3-7f5a-4a8b-9d0e-1f2a3b4c5d6e',
    customerEndpoint: { address: 'anonymous', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: undefined,
  },
  {
    file: 'chat-email-attribute.json',
    channel: 'CHAT',
    contactId: 'd4a3f6e5-9b7c-4cad-9f20-3b4c5d6e7f80',
    initialContactId: 'd4a3f6e5-9b7c-4cad-9f20-3b4c5d6e7f80',
    customerEndpoint: null,
    systemEndpoint: null,
    attributes: { email: '  Jane.Doe@Example.COM ', customerName: 'Jane' },
    parameters: noParameters,
    identity: { type: 'EMAIL', address: 'jane.doe@example.com' },
    source: 'attribute',
  },
  {
    file: 'email-channel.json',
    channel: 'EMAIL',
    contactId: 'e5b4a7f6-0c8d-4dbe-8a31-4c5d6e7f8091',
    initialContactId: 'e5b4a7f6-0c8d-4dbe-8a31-4c5d6e7f8091',
    customerEndpoint: { address: 'ravi.k@example.org', type: 'EMAIL_ADDRESS' },
    systemEndpoint: { address: 'support@example.com', type: 'EMAIL_ADDRESS' },
    attributes: {},
    parameters: noParameters,
    identity: { type: 'EMAIL', address: 'ravi.k@example.org' },
    source: 'endpoint',
  },
  {
    file: 'task-parameters.json',
    channel: 'TASK',
    contactId: 'f6c5b8a7-1d9e-4ecf-9b42-5d6e7f8091a2',
    initialContactId: 'f6c5b8a7-1d9e-4ecf-9b42-5d6e7f8091a2',
    customerEndpoint: null,
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: { ...noParameters, phoneNumber: '(425) 555-0199', createProfile: false },
    identity: { type: 'PHONE', e164: '+14255550199', country: 'US' },
    source: 'parameter',
  },
  {
    file: 'voice-transfer.json',
    channel: 'VOICE',
    contactId: 'c3f2e5d4-8a6b-4b9c-8e1f-2a3b4c5d6e7f',
    initialContactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe',
    customerEndpoint: { address: '+14255550123', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: { type: 'PHONE', e164: '+14255550123', country: 'US' },
    source: 'endpoint',
  },
  {
    file: 'outbound-call.json',
    channel: 'VOICE',
    contactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c51',
    initialContactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c51',
    customerEndpoint: { address: '+14255550123', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: { type: 'PHONE', e164: '+14255550123', country: 'US' },
    source: 'endpoint',
  },
  {
    file: 'queue-transfer.json',
    channel: 'VOICE',
    contactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c52',
    initialContactId: 'a1f0c3d2-6e4b-4f7a-8c9d-0e1f2a3b4c5d',
    customerEndpoint: { address: '+442079460958', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: { type: 'PHONE', e164: '+442079460958', country: 'GB' },
    source: 'endpoint',
  },
  {
    file: 'callback.json',
    channel: 'VOICE',
    contactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c53',
    initialContactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c53',
    customerEndpoint: { address: '+442079460958', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: noParameters,
    identity: { type: 'PHONE', e164: '+442079460958', country: 'GB' },
    source: 'endpoint',
  },
  {
    file: 'chat-no-email.json',
    channel: 'CHAT',
    contactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c54',
    initialContactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c54',
    customerEndpoint: null,
    systemEndpoint: null,
    attributes: { customerName: 'Sam' },
    parameters: noParameters,
    identity: undefined,
  },
  {
    file: 'voice-withheld-dtmf.json',
    channel: 'VOICE',
    contactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c55',
    initialContactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c55',
    customerEndpoint: { address: 'anonymous', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: { ...noParameters, phoneNumber: '2065550142' },
    identity: { type: 'PHONE', e164: '+12065550142', country: 'US' },
    source: 'parameter',
  },
  {
    file: 'voice-idv.json',
    channel: 'VOICE',
    contactId: 'c3d5e7f9-1a2b-4c3d-8e4f-5a6b7c8d9e01',
    initialContactId: 'c3d5e7f9-1a2b-4c3d-8e4f-5a6b7c8d9e01',
    customerEndpoint: { address: '+442079460958', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: { ...noParameters, accountNumber: 'UK-100234' },
    identity: { type: 'PHONE', e164: '+442079460958', country: 'GB' },
    source: 'endpoint',
  },
  {
    file: 'voice-withheld-account.json',
    channel: 'VOICE',
    contactId: 'd4e6f8a0-2b3c-4d5e-9f60-7a8b9c0d1e23',
    initialContactId: 'd4e6f8a0-2b3c-4d5e-9f60-7a8b9c0d1e23',
    customerEndpoint: { address: 'anonymous', type: 'TELEPHONE_NUMBER' },
    systemEndpoint: CONNECT_NUMBER,
    attributes: {},
    parameters: { ...noParameters, accountNumber: 'ACME-7781' },
    identity: undefined,
  },
];

// How the contact began, and what it follows: carried into its contact record.
const originRows: Array<{ file: string; initiationMethod: string; previousContactId: string; queueName: string }> = [
  { file: 'outbound-call.json', initiationMethod: 'OUTBOUND', previousContactId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c51', queueName: 'BasicQueue' },
  { file: 'queue-transfer.json', initiationMethod: 'QUEUE_TRANSFER', previousContactId: 'a1f0c3d2-6e4b-4f7a-8c9d-0e1f2a3b4c5d', queueName: 'Billing' },
  { file: 'callback.json', initiationMethod: 'CALLBACK', previousContactId: 'a1f0c3d2-6e4b-4f7a-8c9d-0e1f2a3b4c5d', queueName: 'BasicQueue' },
];

describe('parseContactEvent and identify', () => {
  describe('the sample events (examples/events)', () => {
    it('when the fixture folder is listed, every fixture has an expectation below (none is left untested)', () => {
      // Arrange / Act
      const names = fixtureNames();

      // Assert
      expect(names).to.have.members(fixtureRows.map((r) => r.file));
    });

    for (const row of fixtureRows) {
      it(`when ${row.file} is parsed, reads channel, ids, endpoints, attributes and parameters`, () => {
        // Arrange
        const body = loadFixture(row.file);

        // Act
        const event = parseContactEvent(body);

        // Assert
        expect(event.channel).to.equal(row.channel);
        expect(event.contactId).to.equal(row.contactId);
        expect(event.initialContactId).to.equal(row.initialContactId);
        expect(event.customerEndpoint).to.deep.equal(row.customerEndpoint);
        expect(event.systemEndpoint).to.deep.equal(row.systemEndpoint);
        expect(event.attributes).to.deep.equal(row.attributes);
        expect(event.parameters).to.deep.equal(row.parameters);
      });

      const expected = row.identity === undefined ? 'no identity' : `${row.identity.type} from the ${row.source}`;
      it(`when ${row.file} is identified with default region US, picks ${expected}`, () => {
        // Arrange
        const event = parseContactEvent(loadFixture(row.file));

        // Act
        const found = identify(event, 'US');

        // Assert
        if (row.identity === undefined) {
          expect(found).to.equal(undefined);
          return;
        }
        expect(found, 'an identity').to.not.equal(undefined);
        expect(found!.source).to.equal(row.source);
        expect(found!.identity).to.deep.include(row.identity);
      });
    }

    for (const row of originRows) {
      it(`when ${row.file} is parsed, keeps its initiation method ${row.initiationMethod}, previous contact and queue`, () => {
        // Arrange / Act
        const event = parseContactEvent(loadFixture(row.file));

        // Assert
        expect(event).to.include({ initiationMethod: row.initiationMethod, previousContactId: row.previousContactId, queueName: row.queueName });
      });
    }
  });

  describe('identity source order', () => {
    it('when a phoneNumber parameter and a customer endpoint are both usable, the parameter wins', () => {
      // Arrange
      const event = parseContactEvent(
        minimalEvent((d, p) => {
          p.phoneNumber = '+14255550199';
          d.CustomerEndpoint = { Address: '+14255550123', Type: 'TELEPHONE_NUMBER' };
        }),
      );

      // Act
      const found = identify(event, 'US');

      // Assert
      expect(found?.source).to.equal('parameter');
      expect(found?.identity).to.deep.include({ type: 'PHONE', e164: '+14255550199' });
    });

    it('when an emailAddress parameter and a phone endpoint are both usable, the parameter wins', () => {
      // Arrange
      const event = parseContactEvent(
        minimalEvent((d, p) => {
          p.emailAddress = 'Ops@Example.com';
          d.CustomerEndpoint = { Address: '+14255550123', Type: 'TELEPHONE_NUMBER' };
        }),
      );

      // Act
      const found = identify(event, 'US');

      // Assert
      expect(found?.source).to.equal('parameter');
      expect(found?.identity).to.deep.include({ type: 'EMAIL', address: 'ops@example.com' });
    });

    it('when the phoneNumber parameter is withheld, falls through to the customer endpoint', () => {
      // Arrange
      const event = parseContactEvent(
        minimalEvent((d, p) => {
          p.phoneNumber = 'private';
          d.CustomerEndpoint = { Address: '+14255550123', Type: 'TELEPHONE_NUMBER' };
        }),
      );

      // Act
      const found = identify(event, 'US');

      // Assert
      expect(found?.source).to.equal('endpoint');
      expect(found?.identity).to.deep.include({ type: 'PHONE', e164: '+14255550123' });
    });

    it('when the customer endpoint is not a valid number, falls through to the phoneNumber attribute', () => {
      // Arrange
      const event = parseContactEvent(
        minimalEvent((d) => {
          d.CustomerEndpoint = { Address: '12345', Type: 'TELEPHONE_NUMBER' };
          d.Attributes = { phoneNumber: '+442079460958' };
        }),
      );

      // Act
      const found = identify(event, 'US');

      // Assert
      expect(found?.source).to.equal('attribute');
      expect(found?.identity).to.deep.include({ type: 'PHONE', e164: '+442079460958', country: 'GB' });
    });

    it('when the customer endpoint is an invalid e-mail address, falls through to the email attribute', () => {
      // Arrange
      const event = parseContactEvent(
        minimalEvent((d) => {
          d.Channel = 'EMAIL';
          d.CustomerEndpoint = { Address: 'not an address', Type: 'EMAIL_ADDRESS' };
          d.Attributes = { email: 'ravi.k@example.org' };
        }),
      );

      // Act
      const found = identify(event, 'US');

      // Assert
      expect(found?.source).to.equal('attribute');
      expect(found?.identity).to.deep.include({ type: 'EMAIL', address: 'ravi.k@example.org' });
    });

    it('when only the system endpoint holds a number, gives no identity (the system endpoint is never the caller)', () => {
      // Arrange
      const event = parseContactEvent(
        minimalEvent((d) => {
          d.CustomerEndpoint = null;
          d.SystemEndpoint = { Address: '+14255550123', Type: 'TELEPHONE_NUMBER' };
        }),
      );

      // Act
      const found = identify(event, 'US');

      // Assert
      expect(found).to.equal(undefined);
    });

    it('when the customer endpoint is withheld and the system endpoint holds a number, uses the attribute instead', () => {
      // Arrange
      const event = parseContactEvent(
        minimalEvent((d) => {
          d.CustomerEndpoint = { Address: 'anonymous', Type: 'TELEPHONE_NUMBER' };
          d.SystemEndpoint = { Address: '+18005550100', Type: 'TELEPHONE_NUMBER' };
          d.Attributes = { email: 'jane.doe@example.com' };
        }),
      );

      // Act
      const found = identify(event, 'US');

      // Assert
      expect(found?.source).to.equal('attribute');
      expect(found?.identity).to.deep.include({ type: 'EMAIL', address: 'jane.doe@example.com' });
    });
  });

  describe('malformed events', () => {
    const notObjects: Array<[string, unknown]> = [
      ['null', null],
      ['an array', [minimalEvent()]],
      ['a string', JSON.stringify(minimalEvent())],
      ['a number', 42],
      ['undefined', undefined],
    ];
    for (const [what, body] of notObjects) {
      it(`when the body is ${what}, rejects it as INVALID_EVENT naming the body`, () => {
        // Act
        const err = parseFailure(body);

        // Assert
        expect(err.code).to.equal('INVALID_EVENT');
        expect(err.status).to.equal(400);
        expect(err.field).to.equal('body');
      });
    }

    const rows: Array<{ when: string; edit: Edit; field: string }> = [
      { when: 'Details is missing', edit: (_d, _p, e) => delete e.Details, field: 'Details' },
      { when: 'ContactData is missing', edit: (_d, _p, e) => delete (e.Details as Obj).ContactData, field: 'Details.ContactData' },
      {
        when: 'ContactId is missing',
        edit: (d) => delete d.ContactId,
        field: 'Details.ContactData.ContactId',
      },
      {
        when: 'ContactId contains spaces',
        edit: (d) => (d.ContactId = '11111111 2222 4333'),
        field: 'Details.ContactData.ContactId',
      },
      { when: 'ContactId is a number', edit: (d) => (d.ContactId = 12345), field: 'Details.ContactData.ContactId' },
      { when: 'ContactData is a string', edit: (_d, _p, e) => ((e.Details as Obj).ContactData = 'c-1'), field: 'Details.ContactData' },
      { when: 'CustomerEndpoint is a string', edit: (d) => (d.CustomerEndpoint = '+14255550123'), field: 'Details.ContactData.CustomerEndpoint' },
      {
        when: 'the customer endpoint Address is a number',
        edit: (d) => (d.CustomerEndpoint = { Address: 14255550123, Type: 'TELEPHONE_NUMBER' }),
        field: 'Details.ContactData.CustomerEndpoint.Address',
      },
      { when: 'Parameters is a string', edit: (_d, _p, e) => ((e.Details as Obj).Parameters = 'countryCode=GB'), field: 'Details.Parameters' },
      {
        when: "Parameters.countryCode is 'USA'",
        edit: (_d, p) => (p.countryCode = 'USA'),
        field: 'Details.Parameters.countryCode',
      },
      // UK is not an ISO 3166-1 code (the United Kingdom is GB); XX is no region at all
      { when: "Parameters.countryCode is 'UK'", edit: (_d, p) => (p.countryCode = 'UK'), field: 'Details.Parameters.countryCode' },
      { when: "Parameters.countryCode is ' xx '", edit: (_d, p) => (p.countryCode = ' xx '), field: 'Details.Parameters.countryCode' },
      {
        when: "Parameters.createProfile is 'maybe'",
        edit: (_d, p) => (p.createProfile = 'maybe'),
        field: 'Details.Parameters.createProfile',
      },
      { when: 'Parameters.createProfile is a boolean', edit: (_d, p) => (p.createProfile = false), field: 'Details.Parameters.createProfile' },
      { when: "operation is 'delete'", edit: (_d, p) => (p.operation = 'delete'), field: 'Details.Parameters.operation' },
      { when: 'accountNumber is 256 characters', edit: (_d, p) => (p.accountNumber = '7'.repeat(256)), field: 'Details.Parameters.accountNumber' },
      { when: 'accountNumber is a number', edit: (_d, p) => (p.accountNumber = 77810042), field: 'Details.Parameters.accountNumber' },
      { when: 'profileId is 31 hex characters', edit: (_d, p) => (p.profileId = 'a'.repeat(31)), field: 'Details.Parameters.profileId' },
      { when: 'profileId is not hex', edit: (_d, p) => (p.profileId = 'z'.repeat(32)), field: 'Details.Parameters.profileId' },
      {
        when: 'searchKey holds a dot',
        edit: (_d, p) => Object.assign(p, { searchKey: 'loyalty.id', searchValue: 'L-1' }),
        field: 'Details.Parameters.searchKey',
      },
      {
        when: 'searchKey is 65 characters',
        edit: (_d, p) => Object.assign(p, { searchKey: 'k'.repeat(65), searchValue: 'L-1' }),
        field: 'Details.Parameters.searchKey',
      },
      {
        when: 'searchKey is a key the service fills (_phone)',
        edit: (_d, p) => Object.assign(p, { searchKey: '_phone', searchValue: '+14255550123' }),
        field: 'Details.Parameters.searchKey',
      },
      { when: 'searchValue comes without searchKey', edit: (_d, p) => (p.searchValue = 'L-1'), field: 'Details.Parameters.searchKey' },
      {
        when: 'searchValue is 256 characters',
        edit: (_d, p) => Object.assign(p, { searchKey: 'loyaltyId', searchValue: 'v'.repeat(256) }),
        field: 'Details.Parameters.searchValue',
      },
      { when: "matchMode is 'some'", edit: (_d, p) => (p.matchMode = 'some'), field: 'Details.Parameters.matchMode' },
    ];
    for (const row of rows) {
      it(`when ${row.when}, rejects the event as INVALID_EVENT naming ${row.field}`, () => {
        // Arrange
        const body = minimalEvent(row.edit);

        // Act
        const err = parseFailure(body);

        // Assert
        expect(err.code).to.equal('INVALID_EVENT');
        expect(err.status).to.equal(400);
        expect(err.field).to.equal(row.field);
        expect(err.message).to.include(row.field);
      });
    }

    it('when a field is present but of the wrong type, the message does not claim it is missing', () => {
      // Arrange: the value is there, it is a number instead of a string
      const body = minimalEvent((d) => (d.CustomerEndpoint = { Address: 14255550123, Type: 'TELEPHONE_NUMBER' }));

      // Act
      const err = parseFailure(body);

      // Assert
      expect(err.field).to.equal('Details.ContactData.CustomerEndpoint.Address');
      expect(err.message).to.not.include('is required');
    });

    it('when ContactId is missing, the message says it is required', () => {
      // Arrange
      const body = minimalEvent((d) => delete d.ContactId);

      // Act
      const err = parseFailure(body);

      // Assert
      expect(err.message).to.equal('Details.ContactData.ContactId: is required');
    });
  });

  describe('lenient reading', () => {
    it('when the event carries fields the service does not know, ignores them', () => {
      // Arrange
      const body = minimalEvent((d, p, e) => {
        e.Version = '1.0';
        d.MediaStreams = { Customer: { Audio: null } };
        d.Tags = { team: 'billing' };
        p.someFlowParameter = 'x';
      });

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event.contactId).to.equal('11111111-2222-4333-8444-555555555555');
      expect(event.parameters).to.deep.equal(noParameters);
    });

    it('when Connect adds fields (SegmentAttributes, Tags, Campaign, Customer, ContactDetails, AdditionalEmailRecipients), ignores them', () => {
      // Arrange
      const body = minimalEvent((d) => {
        d.SegmentAttributes = { 'connect:Subtype': { ValueString: 'connect:Telephony' } };
        d.Tags = { 'aws:connect:instanceId': 'i-1' };
        d.Campaign = { CampaignId: null };
        d.Customer = { Capabilities: { Video: null } };
        d.ContactDetails = { Name: null, Description: null };
        d.AdditionalEmailRecipients = { ToList: [{ Address: 'orders@example.com' }], CcList: [] };
        d.LanguageCode = 'en-US';
        d.RelatedContactId = null;
      });

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event.contactId).to.equal('11111111-2222-4333-8444-555555555555');
    });

    const queues: Array<[string, unknown, string]> = [
      ['an object with a Name', { ARN: 'arn:aws:connect:::queue/q', Name: 'Billing' }, 'Billing'],
      ['an object without a Name', { ARN: 'arn:aws:connect:::queue/q' }, ''],
      ['an object whose Name is null', { Name: null }, ''],
      ['a string (the Administrator Guide sample: the name itself)', 'QueueName', 'QueueName'],
      ['null', null, ''],
      ['a number', 7, ''],
      ['an array', ['Billing'], ''],
    ];
    for (const [what, queue, name] of queues) {
      it(`when Queue is ${what}, accepts the event with queue name "${name}"`, () => {
        // Arrange
        const body = minimalEvent((d) => (d.Queue = queue));

        // Act
        const event = parseContactEvent(body);

        // Assert
        expect(event.queueName).to.equal(name);
      });
    }

    const channels: Array<[unknown, string]> = [
      ['VOICE', 'VOICE'],
      ['Voice', 'VOICE'],
      ['voice', 'VOICE'],
      [' chat ', 'CHAT'],
      ['Task', 'TASK'],
      ['email', 'EMAIL'],
      ['FAX', 'OTHER'],
      [null, 'OTHER'],
      [undefined, 'OTHER'],
      [3, 'OTHER'],
    ];
    for (const [raw, channel] of channels) {
      it(`when Channel is ${JSON.stringify(raw) ?? 'absent'}, reads the channel as ${channel}`, () => {
        // Arrange
        const body = minimalEvent((d) => {
          if (raw === undefined) delete d.Channel;
          else d.Channel = raw;
        });

        // Act
        const event = parseContactEvent(body);

        // Assert
        expect(event.channel).to.equal(channel);
      });
    }

    it('when a field the service only carries along is null or of another type, reads it as not given', () => {
      // Arrange
      const body = minimalEvent((d, _p, e) => {
        e.Name = null;
        d.InitialContactId = null;
        d.PreviousContactId = 42;
        d.InitiationMethod = null;
        d.InstanceARN = { arn: 'x' };
        d.SystemEndpoint = '+18005550100';
        d.Attributes = null;
      });

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event).to.include({ initialContactId: '11111111-2222-4333-8444-555555555555', previousContactId: '', initiationMethod: '', instanceArn: '', queueName: '' });
      expect(event.systemEndpoint).to.equal(null);
      expect(event.attributes).to.deep.equal({});
    });

    it('when an attribute value is not a string, leaves that attribute out and keeps the others', () => {
      // Arrange
      const body = minimalEvent((d) => (d.Attributes = { customerName: 'Jane', tier: 5, phoneNumber: null }));

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event.attributes).to.deep.equal({ customerName: 'Jane' });
    });

    it('when the customer endpoint Type is in another letter case, still reads the caller from it', () => {
      // Arrange
      const body = minimalEvent((d) => (d.CustomerEndpoint = { Address: '+14255550123', Type: 'telephone_number' }));

      // Act
      const found = identify(parseContactEvent(body), 'US');

      // Assert
      expect(found?.identity).to.deep.include({ type: 'PHONE', e164: '+14255550123' });
    });

    it('when Name is not ContactFlowEvent, still accepts the event (the service needs only ContactId and the identity)', () => {
      // Arrange
      const body = minimalEvent((_d, _p, e) => (e.Name = 'ContactFlowExecution'));

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event.contactId).to.equal('11111111-2222-4333-8444-555555555555');
    });

    it('when Name is absent, still accepts the event', () => {
      // Arrange
      const body = minimalEvent((_d, _p, e) => delete e.Name);

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event.channel).to.equal('VOICE');
    });

    describe('flow parameters as flows send them: an attribute never set is "", values are trimmed', () => {
      const PARAMETERS = ['phoneNumber', 'emailAddress', 'countryCode', 'createProfile', 'accountNumber', 'profileId', 'searchKey', 'searchValue', 'matchMode', 'operation'];
      for (const name of PARAMETERS) {
        for (const blank of ['', '   ', ' \t\n ']) {
          it(`when ${name} is ${JSON.stringify(blank)}, reads the event as if ${name} were not given`, () => {
            // Arrange
            const withBlank = minimalEvent((_d, p) => (p[name] = blank));
            const without = minimalEvent();

            // Act / Assert
            expect(parseContactEvent(withBlank)).to.deep.equal(parseContactEvent(without));
          });
        }
        it(`when ${name} is null, reads the event as if ${name} were not given`, () => {
          expect(parseContactEvent(minimalEvent((_d, p) => (p[name] = null)))).to.deep.equal(parseContactEvent(minimalEvent()));
        });
      }

      const countries: Array<[string, string]> = [
        [' gb ', 'GB'],
        ['Gb', 'GB'],
        ['de', 'DE'],
        ['US', 'US'],
      ];
      for (const [raw, code] of countries) {
        it(`when countryCode is ${JSON.stringify(raw)}, reads the region ${code}`, () => {
          expect(parseContactEvent(minimalEvent((_d, p) => (p.countryCode = raw))).parameters.countryCode).to.equal(code);
        });
      }

      it('when the other parameters carry blanks around them, trims them', () => {
        // Arrange
        const body = minimalEvent((_d, p) =>
          Object.assign(p, { phoneNumber: ' 020 7946 0958 ', emailAddress: ' Jo@Example.com ', createProfile: ' FALSE ', matchMode: ' All ', operation: ' Resolve ' }),
        );

        // Act
        const { parameters, operation } = parseContactEvent(body);

        // Assert
        expect(parameters).to.include({ phoneNumber: '020 7946 0958', emailAddress: 'Jo@Example.com', createProfile: false, matchMode: 'all' });
        expect(operation).to.equal('resolve');
      });

      it('when operation is " Update " with a profile.* parameter, reads an update', () => {
        // Arrange
        const body = minimalEvent((_d, p) => Object.assign(p, { operation: ' Update ', 'profile.FirstName': 'Amelia' }));

        // Act
        const event = parseContactEvent(body);

        // Assert
        expect(event.operation).to.equal('update');
        expect(event.update).to.deep.equal({ 'profile.FirstName': 'Amelia' });
      });

      it('keeps an empty profile.* value as it came: for an update, "" clears the field (documented), it is not "not given"', () => {
        // Arrange
        const body = minimalEvent((_d, p) => Object.assign(p, { operation: 'update', 'profile.MiddleName': '', 'profile.FirstName': 'Amelia' }));

        // Act
        const event = parseContactEvent(body);

        // Assert
        expect(event.update).to.deep.equal({ 'profile.MiddleName': '', 'profile.FirstName': 'Amelia' });
      });
    });

    it('when countryCode is lower-case, upper-cases it', () => {
      // Arrange
      const body = minimalEvent((_d, p) => (p.countryCode = 'gb'));

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event.parameters.countryCode).to.equal('GB');
    });

    it('reads the lookup keys: trimmed, the profile id lower-cased, matchMode any by default and case-blind', () => {
      // Arrange
      const body = minimalEvent((_d, p) =>
        Object.assign(p, { accountNumber: ' ACME-7781 ', profileId: 'ABCDEF0123456789ABCDEF0123456789', searchKey: 'loyaltyId', searchValue: ' L-1 ', matchMode: 'ALL' }),
      );

      // Act
      const { parameters } = parseContactEvent(body);

      // Assert
      expect(parameters).to.include({ accountNumber: 'ACME-7781', profileId: 'abcdef0123456789abcdef0123456789', matchMode: 'all' });
      expect(parameters.search).to.deep.equal({ key: 'loyaltyId', value: 'L-1' });
      expect(parseContactEvent(minimalEvent()).parameters.matchMode).to.equal('any');
    });

    it('reads a searchKey whose searchValue is empty or missing as no custom key (the attribute was never set)', () => {
      // Arrange
      const empty = minimalEvent((_d, p) => Object.assign(p, { searchKey: 'loyaltyId', searchValue: ' ' }));
      const missing = minimalEvent((_d, p) => Object.assign(p, { searchKey: 'loyaltyId' }));

      // Act / Assert
      expect(parseContactEvent(empty).parameters.search).to.equal(undefined);
      expect(parseContactEvent(missing).parameters.search).to.equal(undefined);
    });

    it('reads an empty key parameter as not given (a flow passes "" for an attribute never set)', () => {
      // Arrange
      const body = minimalEvent((_d, p) => Object.assign(p, { accountNumber: '  ', profileId: '', searchKey: '', searchValue: '', matchMode: '' }));

      // Act
      const { parameters } = parseContactEvent(body);

      // Assert
      expect(parameters).to.include({ accountNumber: undefined, profileId: undefined, search: undefined, matchMode: 'any' });
    });

    const createProfileRows: Array<[string, boolean]> = [
      ['false', false],
      ['FALSE', false],
      ['False', false],
      ['true', true],
      ['TRUE', true],
      ['tRuE', true],
    ];
    for (const [raw, value] of createProfileRows) {
      it(`when createProfile is "${raw}", reads it as ${value}`, () => {
        // Arrange
        const body = minimalEvent((_d, p) => (p.createProfile = raw));

        // Act
        const event = parseContactEvent(body);

        // Assert
        expect(event.parameters.createProfile).to.equal(value);
      });
    }

    it('when InitialContactId and PreviousContactId are absent, uses the ContactId and ""', () => {
      // Arrange
      const body = minimalEvent();

      // Act
      const event = parseContactEvent(body);

      // Assert
      expect(event.initialContactId).to.equal('11111111-2222-4333-8444-555555555555');
      expect(event.previousContactId).to.equal('');
    });
  });
});
