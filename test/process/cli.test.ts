import { expect } from 'chai';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { recordObjectType } from '../../src/records/job.js';
import { FakeAws } from '../support/fake-aws.js';
import { runScript, type ProcessRun } from '../support/process.js';
import { freePort, useRedisServer } from '../support/redis.js';

type Run = ProcessRun & { seconds: number };

/** Runs an operator command as `npm run <command>` does (tsx), with only the environment given; killed after ms. */
async function cli(command: 'setup-domain' | 'doctor' | 'dead-letters' | 'erase' | 'duplicates', args: string[], env: Record<string, string>, ms = 15_000): Promise<Run> {
  const started = performance.now();
  const run = await runScript(`src/cli/${command}.ts`, args, env, ms);
  return { ...run, seconds: (performance.now() - started) / 1000 };
}

/** A failure as an operator must see it: exit 1, nothing on stdout, one line on stderr and no stack trace. */
function expectOneLineFailure(r: Run, line: RegExp): void {
  expect(r.code, `${r.stdout}${r.stderr}`).to.equal(1);
  expect(r.stdout).to.equal('');
  expect(r.stderr).to.match(line).and.not.to.match(/\n\s+at /);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).to.have.length(1);
}

/** A TCP server that accepts connections and never answers (a hung Redis, a black-holed proxy). */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => sockets.add(s)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// The AWS SDK warns on Node 20 that its releases after January 2027 need Node 22: not this test's subject.
const QUIET_SDK = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

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
      const r = await cli('setup-domain', [], { ...env, ...QUIET_SDK, CUSTOMER_PROFILES_DOMAIN: 'nosuch' });

      expectOneLineFailure(r, /^setup-domain failed: missing resource \(ResourceNotFoundException 404\); fix: check CUSTOMER_PROFILES_DOMAIN/);
    });

    it('when Customer Profiles cannot be reached (DNS), exits 1 with one line naming the network, within seconds', async () => {
      const r = await cli('setup-domain', [], { ...env, ...QUIET_SDK, AWS_ENDPOINT_URL_CUSTOMER_PROFILES: 'http://nonexistent.invalid' });

      expectOneLineFailure(r, /^setup-domain failed: network \(ENOTFOUND\); fix: check that this machine reaches Customer Profiles/);
      expect(r.seconds).to.be.below(10);
    });

    it('with --verbose, the same failure also prints the error in full', async () => {
      const r = await cli('setup-domain', ['--verbose'], { ...env, ...QUIET_SDK, AWS_ENDPOINT_URL_CUSTOMER_PROFILES: 'http://nonexistent.invalid' });

      expect(r.code).to.equal(1);
      expect(r.stderr.split('\n')[0]).to.match(/^setup-domain failed: network \(ENOTFOUND\)/);
      expect(r.stderr).to.contain('getaddrinfo ENOTFOUND nonexistent.invalid').and.to.match(/\n\s+at /);
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

    it('when Customer Profiles does not resolve (DNS), exits 1 naming the network, not the credentials, within seconds', async () => {
      const r = await cli('doctor', [], { ...env, ...QUIET_SDK, AWS_ENDPOINT_URL_CUSTOMER_PROFILES: 'http://nonexistent.invalid' });

      expect(r.code, r.stderr).to.equal(1);
      expect(r.stdout).to.contain('ERROR domain: GetDomain failed: network (ENOTFOUND)');
      expect(r.stdout).to.contain('fix: check that this machine reaches Customer Profiles').and.not.to.contain('credentials');
      expect(r.stderr).to.equal('');
      expect(r.seconds).to.be.below(10);
    });

    it('when there are no AWS credentials at all, exits 1 naming the credentials (CredentialsProviderError)', async () => {
      const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...noCredentials } = env;
      const r = await cli('doctor', [], {
        ...noCredentials,
        ...QUIET_SDK,
        // nowhere else to find credentials either: no files, no instance metadata
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
        AWS_CONFIG_FILE: '/nonexistent/config',
        AWS_EC2_METADATA_DISABLED: 'true',
      });

      expect(r.code, r.stderr).to.equal(1);
      expect(r.stdout).to.contain('ERROR domain: GetDomain failed: credentials (CredentialsProviderError)');
      expect(r.stdout).to.contain('fix: check the AWS credentials');
      expect(fake.callsTo('GetDomain')).to.have.length(0);
    });

    it('when the domain does not exist, exits 1 and the fix names the CUSTOMER_PROFILES_DOMAIN variable', async () => {
      const r = await cli('doctor', [], { ...env, CUSTOMER_PROFILES_DOMAIN: 'nosuch' });

      expect(r.code).to.equal(1);
      expect(r.stdout).to.contain('ERROR domain: domain "nosuch" does not exist');
      expect(r.stdout).to.contain('fix: check CUSTOMER_PROFILES_DOMAIN and AWS_REGION');
    });
  });

  describe('dead-letters', () => {
    const redis = useRedisServer();

    it('with Redis up and no dead letters, lists none and exits 0', async () => {
      const r = await cli('dead-letters', ['list'], { ...env, REDIS_URL: redis().url });

      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('0 dead letter(s) in "acme":\n');
    });

    it('when Redis refuses connections, exits 1 with one line naming the address and ECONNREFUSED, within seconds', async () => {
      const port = await freePort();

      const r = await cli('dead-letters', ['list'], { ...env, REDIS_URL: `redis://127.0.0.1:${port}` }, 30_000);

      expectOneLineFailure(r, new RegExp(`^dead-letters: cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\n$`));
      expect(r.seconds).to.be.below(10);
    });

    it('when Redis accepts connections but never answers, exits 1 with one line after its 5 s wait', async () => {
      const silent = await silentServer();
      try {
        const r = await cli('dead-letters', ['purge', '--all'], { ...env, REDIS_URL: `redis://127.0.0.1:${silent.port}` }, 30_000);

        expectOneLineFailure(r, new RegExp(`^dead-letters: cannot reach Redis at 127\\.0\\.0\\.1:${silent.port} \\(no answer, gave up after 5 s\\)\n$`));
        expect(r.seconds).to.be.below(15);
      } finally {
        await silent.close();
      }
    });

    it('when the Redis host does not resolve, exits 1 with one line naming ENOTFOUND; --verbose adds the error in full', async () => {
      const quiet = await cli('dead-letters', ['list'], { ...env, REDIS_URL: 'redis://nonexistent.invalid:6379' }, 30_000);
      const verbose = await cli('dead-letters', ['list', '--verbose'], { ...env, REDIS_URL: 'redis://nonexistent.invalid:6379' }, 30_000);

      expectOneLineFailure(quiet, /^dead-letters: cannot reach Redis at nonexistent\.invalid:6379 \(ENOTFOUND\)\n$/);
      expect(verbose.code).to.equal(1);
      expect(verbose.stderr.split('\n')[0]).to.equal('dead-letters: cannot reach Redis at nonexistent.invalid:6379 (ENOTFOUND)');
      expect(verbose.stderr).to.contain('getaddrinfo ENOTFOUND nonexistent.invalid');
    });
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

  describe('duplicates', () => {
    const redis = useRedisServer();

    it('with Redis up and no MULTIPLE answer yet, lists no set and exits 0', async () => {
      const r = await cli('duplicates', ['list'], { ...env, REDIS_URL: redis().url });

      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('0 duplicate set(s) in "acme":\n');
    });

    // without --yes a merge reads the set and the profiles to show what it would do (test/integration/duplicates.test.ts
    // has that screen), and never merges
    it('merge without --yes of a set that is not there exits 1 with one line naming it, and sends nothing to AWS', async () => {
      const r = await cli('duplicates', ['merge', '0123456789abcdef', '--keep', 'a'.repeat(32)], { ...env, ...QUIET_SDK, REDIS_URL: redis().url });

      expectOneLineFailure(r, /^duplicates: no set 0123456789abcdef in "acme" \(npm run duplicates -- list\)\n$/);
      expect(fake.calls).to.have.length(0);
    });

    it('when Redis refuses connections, exits 1 with one line naming the address and ECONNREFUSED, within seconds', async () => {
      const port = await freePort();

      const r = await cli('duplicates', ['list'], { ...env, REDIS_URL: `redis://127.0.0.1:${port}` }, 30_000);

      expectOneLineFailure(r, new RegExp(`^duplicates: cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\n$`));
      expect(r.seconds).to.be.below(10);
    });

    it('when there is no REDIS_URL, exits 1 explaining that the sets live in each service process', async () => {
      const r = await cli('duplicates', ['list'], env);

      expectOneLineFailure(r, /^No REDIS_URL or REDIS_CLUSTER_NODES: without Redis, duplicate sets are kept in each service process/);
    });

    it('when the subcommand is unknown, or show names no set, exits 1 with the usage line', async () => {
      for (const args of [['frobnicate'], ['show'], ['list', '--limit', '0']]) {
        const r = await cli('duplicates', args, env);

        expect(r.code).to.equal(1);
        expect(r.stderr).to.equal(
          'usage: npm run duplicates -- list [--limit N] | show <setId> | matches <setId> | merge <setId> --keep <profileId> [--from <field>=<profileId> ...] --yes\n',
        );
      }
    });
  });

  describe('erase', () => {
    const token = { ADMIN_TOKEN: 'admin-token-for-the-erase-test' };
    let replica: HttpServer | undefined;
    afterEach(async () => {
      if (replica) await new Promise((resolve) => replica!.close(resolve));
      replica = undefined;
    });

    it('when the service cannot be reached, exits 1 with one line naming the URL and the system error, within seconds', async () => {
      const port = await freePort();

      const r = await cli('erase', ['--url', `http://127.0.0.1:${port}`, '+14255550123'], token);

      expectOneLineFailure(r, new RegExp(`^erase: cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\n$`));
      expect(r.seconds).to.be.below(10);
    });

    it('after erasing, points at the section of docs/security.md on what Customer Profiles still holds', async () => {
      replica = createHttpServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ erased: { callerEntries: 2, contactHistories: 1, records: 0, recordsInProgress: 0 }, identityType: 'PHONE' }));
      }).listen(0, '127.0.0.1');
      await once(replica, 'listening');

      const r = await cli('erase', ['--url', `http://127.0.0.1:${(replica.address() as { port: number }).port}`, '+14255550123'], token);

      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.trimEnd().split('\n').at(-1)).to.equal('Customer Profiles still holds the profile, its keys and objects: see docs/security.md, "Erasing a customer".');
    });
  });
});
