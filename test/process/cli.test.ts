import { expect } from 'chai';
import { recordObjectType } from '../../src/records/job.js';
import { FakeAws } from '../support/fake-aws.js';
import { runScript, type ProcessRun as Run } from '../support/process.js';

/** Runs an operator command as `npm run <command>` does (tsx), with only the environment given. */
function cli(command: 'setup-domain' | 'doctor' | 'dead-letters', args: string[], env: Record<string, string>, ms = 15_000): Promise<Run> {
  return runScript(`src/cli/${command}.ts`, args, env, ms);
}

const DLQ = 'https://sqs.us-east-1.amazonaws.com/123456789012/profiles-dlq';
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('operator commands (the processes, against the HTTP fake of AWS)', function () {
  this.slow(4000);
  let fake: FakeAws;
  let env: Record<string, string>;

  beforeEach(async () => {
    fake = new FakeAws({ domains: ['acme'] });
    const url = await fake.start();
    env = {
      CUSTOMER_PROFILES_DOMAIN: 'acme',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: url,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
    };
  });

  afterEach(async () => {
    await fake.stop();
  });

  describe('setup-domain', () => {
    it('when the object type is missing, creates it with the record definition and says created; a second run says already right and writes nothing', async () => {
      const first = await cli('setup-domain', [], env);
      const second = await cli('setup-domain', [], env);

      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.equal('Object type "ResolvedContact" in domain "acme": created.\n');
      expect(second.code, second.stderr).to.equal(0);
      expect(second.stdout).to.contain('already right');
      const puts = fake.callsTo('PutProfileObjectType');
      expect(puts).to.have.length(1);
      expect(puts[0]!.body).to.deep.equal(recordObjectType());
    });

    it('when the domain does not exist, exits 1 naming the error and prints no result', async () => {
      const r = await cli('setup-domain', [], { ...env, CUSTOMER_PROFILES_DOMAIN: 'nosuch' });

      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('setup-domain failed: ResourceNotFoundException');
      expect(r.stdout).to.equal('');
    });
  });

  describe('doctor', () => {
    it('when setup-domain has not run, exits 1 and prints the missing object type error with the npm run setup-domain fix', async () => {
      const r = await cli('doctor', [], env);

      expect(r.code, r.stderr).to.equal(1);
      expect(r.stdout).to.contain('ERROR contact-record object type: object type "ResolvedContact" is missing');
      expect(r.stdout).to.contain('fix: npm run setup-domain');
      expect(r.stdout).to.contain('--domain-name acme ');
      expect(r.stdout).to.contain('1 error(s), 3 warning(s).');
    });

    it('after setup-domain, with a dead-letter queue and a KMS key, exits 0 and names each check', async () => {
      fake.setDomain('acme', { deadLetterQueueUrl: DLQ, defaultEncryptionKey: KMS_KEY });
      const setup = await cli('setup-domain', [], env);
      expect(setup.code, setup.stderr).to.equal(0);

      const r = await cli('doctor', [], env);

      expect(r.code, `${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout).to.contain('Customer Profiles domain "acme" (us-east-1):');
      expect(r.stdout).to.match(/ok +domain: domain "acme" exists/);
      expect(r.stdout).to.match(new RegExp(`ok +dead-letter queue: set \\(${DLQ.replaceAll('.', '\\.')}\\)`));
      expect(r.stdout).to.match(/ok +encryption key:/);
      // Connect's own CTR mapping is not set up in the fake: a warning, which does not fail the run
      expect(r.stdout).to.match(/WARN +CTR object type:/);
      expect(r.stdout).to.match(/ok +contact-record object type: "ResolvedContact" is present and right/);
      expect(r.stdout).to.contain('0 error(s), 1 warning(s).');
    });

    it('when the domain does not exist, exits 1 and the fix names the CUSTOMER_PROFILES_DOMAIN variable', async () => {
      const r = await cli('doctor', [], { ...env, CUSTOMER_PROFILES_DOMAIN: 'nosuch' });

      expect(r.code).to.equal(1);
      expect(r.stdout).to.contain('ERROR domain: domain "nosuch" does not exist');
      expect(r.stdout).to.contain('fix: check CUSTOMER_PROFILES_DOMAIN and AWS_REGION');
    });
  });

  describe('dead-letters', () => {
    it('when there is no REDIS_URL, exits 1 explaining that dead letters live in the service process', async () => {
      const r = await cli('dead-letters', ['list'], env);

      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('No REDIS_URL').and.to.contain('dead letters live in the service process');
      expect(r.stdout).to.equal('');
    });

    it('when the subcommand is unknown, exits 1 with the usage line', async () => {
      const r = await cli('dead-letters', ['frobnicate'], env);

      expect(r.code).to.equal(1);
      expect(r.stderr).to.equal(
        'usage: npm run dead-letters -- list [--limit N] | replay <ContactId ...|--all> | purge <ContactId ...|--all>\n',
      );
    });
  });
});
