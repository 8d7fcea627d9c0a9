// The contact-flow Lambda with RESOLVER_TOKEN_SECRET_ID: the token read from Secrets Manager through
// the real AWS SDK (imported as the bundle imports it), against nock; the service is a capture server
// on port 0, as in test/http/lambda.test.ts.
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import nock from 'nock';
import { createHandler, FALLBACK, UPDATE_FALLBACK, type HandlerOptions, type LambdaContext } from '../../src/lambda/handler.js';
import { REFRESH_WAIT_MS, secretsManagerReader, TOKEN_TTL_MS } from '../../src/lambda/secret-token.js';
import { close } from '../support/app.js';
import { captureServer, type Captured } from '../support/capture-server.js';
import { eventFrom, loadFixture } from '../support/fixtures.js';
import { useNock } from '../support/nock.js';

const ENDPOINT = 'https://secretsmanager.us-east-1.amazonaws.com';
const SECRET_NAME = 'connect-profile-resolver/lambda-token';
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:123456789012:secret:${SECRET_NAME}-AbCdEf`;
const TOKEN = 'Tk9xQ2vR7mPz4LwB8sNd3Hc6Yf1Ja5Ue';
const ROTATED = 'Rz3Wq8Lm1Xc6Vb9Nk2Jh5Gf7Ds4Ap0Oe';
const KNOWN = { customerStatus: 'KNOWN', profileId: '3f2a9c4e8b7d4e1fa0c5b6d7e8f90a1b' };

const contextWith = (remainingMs: number): LambdaContext => ({ getRemainingTimeInMillis: () => remainingMs });

/** Asserts that the log lines hold no 8 consecutive characters of the secret. */
function expectNoPartOf(logs: unknown[], secret: string): void {
  const text = JSON.stringify(logs);
  for (let i = 0; i + 8 <= secret.length; i++) expect(text, `the log quotes ${secret.slice(i, i + 8)}`).not.to.include(secret.slice(i, i + 8));
}

/** GetSecretValue's answer for a secret string (what Secrets Manager returns, trimmed to what matters). */
const secretValue = (secretString: string) => ({
  ARN: SECRET_ARN,
  Name: SECRET_NAME,
  SecretString: secretString,
  VersionId: 'b4ab3c6f-0c4a-4c6e-9a8e-2f1d2c3b4a59',
  VersionStages: ['AWSCURRENT'],
  CreatedDate: 1767225600,
});

/** Expects one GetSecretValue for secretId, as the SDK sends it, and answers it. */
function getSecretValue(secretId: string, reply: { status: number; body: unknown; delayMs?: number }, endpoint = ENDPOINT) {
  const bodies: unknown[] = [];
  const scope = nock(endpoint)
    .post('/', (body: unknown) => {
      bodies.push(body);
      return true;
    })
    .matchHeader('x-amz-target', 'secretsmanager.GetSecretValue')
    .matchHeader('content-type', 'application/x-amz-json-1.1')
    .matchHeader('authorization', new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\\d{8}/${new URL(endpoint).hostname.split('.')[1]}/secretsmanager/aws4_request`))
    .delay(reply.delayMs ?? 0)
    .reply(reply.status, reply.body as nock.Body, { 'content-type': 'application/x-amz-json-1.1' });
  return { scope, bodies };
}

