import { expect } from 'chai';
import nock from 'nock';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import { createCustomerProfilesClient } from '../../src/aws/clients.js';
import { checkDomain, setUpDomain, type Finding } from '../../src/profiles/object-type-setup.js';
import { recordObjectType } from '../../src/records/job.js';
import { useNock } from '../support/nock.js';

const ENDPOINT = 'https://profile.us-east-1.amazonaws.com';
const DOMAIN = 'acme-contacts';
const OBJECT_TYPE = 'ResolvedContact';
const EPOCH = 1_700_000_000; // restJson1 timestamps: epoch seconds

const awsError = (status: number, type: string) =>
  [status, { message: `${type} from the test` }, { 'X-Amzn-Errortype': `${type}:http://internal.amazon.com/coral/com.amazonaws.profile/` }] as const;

function client(endpoint?: string, requestTimeoutMs = 5000): CustomerProfilesClient {
  return createCustomerProfilesClient({
    region: 'us-east-1',
    endpoint,
    requestTimeoutMs,
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
      expect(findings[0]).to.include({ level: 'error', check: 'domain', detail: 'GetDomain failed: permission (AccessDeniedException 403)' });
      expect(findings[0]!.fix).to.contain('grant profile:GetDomain');
    });

    describe('names the cause of a failed GetDomain from the SDK error, and its fix', () => {
      // the answers AWS gives a request it cannot authenticate: not in the service's model, common to all services
      for (const [status, type] of [
        [403, 'UnrecognizedClientException'],
        [403, 'InvalidSignatureException'],
        [403, 'ExpiredTokenException'],
      ] as const) {
        it(`when AWS refuses the credentials (${status} ${type}), names the credentials, not a permission`, async () => {
          getDomain().reply(...awsError(status, type));

          const [finding, ...more] = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

          expect(more).to.deep.equal([]);
          expect(finding).to.include({ level: 'error', check: 'domain', detail: `GetDomain failed: credentials (${type} ${status})` });
          expect(finding!.fix).to.contain('AWS credentials').and.not.to.contain('grant');
        });
      }

      it('when Customer Profiles throttles (429 ThrottlingException), names throttling', async () => {
        getDomain().reply(...awsError(429, 'ThrottlingException'));

        const [finding] = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

        expect(finding).to.include({ detail: 'GetDomain failed: throttling (ThrottlingException 429)' });
        expect(finding!.fix).to.contain('again in a minute');
      });

      it('when Customer Profiles fails (500 InternalServerException), names a service error', async () => {
        getDomain().reply(...awsError(500, 'InternalServerException'));

        const [finding] = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

        expect(finding).to.include({ detail: 'GetDomain failed: service error (InternalServerException 500)' });
      });

      it('when GetProfileObjectType is denied (403), names the permission it needs', async () => {
        getDomain().reply(200, domainAnswer(fullyConfigured));
        getObjectType('CTR').reply(...awsError(403, 'AccessDeniedException'));

        const findings = await checkDomain(client(), DOMAIN, OBJECT_TYPE);

        expect(byCheck(findings, 'object types')).to.deep.equal([
          {
            level: 'error',
            check: 'object types',
            detail: 'GetProfileObjectType failed: permission (AccessDeniedException 403)',
            fix: 'grant profile:GetProfileObjectType on the domain to the identity this runs as (`aws sts get-caller-identity`)',
          },
        ]);
      });

      describe('when no HTTP answer comes back (real sockets)', () => {
        let silent: Server | undefined;
        const sockets = new Set<Socket>();
        before(() => nock.enableNetConnect((host) => host.startsWith('nonexistent.invalid') || host.startsWith('127.0.0.1')));
        after(async () => {
          nock.disableNetConnect();
          for (const s of sockets) s.destroy();
          if (silent) await new Promise((resolve) => silent!.close(resolve));
        });

        /** a port with nothing listening on it: connecting is refused */
        async function closedPort(): Promise<number> {
          const server = createServer().listen(0, '127.0.0.1');
          await once(server, 'listening');
          const { port } = server.address() as { port: number };
          await new Promise((resolve) => server.close(resolve));
          return port;
        }

        const expectNetwork = (findings: Finding[], code: string) => {
          expect(findings).to.have.length(1);
          expect(findings[0]).to.include({ level: 'error', check: 'domain', detail: `GetDomain failed: network (${code})` });
          expect(findings[0]!.fix).to.contain('reaches Customer Profiles').and.not.to.contain('credentials');
        };

        it('when the endpoint does not resolve (DNS, .invalid never does), names the network (ENOTFOUND), not the credentials', async () => {
          const findings = await checkDomain(client('http://nonexistent.invalid'), DOMAIN, OBJECT_TYPE);

          expectNetwork(findings, 'ENOTFOUND');
        });

        it('when the endpoint refuses the connection, names the network (ECONNREFUSED)', async () => {
          const findings = await checkDomain(client(`http://127.0.0.1:${await closedPort()}`), DOMAIN, OBJECT_TYPE);

          expectNetwork(findings, 'ECONNREFUSED');
        });

        it('when the endpoint accepts but never answers, names the network (TimeoutError)', async () => {
          silent = createServer((s) => sockets.add(s)).listen(0, '127.0.0.1');
          await once(silent, 'listening');
          const { port } = silent.address() as { port: number };

          const findings = await checkDomain(client(`http://127.0.0.1:${port}`, 300), DOMAIN, OBJECT_TYPE);

          expectNetwork(findings, 'TimeoutError');
        });
      });
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
