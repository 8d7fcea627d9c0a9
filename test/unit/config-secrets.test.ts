// loadConfig and secrets: tokens and data keys read from mounted-secret files (AUTH_TOKENS_FILE,
// ADMIN_TOKENS_FILE, DATA_KEYS_FILE), merged with or replacing the variables, validated like them,
// and never echoed in a configuration error.
import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { configError, problemsAbout, type Env } from '../support/config.js';
import fc from 'fast-check';
import { Sealer } from '../../src/redis/seal.js';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN_A = 'tok-aaaaaaaaaaaaaaaaaaaaaaaa';
const TOKEN_B = 'tok-bbbbbbbbbbbbbbbbbbbbbbbb';
const TOKEN_C = 'tok-cccccccccccccccccccccccc';
const ADMIN_A = 'adm-aaaaaaaaaaaaaaaaaaaaaaaa';
const ADMIN_B = 'adm-bbbbbbbbbbbbbbbbbbbbbbbb';
// production needs these besides the secrets under test
const PRODUCTION = { NODE_ENV: 'production', CUSTOMER_PROFILES_DOMAIN: 'acme', AWS_REGION: 'us-east-1' };


const key = (): string => randomBytes(32).toString('base64');
/** A secret as AWS Secrets Manager generates it (GenerateSecretString, 64 characters, no punctuation). */
const generated = (): string => randomBytes(48).toString('base64').replace(/[+/]/g, 'x');
/** The AES-256 key the JSON form of DATA_KEYS documents for a secret: HKDF-SHA256, empty salt, this info. */
const documentedKey = (secret: string): Buffer => Buffer.from(hkdfSync('sha256', secret, '', 'connect-profile-resolver DATA_KEYS', 32));


/** Asserts that neither the message nor any problem (nor the stack) holds any of the secrets. */
function expectNoSecret(err: ConfigError, secrets: readonly string[]): void {
  for (const secret of secrets) {
    for (const text of [err.message, err.problems.join('\n'), err.stack ?? '']) {
      expect(text.includes(secret), `a configuration error echoes a secret: ${JSON.stringify(err.problems)}`).to.equal(false);
    }
  }
}

