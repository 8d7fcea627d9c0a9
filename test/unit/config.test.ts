import { expect } from 'chai';
import { configError, problemsAbout, type Env } from '../support/config.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, profileEventLeaseMs } from '../../src/config/index.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN_A = 'tok-aaaaaaaaaaaaaaaaaaaaaaaa';
const TOKEN_B = 'tok-bbbbbbbbbbbbbbbbbbbbbbbb';



describe('loadConfig', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('defaults', () => {
    it('when no variable is set, loads the defaults of config/default.json', () => {
      // Act
      const config = loadConfig({}, REPO_ROOT);

      // Assert
      expect(config).to.deep.include({
        nodeEnv: 'development',
        port: 8080,
        metricsPort: 9464,
        domain: undefined,
        authTokens: [],
        defaultCountry: 'US',
        resolveDeadlineMs: 2000,
        logLevel: 'info',
        shutdownGraceMs: 10000,
        createProfiles: true,
      });
      expect(config.aws).to.deep.equal({ region: undefined, customerProfilesEndpoint: undefined, connectEndpoint: undefined, kinesisEndpoint: undefined });
      expect(config.profileEvents, 'no event stream read').to.equal(undefined);
    });

    it('when no variable is set, maps exactly the entries of config/attributes.json', () => {
      // Arrange
      const file = JSON.parse(readFileSync(join(REPO_ROOT, 'config/attributes.json'), 'utf8')) as { attributes: Record<string, string> };

      // Act
      const config = loadConfig({}, REPO_ROOT);

      // Assert
      expect(Object.keys(file.attributes)).to.not.be.empty;
      expect(config.attributeMapping.map((m) => [m.key, m.source])).to.deep.equal(Object.entries(file.attributes));
    });

    it('when no domain is set, loads the embedded seed profiles of config/embedded-profiles.json', () => {
      // Arrange
      const file = JSON.parse(readFileSync(join(REPO_ROOT, 'config/embedded-profiles.json'), 'utf8')) as { profiles: Array<{ ProfileId: string }> };

      // Act
      const config = loadConfig({}, REPO_ROOT);

      // Assert
      expect(file.profiles).to.not.be.empty;
      expect(config.embeddedProfiles.map((p) => p.ProfileId)).to.deep.equal(file.profiles.map((p) => p.ProfileId));
    });
  });

  describe('environment overrides', () => {
    it('when every setting is given in the environment, uses those values', () => {
      // Act
      const config = loadConfig(
        {
          NODE_ENV: 'test',
          PORT: '0',
          CUSTOMER_PROFILES_DOMAIN: 'acme-prod_1',
          AWS_REGION: 'eu-west-2',
          AWS_ENDPOINT_URL_CUSTOMER_PROFILES: 'http://127.0.0.1:4566',
          AWS_ENDPOINT_URL_CONNECT: 'https://connect.example.internal',
          AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:4567',
          PROFILE_EVENT_STREAM_ARN: 'arn:aws:kinesis:eu-west-2:123456789012:stream/acme-profile-events',
          PROFILE_EVENT_POLL_MS: '500',
          AUTH_TOKENS: ` ${TOKEN_A} , ${TOKEN_B},`,
          DEFAULT_COUNTRY: 'GB',
          RESOLVE_DEADLINE_MS: '8000',
          LOG_LEVEL: 'debug',
          SHUTDOWN_GRACE_MS: '0',
          CREATE_PROFILES: 'false',
        },
        REPO_ROOT,
      );

      // Assert
      expect(config).to.deep.include({
        nodeEnv: 'test',
        port: 0,
        domain: 'acme-prod_1',
        authTokens: [TOKEN_A, TOKEN_B],
        defaultCountry: 'GB',
        resolveDeadlineMs: 8000,
        logLevel: 'debug',
        shutdownGraceMs: 0,
        createProfiles: false,
      });
      expect(config.aws).to.deep.equal({
        region: 'eu-west-2',
        customerProfilesEndpoint: 'http://127.0.0.1:4566',
        connectEndpoint: 'https://connect.example.internal',
        kinesisEndpoint: 'http://127.0.0.1:4567',
      });
      // a shard's lease: ten polls, at least 3 s
      expect(config.profileEvents).to.deep.equal({ streamArn: 'arn:aws:kinesis:eu-west-2:123456789012:stream/acme-profile-events', pollMs: 500, leaseMs: 5000 });
    });

    it('when a domain is set, does not read the embedded seed file', () => {
      // Act
      const config = loadConfig(
        { CUSTOMER_PROFILES_DOMAIN: 'acme', AWS_REGION: 'us-east-1', EMBEDDED_PROFILES_FILE: join(dir, 'absent.json') },
        REPO_ROOT,
      );

      // Assert
      expect(config.embeddedProfiles).to.deep.equal([]);
    });

    const bools: Array<[string, boolean]> = [
      ['TRUE', true],
      ['yes', true],
      ['1', true],
      ['False', false],
      ['no', false],
      ['0', false],
    ];
    for (const [raw, value] of bools) {
      it(`when CREATE_PROFILES is "${raw}", reads ${value}`, () => {
        // Act
        const config = loadConfig({ CREATE_PROFILES: raw }, REPO_ROOT);

        // Assert
        expect(config.createProfiles).to.equal(value);
      });
    }

    it('when mapping and seed files are given as absolute paths, reads them', () => {
      // Arrange
      const mappingFile = join(dir, 'mapping-ok.json');
      const seedFile = join(dir, 'seed-ok.json');
      writeFileSync(mappingFile, JSON.stringify({ attributes: { zip: 'BillingAddress.PostalCode' } }));
      writeFileSync(seedFile, JSON.stringify({ profiles: [{ ProfileId: 'abcdef0123456789abcdef0123456789', FirstName: 'Zoe' }] }));

      // Act
      const config = loadConfig({ ATTRIBUTE_MAPPING_FILE: mappingFile, EMBEDDED_PROFILES_FILE: seedFile }, REPO_ROOT);

      // Assert
      expect(config.attributeMapping.map((m) => [m.key, m.source])).to.deep.equal([['zip', 'BillingAddress.PostalCode']]);
      expect(config.embeddedProfiles).to.deep.equal([{ ProfileId: 'abcdef0123456789abcdef0123456789', FirstName: 'Zoe' }]);
    });

    for (const blank of ['', '   ']) {
      it(`when every variable is ${JSON.stringify(blank)}, treats them as unset and loads the defaults`, () => {
        // Arrange
        const env: Env = Object.fromEntries(
          [
            'NODE_ENV',
            'PORT',
            'CUSTOMER_PROFILES_DOMAIN',
            'AWS_REGION',
            'AWS_ENDPOINT_URL_CUSTOMER_PROFILES',
            'AWS_ENDPOINT_URL_CONNECT',
            'AUTH_TOKENS',
            'DEFAULT_COUNTRY',
            'RESOLVE_DEADLINE_MS',
            'LOG_LEVEL',
            'SHUTDOWN_GRACE_MS',
            'CREATE_PROFILES',
            'ATTRIBUTE_MAPPING_FILE',
            'EMBEDDED_PROFILES_FILE',
          ].map((name) => [name, blank]),
        );

        // Act
        const config = loadConfig(env, REPO_ROOT);

        // Assert
        expect(config).to.deep.include({
          nodeEnv: 'development',
          port: 8080,
          domain: undefined,
          authTokens: [],
          defaultCountry: 'US',
          resolveDeadlineMs: 2000,
          logLevel: 'info',
          shutdownGraceMs: 10000,
          createProfiles: true,
        });
        expect(config.attributeMapping).to.not.be.empty;
      });
    }
  });

  describe('invalid values', () => {
    const rows: Array<{ variable: string; value: string; env?: Env }> = [
      { variable: 'PORT', value: 'abc' },
      { variable: 'PORT', value: '70000' },
      { variable: 'PORT', value: '-1' },
      { variable: 'METRICS_PORT', value: 'abc' },
      { variable: 'METRICS_PORT', value: '70000' },
      { variable: 'RESOLVE_DEADLINE_MS', value: '50' },
      { variable: 'RESOLVE_DEADLINE_MS', value: '9000' },
      { variable: 'RESOLVE_DEADLINE_MS', value: '1.5' },
      { variable: 'SHUTDOWN_GRACE_MS', value: '1e4' },
      { variable: 'DEFAULT_COUNTRY', value: 'XX' },
      { variable: 'DEFAULT_COUNTRY', value: 'usa' },
      { variable: 'LOG_LEVEL', value: 'loud' },
      { variable: 'CREATE_PROFILES', value: 'maybe' },
      { variable: 'NODE_ENV', value: 'staging' },
      { variable: 'AWS_ENDPOINT_URL_CUSTOMER_PROFILES', value: 'ftp://x' },
      { variable: 'AWS_ENDPOINT_URL_CONNECT', value: 'not a url' },
      { variable: 'CUSTOMER_PROFILES_DOMAIN', value: 'bad name!', env: { AWS_REGION: 'us-east-1' } },
      { variable: 'AWS_REGION', value: 'Virginia', env: { CUSTOMER_PROFILES_DOMAIN: 'acme' } },
      { variable: 'AWS_ENDPOINT_URL_KINESIS', value: 'kinesis.local' },
      { variable: 'PROFILE_EVENT_STREAM_ARN', value: 'acme-profile-events', env: { CUSTOMER_PROFILES_DOMAIN: 'acme', AWS_REGION: 'us-east-1' } },
      { variable: 'PROFILE_EVENT_STREAM_ARN', value: 'arn:aws:sqs:us-east-1:123456789012:queue', env: { CUSTOMER_PROFILES_DOMAIN: 'acme', AWS_REGION: 'us-east-1' } },
      // below 200 ms a shard's five reads a second would not be enough for one reader
      { variable: 'PROFILE_EVENT_POLL_MS', value: '100' },
      { variable: 'PROFILE_EVENT_POLL_MS', value: '60000' },
    ];
    for (const { variable, value, env } of rows) {
      it(`when ${variable} is ${JSON.stringify(value)}, refuses to start naming ${variable} and the value`, () => {
        // Act
        const err = configError({ ...env, [variable]: value });

        // Assert
        const about = problemsAbout(err, variable);
        expect(about.join('\n')).to.include(JSON.stringify(value));
        expect(about.join('\n')).to.include('expected');
      });
    }

    it('when AUTH_TOKENS holds a token shorter than 16 characters, refuses it without printing any token', () => {
      // Arrange
      const short = 'short-secret';

      // Act
      const err = configError({ AUTH_TOKENS: `${TOKEN_A},${short}` });

      // Assert
      const about = problemsAbout(err, 'AUTH_TOKENS');
      expect(about.join('\n')).to.include('16 characters');
      expect(err.message).to.not.include(short);
      expect(err.message).to.not.include(TOKEN_A);
      expect(err.problems.join('\n')).to.not.include(short);
      expect(err.problems.join('\n')).to.not.include(TOKEN_A);
    });

    for (const env of [{ METRICS_PORT: '8080' }, { PORT: '9464' }, { PORT: '9000', METRICS_PORT: '9000' }]) {
      it(`when METRICS_PORT and PORT are the same port (${JSON.stringify(env)}), refuses to start naming METRICS_PORT: /metrics keeps a listener of its own`, () => {
        // Act
        const err = configError(env);

        // Assert
        const [problem, ...more] = problemsAbout(err, 'METRICS_PORT');
        expect(more).to.deep.equal([]);
        expect(problem).to.match(/^METRICS_PORT: must differ from PORT \(\d+\)/);
      });
    }

    it('when PORT and METRICS_PORT are both 0, accepts them: each listener picks a free port of its own', () => {
      // Act
      const config = loadConfig({ PORT: '0', METRICS_PORT: '0' }, REPO_ROOT);

      // Assert
      expect(config).to.deep.include({ port: 0, metricsPort: 0 });
    });

    it('when a domain is set without AWS_REGION, refuses to start naming AWS_REGION', () => {
      // Act
      const err = configError({ CUSTOMER_PROFILES_DOMAIN: 'acme' });

      // Assert
      expect(problemsAbout(err, 'AWS_REGION')).to.deep.equal(['AWS_REGION: required with CUSTOMER_PROFILES_DOMAIN']);
    });

    it('when PROFILE_EVENT_STREAM_ARN is set without a domain, or in another region than the domain, refuses to start naming it', () => {
      const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/acme-profile-events';
      expect(problemsAbout(configError({ PROFILE_EVENT_STREAM_ARN: arn }), 'PROFILE_EVENT_STREAM_ARN').join('\n')).to.include('CUSTOMER_PROFILES_DOMAIN');
      expect(problemsAbout(configError({ PROFILE_EVENT_STREAM_ARN: arn, CUSTOMER_PROFILES_DOMAIN: 'acme', AWS_REGION: 'us-east-1' }), 'PROFILE_EVENT_STREAM_ARN').join('\n'))
        .to.include('eu-west-1');
    });

    it('a shard\'s lease is ten polls, between 3 and 30 seconds', () => {
      expect([200, 1000, 2000, 10_000].map(profileEventLeaseMs)).to.deep.equal([3000, 10_000, 20_000, 30_000]);
    });

    it('when several variables are wrong, names every one of them', () => {
      // Act
      const err = configError({ PORT: 'abc', LOG_LEVEL: 'loud', DEFAULT_COUNTRY: 'XX' });

      // Assert
      problemsAbout(err, 'PORT');
      problemsAbout(err, 'LOG_LEVEL');
      problemsAbout(err, 'DEFAULT_COUNTRY');
    });
  });

  describe('production', () => {
    const complete: Env = {
      NODE_ENV: 'production',
      CUSTOMER_PROFILES_DOMAIN: 'acme',
      AWS_REGION: 'us-east-1',
      AUTH_TOKENS: TOKEN_A,
    };

    it('when NODE_ENV=production has no CUSTOMER_PROFILES_DOMAIN, refuses the embedded store', () => {
      // Act
      const err = configError({ ...complete, CUSTOMER_PROFILES_DOMAIN: undefined, AWS_REGION: undefined });

      // Assert
      problemsAbout(err, 'CUSTOMER_PROFILES_DOMAIN');
    });

    it('when NODE_ENV=production has no AUTH_TOKENS, refuses to run without authentication', () => {
      // Act
      const err = configError({ ...complete, AUTH_TOKENS: undefined });

      // Assert
      problemsAbout(err, 'AUTH_TOKENS');
    });

    it('when NODE_ENV=production has AUTH_TOKENS made only of commas, refuses to run without authentication', () => {
      // Act
      const err = configError({ ...complete, AUTH_TOKENS: ' , ,' });

      // Assert
      problemsAbout(err, 'AUTH_TOKENS');
    });

    it('when NODE_ENV=production has an empty CUSTOMER_PROFILES_DOMAIN, counts it as unset and refuses', () => {
      // Act
      const err = configError({ ...complete, CUSTOMER_PROFILES_DOMAIN: '' });

      // Assert
      problemsAbout(err, 'CUSTOMER_PROFILES_DOMAIN');
    });

    it('when NODE_ENV=production has a domain, a region and tokens, starts', () => {
      // Act
      const config = loadConfig(complete, REPO_ROOT);

      // Assert
      expect(config).to.deep.include({ nodeEnv: 'production', domain: 'acme', authTokens: [TOKEN_A], embeddedProfiles: [] });
      expect(config.aws.region).to.equal('us-east-1');
    });
  });

  describe('redis', () => {
    it('when REDIS_URL is a rediss:// URL with a password, connects to that single Redis', () => {
      const config = loadConfig({ REDIS_URL: 'rediss://:pw@cache.internal:6380' }, REPO_ROOT);

      expect(config.redis).to.deep.equal({ mode: 'single', url: 'rediss://:pw@cache.internal:6380' });
    });

    it('when REDIS_CLUSTER_NODES lists seeds, connects to a cluster with them', () => {
      const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:6379, node-b.internal:7000', REDIS_CLUSTER_TLS: 'true' }, REPO_ROOT);

      expect(config.redis).to.deep.equal({
        mode: 'cluster',
        nodes: [
          { host: '10.0.0.1', port: 6379 },
          { host: 'node-b.internal', port: 7000 },
        ],
        password: undefined,
        tls: true,
      });
    });

    it('when nothing is set, keeps the state in-process', () => {
      expect(loadConfig({}, REPO_ROOT).redis).to.deep.equal({ mode: 'none' });
    });

    for (const [name, env] of [
      ['REDIS_URL', { REDIS_URL: 'http://cache:6379' }],
      ['REDIS_CLUSTER_NODES', { REDIS_CLUSTER_NODES: 'cache-without-port' }],
      ['REDIS_CLUSTER_NODES', { REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:6379' }],
      ['REDIS_COMMAND_TIMEOUT_MS', { REDIS_COMMAND_TIMEOUT_MS: '0' }],
      ['CREATE_LOCK_TTL_MS', { CREATE_LOCK_TTL_MS: '50' }],
      ['IDENTITY_HASH_SECRET', { IDENTITY_HASH_SECRET: 'short' }],
    ] as const) {
      it(`when ${JSON.stringify(env)}, refuses to start naming ${name}`, () => {
        problemsAbout(configError(env), name);
      });
    }

    it('when NODE_ENV=production uses Redis with the public default IDENTITY_HASH_SECRET or DATA_KEYS, refuses to start', () => {
      const env = { NODE_ENV: 'production', CUSTOMER_PROFILES_DOMAIN: 'acme', AWS_REGION: 'us-east-1', AUTH_TOKENS: TOKEN_A, REDIS_URL: 'redis://cache:6379' };

      problemsAbout(configError(env), 'IDENTITY_HASH_SECRET');
      problemsAbout(configError(env), 'DATA_KEYS');
      const own = { ...env, IDENTITY_HASH_SECRET: 'a-secret-of-our-own-1234', DATA_KEYS: `k2:${Buffer.alloc(32, 9).toString('base64')}` };
      expect(loadConfig(own, REPO_ROOT).identityHashSecret).to.equal('a-secret-of-our-own-1234');
      expect(loadConfig(own, REPO_ROOT).dataKeys.map((k) => k.id)).to.deep.equal(['k2']);
    });
  });

  describe('files', () => {
    it('when the mapping file maps an unknown field, refuses to start naming ATTRIBUTE_MAPPING_FILE', () => {
      // Arrange
      const file = join(dir, 'mapping-unknown.json');
      writeFileSync(file, JSON.stringify({ attributes: { nickname: 'Nickname' } }));

      // Act
      const err = configError({ ATTRIBUTE_MAPPING_FILE: file });

      // Assert
      expect(problemsAbout(err, 'ATTRIBUTE_MAPPING_FILE').join('\n')).to.include('"Nickname"');
    });

    it('when the mapping file reuses a core key, refuses to start naming ATTRIBUTE_MAPPING_FILE', () => {
      // Arrange
      const file = join(dir, 'mapping-core.json');
      writeFileSync(file, JSON.stringify({ attributes: { profileId: 'AccountNumber' } }));

      // Act
      const err = configError({ ATTRIBUTE_MAPPING_FILE: file });

      // Assert
      expect(problemsAbout(err, 'ATTRIBUTE_MAPPING_FILE')).to.deep.equal(['ATTRIBUTE_MAPPING_FILE: "profileId": is a core answer key']);
    });

    it('when the mapping file is not JSON, refuses to start naming ATTRIBUTE_MAPPING_FILE and the path', () => {
      // Arrange
      const file = join(dir, 'mapping-broken.json');
      writeFileSync(file, '{"attributes": ');

      // Act
      const err = configError({ ATTRIBUTE_MAPPING_FILE: file });

      // Assert
      expect(problemsAbout(err, 'ATTRIBUTE_MAPPING_FILE').join('\n')).to.include(file);
    });

    it('when the mapping file does not exist, refuses to start naming ATTRIBUTE_MAPPING_FILE', () => {
      // Act
      const err = configError({ ATTRIBUTE_MAPPING_FILE: join(dir, 'no-such-mapping.json') });

      // Assert
      expect(problemsAbout(err, 'ATTRIBUTE_MAPPING_FILE').join('\n')).to.include('no-such-mapping.json');
    });

    it('when the seed file does not exist, refuses to start naming EMBEDDED_PROFILES_FILE and the path', () => {
      // Arrange
      const file = join(dir, 'no-such-seed.json');

      // Act
      const err = configError({ EMBEDDED_PROFILES_FILE: file });

      // Assert
      expect(problemsAbout(err, 'EMBEDDED_PROFILES_FILE').join('\n')).to.include(file);
    });

    it('when a seed profile has an id that is not 32 hex characters, refuses to start naming EMBEDDED_PROFILES_FILE', () => {
      // Arrange
      const file = join(dir, 'seed-bad-id.json');
      writeFileSync(file, JSON.stringify({ profiles: [{ ProfileId: 'not-an-id', FirstName: 'Zoe' }] }));

      // Act
      const err = configError({ EMBEDDED_PROFILES_FILE: file });

      // Assert
      problemsAbout(err, 'EMBEDDED_PROFILES_FILE');
    });
  });
});
