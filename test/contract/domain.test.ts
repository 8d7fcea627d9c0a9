import { expect } from 'chai';
import nock from 'nock';
import type { CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import { createCustomerProfilesClient } from '../../src/profiles/customer-profiles.js';
import { checkDomain, setUpDomain, type Finding } from '../../src/records/domain.js';
import { recordObjectType } from '../../src/records/job.js';
import { useNock } from '../support/nock.js';

const ENDPOINT = 'https://profile.us-east-1.amazonaws.com';
const DOMAIN = 'acme-contacts';
const OBJECT_TYPE = 'ResolvedContact';
const EPOCH = 1_700_000_000; // restJson1 timestamps: epoch seconds

const awsError = (status: number, type: string) =>
  [status, { message: `${type} from the test` }, { 'X-Amzn-Errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.profile/` }] as const;

function client(): CustomerProfilesClient {
  return createCustomerProfilesClient({
    region: 'us-east-1',
    requestTimeoutMs: 5000,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  });
}

/** GetProfileObjectType's answer for a type defined as `definition`. */
function storedType(name: string, definition: Record<string, unknown>) {
  return { ObjectTypeName: name, ...definition, CreatedAt: EPOCH, LastUpdatedAt: EPOCH };
}

function getObjectType(name: string) {
  return nock(ENDPOINT).get(`/domains/${DOMAIN}/object-types/${name}`);
}

function getDomain() {
  return nock(ENDPOINT).get(`/domains/${DOMAIN}`);
}

const domainAnswer = (extra: Record<string, unknown> = {}) => ({
  DomainName: DOMAIN,
  DefaultExpirationDays: 366,
  CreatedAt: EPOCH,
  LastUpdatedAt: EPOCH,
  ...extra,
});

const fullyConfigured = {
  DeadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/profiles-dlq',
  DefaultEncryptionKey: 'arn:aws:kms:us-east-1:123456789012:key/abcd',
};

const byCheck = (findings: Finding[], check: string) => findings.filter((f) => f.check === check);

describe('Customer Profiles domain set-up and checks through the real SDK (contract, nock)', () => {
  useNock();

  describe('setUpDomain()', () => {
    it('when the object type does not exist (404 ResourceNotFoundException), PUTs exactly the record object type and answers created', async () => {
      let put: unknown;
      getObjectType(OBJECT_TYPE).reply(...awsError(404, 'ResourceNotFoundException'));
      nock(ENDPOINT)
        .put(`/domains/${DOMAIN}/object-types/${OBJECT_TYPE}`, (b: unknown) => {
          put = b;
          return true;
        })
        .matchHeader('content-type', 'application/json')
        .reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const result = await setUpDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(result).to.equal('created');
      expect(put).to.deep.equal(recordObjectType());
    });

    it('when the object type exists with the same definition, answers unchanged without a PUT', async () => {
      const get = getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const result = await setUpDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(result).to.equal('unchanged');
      expect(get.isDone()).to.equal(true);
    });

    it('when the object type exists with different Keys, PUTs the record object type and answers updated', async () => {
      let put: unknown;
      const wanted = recordObjectType();
      getObjectType(OBJECT_TYPE).reply(
        200,
        storedType(OBJECT_TYPE, { ...wanted, Keys: { _profileId: [{ StandardIdentifiers: ['PROFILE'], FieldNames: ['profileId'] }] } }),
      );
      nock(ENDPOINT)
        .put(`/domains/${DOMAIN}/object-types/${OBJECT_TYPE}`, (b: unknown) => {
          put = b;
          return true;
        })
        .reply(200, storedType(OBJECT_TYPE, wanted));

      const result = await setUpDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(result).to.equal('updated');
      expect(put).to.deep.equal(wanted);
    });

    it('when the object type allows profile creation, PUTs the record object type and answers updated', async () => {
      getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, { ...recordObjectType(), AllowProfileCreation: true }));
      const put = nock(ENDPOINT).put(`/domains/${DOMAIN}/object-types/${OBJECT_TYPE}`).reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const result = await setUpDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(result).to.equal('updated');
      expect(put.isDone()).to.equal(true);
    });

    it('when GetProfileObjectType is denied (403), rejects with AccessDeniedException and PUTs nothing', async () => {
      getObjectType(OBJECT_TYPE).reply(...awsError(403, 'AccessDeniedException'));

      const err = await setUpDomain(client(), DOMAIN, OBJECT_TYPE).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect((err as Error | undefined)?.name).to.equal('AccessDeniedException');
    });
  });

  describe('checkDomain()', () => {
    it('when GetDomain answers 404, answers one error finding about the domain and checks nothing else', async () => {
      getDomain().reply(...awsError(404, 'ResourceNotFoundException'));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(findings).to.have.length(1);
      expect(findings[0]).to.include({ level: 'error', check: 'domain' });
      expect(findings[0]!.detail).to.contain(DOMAIN).and.to.contain('does not exist');
      expect(findings[0]!.fix).to.contain('CUSTOMER_PROFILES_DOMAIN');
    });

    it('when GetDomain is denied (403), answers one error finding naming GetDomain and the permission', async () => {
      getDomain().reply(...awsError(403, 'AccessDeniedException'));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(findings).to.have.length(1);
      expect(findings[0]).to.include({ level: 'error', check: 'domain', detail: 'GetDomain failed: AccessDeniedException' });
      expect(findings[0]!.fix).to.contain('profile:GetDomain');
    });

    it('when the domain has no DeadLetterQueueUrl and no DefaultEncryptionKey, answers exactly two warnings for them', async () => {
      getDomain().reply(200, domainAnswer());
      getObjectType('CTR').reply(200, storedType('CTR', { Description: 'Contact records', TemplateId: 'CTR-NoInferred' }));
      getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      const warnings = findings.filter((f) => f.level === 'warn');
      expect(warnings.map((f) => f.check)).to.deep.equal(['dead-letter queue', 'encryption key']);
      expect(warnings[0]!.fix).to.contain('--dead-letter-queue-url');
      expect(warnings[1]!.fix).to.contain('--default-encryption-key');
      expect(findings.filter((f) => f.level === 'error')).to.deep.equal([]);
    });

    it('when the domain is fully configured, answers ok for every check', async () => {
      getDomain().reply(200, domainAnswer(fullyConfigured));
      getObjectType('CTR').reply(200, storedType('CTR', { Description: 'Contact records', TemplateId: 'CTR-NoInferred' }));
      getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(findings.map((f) => [f.check, f.level])).to.deep.equal([
        ['domain', 'ok'],
        ['dead-letter queue', 'ok'],
        ['encryption key', 'ok'],
        ['CTR object type', 'ok'],
        ['contact-record object type', 'ok'],
      ]);
      expect(byCheck(findings, 'dead-letter queue')[0]!.detail).to.contain(fullyConfigured.DeadLetterQueueUrl);
    });

    it('when CTR is mapped with the CTR template, warns and recommends CTR-NoInferred', async () => {
      getDomain().reply(200, domainAnswer(fullyConfigured));
      getObjectType('CTR').reply(200, storedType('CTR', { Description: 'Contact records', TemplateId: 'CTR' }));
      getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      const [ctr] = byCheck(findings, 'CTR object type');
      expect(ctr).to.include({ level: 'warn' });
      expect(ctr!.detail).to.contain('CTR template').and.to.contain('inferred duplicate');
      expect(ctr!.fix).to.contain('--template-id CTR-NoInferred');
      expect(findings.filter((f) => f.level !== 'ok')).to.have.length(1);
    });

    it('when CTR is mapped with CTR-NoInferred, its finding is ok', async () => {
      getDomain().reply(200, domainAnswer(fullyConfigured));
      getObjectType('CTR').reply(200, storedType('CTR', { Description: 'Contact records', TemplateId: 'CTR-NoInferred' }));
      getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      expect(byCheck(findings, 'CTR object type')).to.deep.equal([
        { level: 'ok', check: 'CTR object type', detail: 'uses the CTR-NoInferred template' },
      ]);
    });

    it('when there is no CTR object type, warns that Connect does not send contact records to the domain', async () => {
      getDomain().reply(200, domainAnswer(fullyConfigured));
      getObjectType('CTR').reply(...awsError(404, 'ResourceNotFoundException'));
      getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, recordObjectType()));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      const [ctr] = byCheck(findings, 'CTR object type');
      expect(ctr).to.include({ level: 'warn' });
      expect(ctr!.fix).to.contain('CTR-NoInferred');
    });

    it('when our object type is missing, answers an error whose fix is npm run setup-domain', async () => {
      getDomain().reply(200, domainAnswer(fullyConfigured));
      getObjectType('CTR').reply(200, storedType('CTR', { Description: 'Contact records', TemplateId: 'CTR-NoInferred' }));
      getObjectType(OBJECT_TYPE).reply(...awsError(404, 'ResourceNotFoundException'));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      const [ours] = byCheck(findings, 'contact-record object type');
      expect(ours).to.include({ level: 'error', fix: 'npm run setup-domain' });
      expect(ours!.detail).to.contain(`"${OBJECT_TYPE}" is missing`);
    });

    it('when our object type differs, answers an error naming what differs, fix npm run setup-domain', async () => {
      getDomain().reply(200, domainAnswer(fullyConfigured));
      getObjectType('CTR').reply(200, storedType('CTR', { Description: 'Contact records', TemplateId: 'CTR-NoInferred' }));
      getObjectType(OBJECT_TYPE).reply(200, storedType(OBJECT_TYPE, { ...recordObjectType(), AllowProfileCreation: true }));

      const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

      const [ours] = byCheck(findings, 'contact-record object type');
      expect(ours).to.include({ level: 'error', fix: 'npm run setup-domain' });
      expect(ours!.detail).to.contain('AllowProfileCreation is true');
    });
  });
});