describe('loadConfig: secrets', () => {
  let dir: string;
  let files = 0;
  /** Writes a temp file and returns its absolute path. */
  const file = (content: string): string => {
    const path = join(dir, `secret-${++files}`);
    writeFileSync(path, content);
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'config-secrets-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('token files', () => {
    for (const [variable, listVariable, field] of [
      ['AUTH_TOKENS_FILE', 'AUTH_TOKENS', 'authTokens'],
      ['ADMIN_TOKENS_FILE', 'ADMIN_TOKENS', 'adminTokens'],
    ] as const) {
      const [one, two] = variable === 'AUTH_TOKENS_FILE' ? [TOKEN_A, TOKEN_B] : [ADMIN_A, ADMIN_B];

      it(`when ${variable} holds one token per line (CRLF, blank lines, surrounding spaces), reads each token`, () => {
        // Arrange
        const path = file(`\n  ${one}  \r\n\r\n${two}\n`);

        // Act
        const config = loadConfig({ [variable]: path }, REPO_ROOT);

        // Assert
        expect(config[field]).to.deep.equal([one, two]);
      });

      it(`when ${variable} holds comma-separated tokens, reads each token`, () => {
        // Arrange
        const path = file(`${one}, ${two},`);

        // Act
        const config = loadConfig({ [variable]: path }, REPO_ROOT);

        // Assert
        expect(config[field]).to.deep.equal([one, two]);
      });

      it(`when both ${listVariable} and ${variable} are set, accepts the tokens of both (variable first, then file)`, () => {
        // Arrange
        const path = file(`${two}\n`);

        // Act
        const config = loadConfig({ [listVariable]: one, [variable]: path }, REPO_ROOT);

        // Assert
        expect(config[field]).to.deep.equal([one, two]);
      });

      it(`when ${variable} is a path relative to the base directory, reads it from there`, () => {
        // Arrange
        const path = relative(REPO_ROOT, file(`${one}\n`));

        // Act
        const config = loadConfig({ [variable]: path }, REPO_ROOT);

        // Assert
        expect(config[field]).to.deep.equal([one]);
      });

      it(`when ${variable} names a file that does not exist, refuses to start naming ${variable} and why`, () => {
        // Arrange
        const missing = join(dir, 'no-such-file');

        // Act
        const err = configError({ [variable]: missing });

        // Assert
        const about = problemsAbout(err, variable);
        expect(about.join('\n')).to.include('ENOENT');
      });

      it(`when ${variable} names a directory, refuses to start naming ${variable}`, () => {
        // Arrange
        const folder = join(dir, `folder-${++files}`);
        mkdirSync(folder);

        // Act
        const err = configError({ [variable]: folder });

        // Assert
        problemsAbout(err, variable);
      });

      for (const [what, bad] of [
        ['shorter than 16 characters', 'short-secret-1'],
        ['longer than 512 characters', `long-secret-${'z'.repeat(520)}`],
      ] as const) {
        it(`when ${variable} holds a token ${what}, refuses to start naming ${variable}, printing no token`, () => {
          // Arrange
          const path = file(`${one}\n${bad}\n`);

          // Act
          const err = configError({ [variable]: path });

          // Assert
          expect(problemsAbout(err, variable).join('\n')).to.include('16 to 512 characters');
          expectNoSecret(err, [bad, one]);
        });
      }
    }

    it('when NODE_ENV=production and AUTH_TOKENS_FILE is empty, refuses to run without authentication', () => {
      // Arrange
      const path = file('\n\n');

      // Act
      const err = configError({ ...PRODUCTION, AUTH_TOKENS_FILE: path });

      // Assert
      problemsAbout(err, 'AUTH_TOKENS');
    });

    it('when NODE_ENV=production and the only tokens come from AUTH_TOKENS_FILE, starts with them', () => {
      // Arrange
      const path = file(`${TOKEN_A}\n`);

      // Act
      const config = loadConfig({ ...PRODUCTION, AUTH_TOKENS_FILE: path }, REPO_ROOT);

      // Assert
      expect(config.authTokens).to.deep.equal([TOKEN_A]);
    });
  });

  describe('an admin token that is also a resolve token', () => {
    const cases: Array<[string, (shared: string) => Env]> = [
      ['ADMIN_TOKENS and AUTH_TOKENS', (t) => ({ AUTH_TOKENS: `${TOKEN_A},${t}`, ADMIN_TOKENS: `${ADMIN_A},${t}` })],
      ['ADMIN_TOKENS_FILE and AUTH_TOKENS', (t) => ({ AUTH_TOKENS: t, ADMIN_TOKENS_FILE: `@${t}` })],
      ['ADMIN_TOKENS and AUTH_TOKENS_FILE', (t) => ({ AUTH_TOKENS_FILE: `@${t}`, ADMIN_TOKENS: t })],
      ['ADMIN_TOKENS_FILE and AUTH_TOKENS_FILE', (t) => ({ AUTH_TOKENS_FILE: `@${TOKEN_B}\n${t}`, ADMIN_TOKENS_FILE: `@${t}` })],
    ];
    for (const [where, envOf] of cases) {
      it(`when the same token is in ${where}, refuses to start naming ADMIN_TOKENS, printing no token`, () => {
        // Arrange: "@..." values are written to files first
        const shared = 'shared-token-0123456789abcdef';
        const env = Object.fromEntries(Object.entries(envOf(shared)).map(([k, v]) => [k, v?.startsWith('@') ? file(v.slice(1)) : v]));

        // Act
        const err = configError(env);

        // Assert
        expect(problemsAbout(err, 'ADMIN_TOKENS').join('\n')).to.include('must not also be a resolve token');
        expectNoSecret(err, [shared, TOKEN_A, TOKEN_B, ADMIN_A]);
      });
    }

    it('when admin and resolve tokens differ, starts with both sets', () => {
      // Act
      const config = loadConfig({ AUTH_TOKENS: `${TOKEN_A},${TOKEN_B}`, ADMIN_TOKENS_FILE: file(`${ADMIN_A}\n`) }, REPO_ROOT);

      // Assert
      expect(config.authTokens).to.deep.equal([TOKEN_A, TOKEN_B]);
      expect(config.adminTokens).to.deep.equal([ADMIN_A]);
    });
  });

  describe('data keys', () => {
    it('when DATA_KEYS_FILE holds one id:key per line, reads them in order and ignores DATA_KEYS (the file replaces it)', () => {
      // Arrange
      const [k1, k2, unused] = [key(), key(), key()];
      const path = file(`new:${k1}\r\nold:${k2}\n`);

      // Act
      const config = loadConfig({ DATA_KEYS_FILE: path, DATA_KEYS: `other:${unused}` }, REPO_ROOT);

      // Assert
      expect(config.dataKeys.map((k) => k.id)).to.deep.equal(['new', 'old']);
      expect(config.dataKeys[0]!.key.equals(Buffer.from(k1, 'base64'))).to.equal(true);
      expect(config.dataKeys[1]!.key.equals(Buffer.from(k2, 'base64'))).to.equal(true);
    });

    it('when DATA_KEYS_FILE holds comma-separated keys, reads each', () => {
      // Arrange
      const path = file(`a:${key()},b:${key()}`);

      // Act
      const config = loadConfig({ DATA_KEYS_FILE: path }, REPO_ROOT);

      // Assert
      expect(config.dataKeys.map((k) => k.id)).to.deep.equal(['a', 'b']);
    });

    it('when DATA_KEYS_FILE names a file that does not exist, refuses to start naming DATA_KEYS_FILE', () => {
      // Act
      const err = configError({ DATA_KEYS_FILE: join(dir, 'no-keys-here') });

      // Assert
      expect(problemsAbout(err, 'DATA_KEYS_FILE').join('\n')).to.include('ENOENT');
    });

    it('when DATA_KEYS_FILE is empty, refuses to start: at least one key', () => {
      // Act
      const err = configError({ DATA_KEYS_FILE: file('\n') });

      // Assert
      problemsAbout(err, 'DATA_KEYS_FILE');
    });

    const badSpecs: Array<[string, () => string]> = [
      ['no ":"', () => key()],
      ['no id', () => `:${key()}`],
      ['a key of 16 bytes', () => `k1:${randomBytes(16).toString('base64')}`],
      ['a key of 33 bytes', () => `k1:${randomBytes(33).toString('base64')}`],
      ['an empty key', () => 'k1:'],
    ];
    for (const [what, spec] of badSpecs) {
      it(`when DATA_KEYS holds ${what}, refuses to start naming DATA_KEYS, printing no key`, () => {
        // Arrange
        const value = spec();

        // Act
        const err = configError({ DATA_KEYS: value });

        // Assert
        problemsAbout(err, 'DATA_KEYS');
        expectNoSecret(err, [value, ...value.split(':').filter((p) => p.length >= 8)]);
      });

      it(`when DATA_KEYS_FILE holds ${what}, refuses to start naming DATA_KEYS_FILE, printing no key`, () => {
        // Arrange
        const value = spec();
        const good = `ok:${key()}`;

        // Act
        const err = configError({ DATA_KEYS_FILE: file(`${good}\n${value}\n`) });

        // Assert
        problemsAbout(err, 'DATA_KEYS_FILE');
        expectNoSecret(err, [value, good, ...`${good}:${value}`.split(':').filter((p) => p.length >= 8)]);
      });
    }

    it('when DATA_KEYS holds the same key id twice, refuses to start naming DATA_KEYS and the id, printing no key', () => {
      // Arrange
      const [k1, k2] = [key(), key()];

      // Act
      const err = configError({ DATA_KEYS: `dup:${k1},dup:${k2}` });

      // Assert
      expect(problemsAbout(err, 'DATA_KEYS').join('\n')).to.include('"dup"');
      expectNoSecret(err, [k1, k2]);
    });

    it('when DATA_KEYS_FILE holds the same key id twice, refuses to start naming DATA_KEYS_FILE (the variable that is wrong) and the id, printing no key', () => {
      // A malformed line of the same file is reported under DATA_KEYS_FILE; a duplicate id is reported
      // under DATA_KEYS, a variable the operator did not set (src/config/index.ts, the "appears twice" problem).
      // Arrange
      const [k1, k2] = [key(), key()];

      // Act
      const err = configError({ DATA_KEYS_FILE: file(`dup:${k1}\ndup:${k2}\n`) });

      // Assert
      expectNoSecret(err, [k1, k2]);
      expect(problemsAbout(err, 'DATA_KEYS_FILE').join('\n')).to.include('"dup"');
    });

    it('when DATA_KEYS_FILE holds a key id with a "." (v.2), refuses it: a sealed value is "<id>.<iv>.<body>", so that key could never open what it seals', () => {
      // DATA_KEYS refuses such an id (its schema allows [A-Za-z0-9_-]{1,16}); DATA_KEYS_FILE checks only
      // that the id is not empty and the key decodes to 32 bytes.
      // Arrange
      const spec = `v.2:${key()}`;

      // Act
      const fromVariable = (() => {
        try {
          loadConfig({ DATA_KEYS: spec }, REPO_ROOT);
          return 'accepted';
        } catch {
          return 'refused';
        }
      })();
      let fromFile = 'refused';
      let roundTrip: unknown = 'not tried';
      try {
        const config = loadConfig({ DATA_KEYS_FILE: file(`${spec}\n`) }, REPO_ROOT);
        fromFile = 'accepted';
        const sealer = new Sealer(config.dataKeys);
        roundTrip = sealer.open(sealer.seal({ profileId: 'p' }, 'cpr:key'), 'cpr:key');
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
      }

      // Assert
      expect(fromVariable).to.equal('refused');
      expect(fromFile, `DATA_KEYS_FILE accepted it, and a value it sealed opened as ${JSON.stringify(roundTrip)}`).to.equal('refused');
    });

    it('every key DATA_KEYS or DATA_KEYS_FILE accepts opens what it sealed (property over generated key ids)', () => {
      const keyId = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/), fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[,\n:]/.test(s) && s.trim() === s));
      fc.assert(
        fc.property(keyId, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (id, bytes, viaFile) => {
          const spec = `${id}:${Buffer.from(bytes).toString('base64')}`;
          let config;
          try {
            config = loadConfig(viaFile ? { DATA_KEYS_FILE: file(`${spec}\n`) } : { DATA_KEYS: spec }, REPO_ROOT);
          } catch (err) {
            expect(err).to.be.instanceOf(ConfigError);
            return; // refused: fine
          }
          const sealer = new Sealer(config.dataKeys);
          expect(sealer.open(sealer.seal({ n: 1 }, 'aad'), 'aad'), `key id ${JSON.stringify(id)} from ${viaFile ? 'DATA_KEYS_FILE' : 'DATA_KEYS'}`).to.deep.equal({ n: 1 });
        }),
        { numRuns: 300, examples: [['v.2', new Uint8Array(32).fill(7), true]] },
      );
    });
  });

  describe('data keys as a JSON object (the form AWS Secrets Manager generates)', () => {
    it('when DATA_KEYS is {"<id>": "<64 generated characters>"}, loads one key under that id, derived from the secret with HKDF-SHA256', () => {
      // Arrange
      const secret = generated();

      // Act
      const config = loadConfig({ DATA_KEYS: JSON.stringify({ k1: secret }) }, REPO_ROOT);

      // Assert
      expect(config.dataKeys.map((k) => k.id)).to.deep.equal(['k1']);
      expect(config.dataKeys[0]!.key.toString('hex')).to.equal(documentedKey(secret).toString('hex'));
    });

    it('derives the documented key for a fixed secret (RFC 5869 by hand: HMAC-SHA256 extract with a zero salt, then expand)', () => {
      // The expected value was computed outside Node (Python's hmac): the derivation is part of the
      // stored data's format, so it must never change by accident.
      // Arrange
      const secret = 'Xq7vR2mK9pL4tW8zN3bC6hJ1sD5fG0aYeU2iO7kM4nB9vC3xZ8lQ1wE6rT5yU0pA';

      // Act
      const config = loadConfig({ DATA_KEYS: `{"k1": "${secret}"}` }, REPO_ROOT);

      // Assert
      expect(config.dataKeys[0]!.key.toString('hex')).to.equal('568eea4af7f2a52853ddba1c10df6c590bb03ef94b3cb77def4fb0f9816e8dcc');
    });

    it('keeps the order the ids are written in, newest first: the first seals, the others only open', () => {
      // Arrange: ids that sort otherwise, by name or by length
      const [s3, s2, s1] = [generated(), generated(), generated()];
      const text = `{"b-2025": "${s3}", "a_2024": "${s2}", "zz": "${s1}"}`;

      // Act
      const config = loadConfig({ DATA_KEYS: text }, REPO_ROOT);
      const sealed = new Sealer(config.dataKeys).seal({ n: 1 }, 'aad');

      // Assert
      expect(config.dataKeys.map((k) => k.id)).to.deep.equal(['b-2025', 'a_2024', 'zz']);
      expect(config.dataKeys.map((k) => k.key.toString('hex'))).to.deep.equal([s3, s2, s1].map((s) => documentedKey(s).toString('hex')));
      expect(sealed.startsWith('b-2025.')).to.equal(true);
    });

    it('rotation: a value sealed with {"k1": old} opens with {"k2": new, "k1": old}, which seals new values with k2', () => {
      // Arrange
      const [oldSecret, newSecret] = [generated(), generated()];
      const before = new Sealer(loadConfig({ DATA_KEYS: JSON.stringify({ k1: oldSecret }) }, REPO_ROOT).dataKeys);
      const sealedBefore = before.seal({ profileId: 'p-1' }, 'cpr:key');

      // Act
      const after = new Sealer(loadConfig({ DATA_KEYS: JSON.stringify({ k2: newSecret, k1: oldSecret }) }, REPO_ROOT).dataKeys);
      const sealedAfter = after.seal({ profileId: 'p-2' }, 'cpr:key');

      // Assert
      expect(after.open(sealedBefore, 'cpr:key')).to.deep.equal({ profileId: 'p-1' });
      expect(sealedAfter.startsWith('k2.')).to.equal(true);
      expect(before.open(sealedAfter, 'cpr:key'), 'the old key alone opens what the new one sealed').to.equal(undefined);
    });

    it('a key id in both forms is a different key: the JSON secret is never read as base64', () => {
      // Arrange: a secret that is itself valid base64 of 32 bytes
      const secret = `${key()}${key()}`;

      // Act
      const config = loadConfig({ DATA_KEYS: JSON.stringify({ k1: secret }) }, REPO_ROOT);

      // Assert
      expect(config.dataKeys[0]!.key.equals(Buffer.from(secret, 'base64').subarray(0, 32))).to.equal(false);
      expect(config.dataKeys[0]!.key.equals(documentedKey(secret))).to.equal(true);
    });

    it('when DATA_KEYS_FILE holds the JSON object (pretty-printed over several lines), loads the same keys as the variable would', () => {
      // Arrange
      const value = { k2: generated(), k1: generated() };

      // Act
      const fromFile = loadConfig({ DATA_KEYS_FILE: file(`${JSON.stringify(value, null, 2)}\n`) }, REPO_ROOT);
      const fromVariable = loadConfig({ DATA_KEYS: JSON.stringify(value) }, REPO_ROOT);

      // Assert
      expect(fromFile.dataKeys.map((k) => k.id)).to.deep.equal(['k2', 'k1']);
      expect(fromFile.dataKeys).to.deep.equal(fromVariable.dataKeys);
    });

    it('when NODE_ENV=production uses Redis with DATA_KEYS in the JSON form, starts (it is not the public default)', () => {
      // Arrange
      const env = {
        ...PRODUCTION,
        AUTH_TOKENS: TOKEN_A,
        REDIS_URL: 'redis://redis.internal:6379',
        IDENTITY_HASH_SECRET: 'a-secret-of-our-own-1234',
        DATA_KEYS: JSON.stringify({ prod1: generated() }),
      };

      // Act
      const config = loadConfig(env, REPO_ROOT);

      // Assert
      expect(config.dataKeys.map((k) => k.id)).to.deep.equal(['prod1']);
    });

    const badJson: Array<[string, (secret: string) => string, RegExp]> = [
      ['text that is not JSON (a secret left unquoted)', (s) => `{"k1": ${s}}`, /not valid JSON/],
      ['text that is not JSON (no closing brace)', (s) => `{"k1": "${s}"`, /not valid JSON/],
      ['an empty object', () => '{}', /at least one key/],
      ['a secret of 31 characters', (s) => JSON.stringify({ k1: s.slice(0, 31) }), /"k1".*at least 32 characters/],
      ['a secret that is not a string', () => '{"k1": 1234567890123456789012345678901234567890}', /"k1".*at least 32 characters/],
      ['an all-digit key id (JavaScript would move it first)', (s) => JSON.stringify({ k2: s, 1: `${s}-old` }), /not all digits/],
      ['a key id with a "."', (s) => JSON.stringify({ 'v.2': s }), /key ids of 1-16 letters/],
      ['a key id of 17 characters', (s) => JSON.stringify({ abcdefghijklmnopq: s }), /key ids of 1-16 letters/],
      ['the secret as the key id and the id as the value', (s) => JSON.stringify({ [s]: 'k1' }), /key ids of 1-16 letters/],
      ['the same key id twice', (s) => `{"k1": "${s}", "k1": "${s}-2"}`, /"k1" appears twice/],
    ];
    for (const [what, valueOf, reason] of badJson) {
      it(`when DATA_KEYS is a JSON object with ${what}, refuses to start naming DATA_KEYS and why, printing no secret`, () => {
        // Arrange
        const secret = generated();

        // Act
        const err = configError({ DATA_KEYS: valueOf(secret) });

        // Assert
        expect(problemsAbout(err, 'DATA_KEYS').join('\n')).to.match(reason);
        expectNoSecret(err, [secret, secret.slice(0, 12), secret.slice(-12)]);
      });

      it(`when DATA_KEYS_FILE holds a JSON object with ${what}, refuses to start naming DATA_KEYS_FILE and why, printing no secret`, () => {
        // Arrange
        const secret = generated();

        // Act
        const err = configError({ DATA_KEYS_FILE: file(`${valueOf(secret)}\n`) });

        // Assert
        expect(problemsAbout(err, 'DATA_KEYS_FILE').join('\n')).to.match(reason);
        expectNoSecret(err, [secret, secret.slice(0, 12), secret.slice(-12)]);
      });
    }
  });

  describe('no configuration error echoes a secret', () => {
    // Each scenario breaks the configuration around a generated secret; the error must name the
    // variable without printing the secret (tokens, data keys, passwords in URLs, the hash secret).
    const secret = fc.stringMatching(/^[A-Za-z0-9]{20,40}$/).map((s) => `S3cr3t${s}`);
    type Scenario = (s: string, file: (content: string) => string) => { env: Env; names: string };
    const scenarios: Record<string, Scenario> = {
      'a short AUTH_TOKENS token beside a good one': (s) => ({ env: { AUTH_TOKENS: `${s},${s.slice(0, 12)}` }, names: 'AUTH_TOKENS' }),
      'a too long ADMIN_TOKENS token': (s) => ({ env: { ADMIN_TOKENS: s.repeat(20) }, names: 'ADMIN_TOKENS' }),
      'a short token in AUTH_TOKENS_FILE': (s, f) => ({ env: { AUTH_TOKENS_FILE: f(`${s}\n${s.slice(0, 10)}\n`) }, names: 'AUTH_TOKENS_FILE' }),
      'a short token in ADMIN_TOKENS_FILE': (s, f) => ({ env: { ADMIN_TOKENS_FILE: f(`${s.slice(0, 10)}\n`) }, names: 'ADMIN_TOKENS_FILE' }),
      'an admin token that is also a resolve token': (s) => ({ env: { AUTH_TOKENS: s, ADMIN_TOKENS: s }, names: 'ADMIN_TOKENS' }),
      'a DATA_KEYS entry that is not 32 bytes': (s) => ({ env: { DATA_KEYS: `k1:${Buffer.from(s + s).toString('base64')}` }, names: 'DATA_KEYS' }),
      'a DATA_KEYS entry without an id': (s) => ({ env: { DATA_KEYS: s }, names: 'DATA_KEYS' }),
      'a DATA_KEYS_FILE entry that is not 32 bytes': (s, f) => ({ env: { DATA_KEYS_FILE: f(`k1:${s}${s}\n`) }, names: 'DATA_KEYS_FILE' }),
      'a DATA_KEYS_FILE entry without an id': (s, f) => ({ env: { DATA_KEYS_FILE: f(`${s}\n`) }, names: 'DATA_KEYS_FILE' }),
      'a DATA_KEYS JSON object that is not valid JSON': (s) => ({ env: { DATA_KEYS: `{"k1": ${s}}` }, names: 'DATA_KEYS' }),
      'a DATA_KEYS JSON object with a short secret beside a good one': (s) => ({ env: { DATA_KEYS: JSON.stringify({ k2: s.repeat(2), k1: s.slice(0, 20) }) }, names: 'DATA_KEYS' }),
      'a DATA_KEYS JSON object with the secret as its key id': (s) => ({ env: { DATA_KEYS: JSON.stringify({ [s]: 'k1' }) }, names: 'DATA_KEYS' }),
      'a DATA_KEYS_FILE JSON object that is not valid JSON': (s, f) => ({ env: { DATA_KEYS_FILE: f(`{\n  "k1": "${s}",\n}\n`) }, names: 'DATA_KEYS_FILE' }),
      'a REDIS_URL with a password that is not a URL': (s) => ({ env: { REDIS_URL: `redis://user:${s}@bad host:6379` }, names: 'REDIS_URL' }),
      'a REDIS_URL with a password and another scheme': (s) => ({ env: { REDIS_URL: `http://:${s}@redis.internal:6379` }, names: 'REDIS_URL' }),
      'a REDIS_URL with a password beside REDIS_CLUSTER_NODES': (s) => ({
        env: { REDIS_URL: `rediss://default:${s}@redis.internal:6380`, REDIS_CLUSTER_NODES: 'a.internal:6379' },
        names: 'REDIS_CLUSTER_NODES',
      }),
      'a REDIS_URL with a password in production with the public IDENTITY_HASH_SECRET': (s) => ({
        env: { ...PRODUCTION, AUTH_TOKENS: TOKEN_C, REDIS_URL: `redis://:${s}@redis.internal:6379` },
        names: 'IDENTITY_HASH_SECRET',
      }),
      'a REDIS_CLUSTER_PASSWORD with invalid REDIS_CLUSTER_NODES': (s) => ({
        env: { REDIS_CLUSTER_PASSWORD: s, REDIS_CLUSTER_NODES: 'not-a-host-port' },
        names: 'REDIS_CLUSTER_NODES',
      }),
      'an IDENTITY_HASH_SECRET shorter than 16 characters': (s) => ({ env: { IDENTITY_HASH_SECRET: s.slice(0, 15) }, names: 'IDENTITY_HASH_SECRET' }),
    };

    it(`for generated secrets in ${Object.keys(scenarios).length} broken configurations, refuses to start naming the variable and never prints the secret`, () => {
      fc.assert(
        fc.property(secret, fc.constantFrom(...Object.keys(scenarios)), (s, name) => {
          const { env, names } = scenarios[name]!(s, file);
          const err = configError(env);
          problemsAbout(err, names);
          // the secret and every part of it long enough to identify it
          expectNoSecret(err, [s, s.slice(0, 10), s.slice(-10), Buffer.from(s + s).toString('base64').slice(0, 20)]);
        }),
        { numRuns: 300 },
      );
    });

    it('when REDIS_CLUSTER_NODES is given a redis:// URL with a password (the REDIS_URL habit), refuses it without printing the password', () => {
      // Every invalid value of a variable outside the SECRET list is echoed as it was given
      // (src/config/index.ts, `got ${JSON.stringify(input[name])}`), and a URL is the likeliest
      // mistake in REDIS_CLUSTER_NODES.
      // Arrange
      const password = 'cluster-pa55word-do-not-print';

      // Act
      const err = configError({ REDIS_CLUSTER_NODES: `redis://default:${password}@redis-0.internal:6379` });

      // Assert
      problemsAbout(err, 'REDIS_CLUSTER_NODES');
      expectNoSecret(err, [password]);
    });
  });
});