const notFound = { status: 400, body: { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." } };

describe('Lambda handler: the token from Secrets Manager (contract, real SDK, nock)', () => {
  useNock();
  before(() => nock.enableNetConnect('127.0.0.1')); // the capture server
  let service: Captured;
  let clock: number;
  beforeEach(async () => {
    service = await captureServer({ answer: KNOWN });
    clock = 1_767_225_600_000;
  });
  afterEach(async () => {
    await close(service.server);
  });

  function handlerFor(o: Partial<HandlerOptions> = {}) {
    const logs: Array<Record<string, unknown>> = [];
    const handler = createHandler({
      url: service.url,
      tokenSecretId: SECRET_NAME,
      readSecret: secretsManagerReader({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } }),
      marginMs: 250,
      maxMs: 7500,
      now: () => clock,
      log: (line) => logs.push(line),
      ...o,
    });
    return { handler, logs };
  }

  describe('reading the secret', () => {
    it('sends GetSecretValue with the SecretId, then calls the service with authorization: Bearer <the SecretString>', async () => {
      // Arrange
      const sm = getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN) });
      const { handler, logs } = handlerFor();

      // Act
      const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(sm.scope.isDone()).to.equal(true);
      expect(sm.bodies).to.deep.equal([{ SecretId: SECRET_NAME }]);
      expect(service.requests).to.have.lengthOf(1);
      expect(service.requests[0]!.headers.authorization).to.equal(`Bearer ${TOKEN}`);
      expect(answer).to.deep.equal(KNOWN);
      expect(logs).to.deep.equal([]);
    });

    it('when the SecretString is a JSON object, sends its "token" field (surrounding whitespace dropped)', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(JSON.stringify({ token: ` ${TOKEN}\n`, note: 'for the contact-flow Lambda' })) });
      const { handler } = handlerFor();

      // Act
      const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(answer).to.deep.equal(KNOWN);
      expect(service.requests[0]!.headers.authorization).to.equal(`Bearer ${TOKEN}`);
    });

    it('when the SecretString is a comma-separated list (the same secret is the service\'s AUTH_TOKENS, mid-rotation), sends the first', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(`${ROTATED}, ${TOKEN}`) });
      const { handler } = handlerFor();

      // Act
      await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(service.requests.map((r) => r.headers.authorization)).to.deep.equal([`Bearer ${ROTATED}`]);
    });

    it('when the secret is given by ARN, asks the region of the ARN (not the Lambda\'s), sending the ARN as SecretId', async () => {
      // Arrange: the Lambda in us-east-1, the secret in eu-west-1
      const arn = SECRET_ARN.replace('us-east-1', 'eu-west-1');
      const sm = getSecretValue(arn, { status: 200, body: secretValue(TOKEN) }, 'https://secretsmanager.eu-west-1.amazonaws.com');
      const { handler } = handlerFor({ tokenSecretId: arn });

      // Act
      const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(sm.bodies).to.deep.equal([{ SecretId: arn }]);
      expect(answer).to.deep.equal(KNOWN);
    });

    it('when RESOLVER_TOKEN is set as well, sends the secret\'s token and says once, without either token, that RESOLVER_TOKEN is ignored', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN) });
      const plain = 'Pl4inEnvTok3n-Xy7Qw2Er9Ty';
      const { handler, logs } = handlerFor({ token: plain });

      // Act
      await handler(loadFixture('voice-e164.json'), contextWith(3000));
      await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(service.requests.map((r) => r.headers.authorization)).to.deep.equal([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
      expect(logs).to.have.lengthOf(1);
      expect(logs[0]).to.include({ level: 'warn', secretId: SECRET_NAME });
      expectNoPartOf(logs, plain);
      expectNoPartOf(logs, TOKEN);
    });
  });

  describe('the warm Lambda keeps the token 5 minutes', () => {
    it('several invocations within 5 minutes of the read send one GetSecretValue', async () => {
      // Arrange: one GetSecretValue only (a second would find no interceptor and fail the call)
      const sm = getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN) });
      const { handler, logs } = handlerFor();

      const readAt = clock;

      // Act
      const answers = [];
      for (const after of [0, 1000, 60_000, TOKEN_TTL_MS - 1]) {
        clock = readAt + after;
        answers.push(await handler(loadFixture('voice-e164.json'), contextWith(3000)));
      }

      // Assert
      expect(sm.bodies).to.have.lengthOf(1);
      expect(answers).to.deep.equal([KNOWN, KNOWN, KNOWN, KNOWN]);
      expect(service.requests.map((r) => r.headers.authorization)).to.deep.equal(Array(4).fill(`Bearer ${TOKEN}`));
      expect(logs).to.deep.equal([]);
    });

    it('invocations that need the token while it is being read wait for that one read', async () => {
      // Arrange: the read takes 100 ms
      const sm = getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN), delayMs: 100 });
      const { handler } = handlerFor();

      // Act
      const answers = await Promise.all([1, 2, 3].map(() => handler(loadFixture('voice-e164.json'), contextWith(3000))));

      // Assert
      expect(sm.bodies).to.have.lengthOf(1);
      expect(answers).to.deep.equal([KNOWN, KNOWN, KNOWN]);
      expect(service.requests.map((r) => r.headers.authorization)).to.deep.equal(Array(3).fill(`Bearer ${TOKEN}`));
    });

    it('5 minutes after the read, reads the secret again and sends the rotated token', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN) });
      const second = getSecretValue(SECRET_NAME, { status: 200, body: secretValue(ROTATED) });
      const { handler } = handlerFor();
      await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Act
      clock += TOKEN_TTL_MS;
      await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(second.scope.isDone()).to.equal(true);
      expect(service.requests.map((r) => r.headers.authorization)).to.deep.equal([`Bearer ${TOKEN}`, `Bearer ${ROTATED}`]);
    });
  });

  describe('a refresh that fails or is slow, once a token was read', () => {
    it('keeps sending the last token, says why in a warning, and reads again on the next invocation', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN) });
      getSecretValue(SECRET_NAME, { status: 400, body: { __type: 'AccessDeniedException', message: 'not authorized to perform secretsmanager:GetSecretValue' } });
      const third = getSecretValue(SECRET_NAME, { status: 200, body: secretValue(ROTATED) });
      const { handler, logs } = handlerFor();
      await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Act
      clock += TOKEN_TTL_MS;
      const during = await handler(loadFixture('voice-e164.json'), contextWith(3000));
      const after = await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(during).to.deep.equal(KNOWN);
      expect(after).to.deep.equal(KNOWN);
      expect(third.scope.isDone()).to.equal(true);
      expect(service.requests.map((r) => r.headers.authorization)).to.deep.equal([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${ROTATED}`]);
      expect(logs.filter((l) => l.level === 'warn').map((l) => l.msg)).to.deep.equal(['cannot refresh the resolver token: using the last one read']);
      expectNoPartOf(logs, TOKEN);
    });

    it('waits at most REFRESH_WAIT_MS for a slow refresh, then calls the service with the last token', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN) });
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(ROTATED), delayMs: 2000 });
      const { handler } = handlerFor();
      await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Act
      clock += TOKEN_TTL_MS;
      const started = performance.now();
      const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));
      const ms = performance.now() - started;

      // Assert
      expect(answer).to.deep.equal(KNOWN);
      expect(service.requests.map((r) => r.headers.authorization)).to.deep.equal([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
      expect(ms).to.be.below(REFRESH_WAIT_MS + 1000);
    });
  });

  describe('when the secret cannot be read', () => {
    it('answers FALLBACK without calling the service, with one error line naming the secret and the error', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, notFound);
      const { handler, logs } = handlerFor();

      // Act
      const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'NOT_CONFIGURED' });
      expect(service.requests).to.deep.equal([]);
      expect(logs).to.have.lengthOf(1);
      expect(logs[0]).to.include({
        level: 'error',
        fallbackReason: 'NOT_CONFIGURED',
        contactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe',
        secretId: SECRET_NAME,
        error: 'ResourceNotFoundException',
      });
    });

    it('answers an update call UPDATE_FALLBACK', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, notFound);
      const { handler } = handlerFor();
      const event = eventFrom('voice-e164.json', { parameters: { operation: 'update', 'profile.FirstName': 'Amy' } });

      // Act
      const answer = await handler(event, contextWith(3000));

      // Assert
      expect(answer).to.deep.equal({ ...UPDATE_FALLBACK, fallbackReason: 'NOT_CONFIGURED' });
      expect(service.requests).to.deep.equal([]);
    });

    it('does not keep the failure: the next invocation reads the secret again', async () => {
      // Arrange
      getSecretValue(SECRET_NAME, notFound);
      const retry = getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN) });
      const { handler } = handlerFor();
      const first = await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Act
      const second = await handler(loadFixture('voice-e164.json'), contextWith(3000));

      // Assert
      expect(first).to.deep.equal({ ...FALLBACK, fallbackReason: 'NOT_CONFIGURED' });
      expect(retry.scope.isDone()).to.equal(true);
      expect(second).to.deep.equal(KNOWN);
    });

    it('when Secrets Manager does not answer in time, answers FALLBACK within getRemainingTimeInMillis() - marginMs', async () => {
      // Arrange: budget 700 - 200 = 500 ms; the secret would come after 3 s
      getSecretValue(SECRET_NAME, { status: 200, body: secretValue(TOKEN), delayMs: 3000 });
      const { handler, logs } = handlerFor({ marginMs: 200 });

      // Act
      const started = performance.now();
      const answer = await handler(loadFixture('voice-e164.json'), contextWith(700));
      const elapsed = performance.now() - started;

      // Assert
      expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'TIMEOUT' });
      expect(elapsed).to.be.within(450, 500 + 100);
      expect(service.requests).to.deep.equal([]);
      expect(logs).to.have.lengthOf(1);
      expect(logs[0]).to.include({ level: 'error', secretId: SECRET_NAME, fallbackReason: 'TIMEOUT' });
    });

    const notTokens: Array<[string, string]> = [
      ['JSON that does not parse (the token not quoted)', `{"token": ${TOKEN}}`],
      ['JSON that does not parse (no closing brace)', `{"token": "${TOKEN}"`],
      ['a JSON object without a token field', JSON.stringify({ password: TOKEN })],
      ['a JSON object whose token is not a string', `{"token": ["${TOKEN}"]}`],
      ['a token shorter than 16 characters', TOKEN.slice(0, 15)],
    ];
    for (const [what, secretString] of notTokens) {
      it(`when the SecretString is ${what}, answers FALLBACK and logs why, never the secret`, async () => {
        // Arrange
        getSecretValue(SECRET_NAME, { status: 200, body: secretValue(secretString) });
        const { handler, logs } = handlerFor();

        // Act
        const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

        // Assert
        expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'NOT_CONFIGURED' });
        expect(service.requests).to.deep.equal([]);
        expect(logs).to.have.lengthOf(1);
        expect(logs[0]).to.include({ level: 'error', error: 'SecretTokenError', fallbackReason: 'NOT_CONFIGURED' });
        expectNoPartOf(logs, TOKEN);
      });
    }
  });
});
