// The contact-flow Lambda handler against a real running service (port 0), a dead port, a server that
// never answers, and a tiny capture server for the headers it sends.
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { createHandler, FALLBACK, UPDATE_FALLBACK, type HandlerOptions, type LambdaContext } from '../../src/lambda/handler.js';
import { CORE_KEYS } from '../../src/domain/mapping.js';
import type { Profile } from '../../src/domain/profile.js';
import { close, deadPort, startApp, TEST_TOKENS, throttled, ScriptedProfileStore, type RunningApp } from '../support/app.js';
import { captureServer, type Captured } from '../support/capture-server.js';
import { eventFrom, loadFixture } from '../support/fixtures.js';

const JANE: Profile = {
  ProfileId: '3f2a9c4e8b7d4e1fa0c5b6d7e8f90a1b',
  FirstName: 'Jane',
  LastName: 'Doe',
  AccountNumber: 'ACME-1001',
  PhoneNumber: '+14255550123',
};

/** A Lambda context whose remaining time is fixed, as at the moment the handler reads it. */
const contextWith = (remainingMs: number): LambdaContext => ({ getRemainingTimeInMillis: () => remainingMs });

function handlerFor(url: string, o: Partial<HandlerOptions> = {}) {
  const logs: Array<Record<string, unknown>> = [];
  const handler = createHandler({ url, token: TEST_TOKENS[0], marginMs: 250, maxMs: 7500, log: (line) => logs.push(line), ...o });
  return { handler, logs };
}

describe('Lambda handler -> resolver service', function () {
  let app: RunningApp | undefined;
  let capture: Captured | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
    if (capture) await close(capture.server);
    capture = undefined;
  });

  it('when the service is up, returns the service answer for the fixture event', async () => {
    app = await startApp({ seed: [JANE] });
    const { handler, logs } = handlerFor(app.url);
    const event = loadFixture('voice-e164.json');

    const answer = await handler(event, contextWith(3000));
    // the same ContactId again is not a repeat, so the service answers the Lambda and this call alike
    const direct = (await (await app.resolve(event)).json()) as Record<string, string>;

    expect(answer).to.include({ customerStatus: 'KNOWN', profileId: JANE.ProfileId, firstName: 'Jane', phoneE164: '+14255550123' });
    expect(answer).to.deep.equal(direct);
    expect(logs).to.deep.equal([]);
  });

  it('when the service port is closed (connection refused), returns FALLBACK with fallbackReason SERVICE_UNREACHABLE quickly and logs ECONNREFUSED', async () => {
    const { handler, logs } = handlerFor(await deadPort());

    const started = performance.now();
    const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));
    const elapsed = performance.now() - started;

    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'SERVICE_UNREACHABLE' });
    expect(elapsed).to.be.below(500);
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({ level: 'error', contactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe', fallbackReason: 'SERVICE_UNREACHABLE', errorCode: 'ECONNREFUSED' });
  });

  it('when the service name does not resolve (DNS), returns fallbackReason SERVICE_UNREACHABLE and logs the lookup\'s error code', async () => {
    const { handler, logs } = handlerFor('http://resolver.invalid:8080');

    const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'SERVICE_UNREACHABLE' });
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({ level: 'error', fallbackReason: 'SERVICE_UNREACHABLE' });
    // no such name (ENOTFOUND), or, where there is no DNS server at all, a failed lookup (EAI_AGAIN)
    expect(logs[0]!.errorCode).to.be.oneOf(['ENOTFOUND', 'EAI_AGAIN']);
  });

  it('when a load balancer answers a 502 HTML page, returns fallbackReason SERVICE_ERROR and logs the status, not a SyntaxError', async () => {
    capture = await captureServer({ page: { status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' } });
    const { handler, logs } = handlerFor(capture.url);

    const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'SERVICE_ERROR' });
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({ level: 'error', status: 502, fallbackReason: 'SERVICE_ERROR', contactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe' });
    expect(String(logs[0]!.reason)).to.include('text/html');
    expect(JSON.stringify(logs)).not.to.include('SyntaxError');
  });

  it('when the service refuses the event (400), returns fallbackReason INVALID_EVENT and logs the service\'s code and reason', async () => {
    app = await startApp({ seed: [JANE] });
    const { handler, logs } = handlerFor(app.url);
    const event = eventFrom('voice-e164.json', { parameters: { matchMode: 'most' } });

    const answer = await handler(event, contextWith(3000));

    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'INVALID_EVENT' });
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({
      level: 'error',
      contactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe',
      fallbackReason: 'INVALID_EVENT',
      status: 400,
      code: 'INVALID_EVENT',
      reason: 'Details.Parameters.matchMode: must be one of any, all',
    });
    expect(app.store.calls.search).to.equal(0);
  });

  it('when the service answers its own UNAVAILABLE (Customer Profiles throttled), passes it on with its fallbackReason and logs nothing', async () => {
    const store = new ScriptedProfileStore([JANE]);
    store.behaviour = { kind: 'fail', error: throttled() };
    app = await startApp({ store });
    const { handler, logs } = handlerFor(app.url);

    const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

    expect(answer).to.include({ customerStatus: 'UNAVAILABLE', fallbackReason: 'AWS_THROTTLED', phoneE164: '+14255550123' });
    expect(logs).to.deep.equal([]);
  });

  it('when RESOLVER_URL is not set, returns fallbackReason NOT_CONFIGURED without calling anything, and says so', async () => {
    const { handler, logs } = handlerFor('');

    const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'NOT_CONFIGURED' });
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({ level: 'error', fallbackReason: 'NOT_CONFIGURED' });
    expect(String(logs[0]!.reason)).to.include('RESOLVER_URL');
  });

  it('when the service accepts the request and never answers, returns FALLBACK within getRemainingTimeInMillis() - marginMs', async () => {
    capture = await captureServer({ hang: true });
    const { handler, logs } = handlerFor(capture.url, { marginMs: 200 });

    const started = performance.now();
    const answer = await handler(loadFixture('voice-e164.json'), contextWith(700));
    const elapsed = performance.now() - started;

    // budget = 700 - 200 = 500 ms; slack for the timer and the event loop
    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'TIMEOUT' });
    expect(elapsed).to.be.within(450, 500 + 100);
    expect(capture.requests).to.have.lengthOf(1);
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({ level: 'error', fallbackReason: 'TIMEOUT' });
  });

  it('when the token is wrong (401), returns fallbackReason UNAUTHORIZED and logs the status and code without the token', async () => {
    app = await startApp({ seed: [JANE] });
    const { handler, logs } = handlerFor(app.url, { token: 'not-a-configured-token' });

    const answer = await handler(loadFixture('voice-e164.json'), contextWith(3000));

    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'UNAUTHORIZED' });
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({ level: 'error', status: 401, code: 'UNAUTHORIZED', fallbackReason: 'UNAUTHORIZED', contactId: '5ca32fbd-8f92-46af-92a5-6b0f970f0efe' });
    expect(JSON.stringify(logs)).not.to.include('not-a-configured-token');
    expect(app.store.calls.search).to.equal(0);
  });

  it('when the context has too little time left, returns FALLBACK without calling the service', async () => {
    capture = await captureServer({ answer: { customerStatus: 'KNOWN' } });
    const { handler, logs } = handlerFor(capture.url, { marginMs: 250 });

    const answer = await handler(loadFixture('voice-e164.json'), contextWith(290));

    expect(answer).to.deep.equal({ ...FALLBACK, fallbackReason: 'TIMEOUT' });
    expect(capture.requests).to.deep.equal([]);
    expect(logs).to.have.lengthOf(1);
    expect(logs[0]).to.include({ level: 'warn', fallbackReason: 'TIMEOUT' });
  });

  it('an update call (operation "update") that cannot reach the service gets updateStatus FAILED, not the resolve fallback', async () => {
    const { handler } = handlerFor(await deadPort());
    const event = eventFrom('voice-e164.json', { parameters: { operation: 'Update', 'profile.FirstName': 'Amy' } });

    expect(await handler(event, contextWith(3000))).to.deep.equal({ ...UPDATE_FALLBACK, fallbackReason: 'SERVICE_UNREACHABLE' });
  });

  it('FALLBACK carries every core answer key of the service (a flow branching on any of them finds it)', () => {
    expect(Object.keys(FALLBACK)).to.have.members([...CORE_KEYS]);
    expect(FALLBACK).to.include({ customerStatus: 'UNAVAILABLE', degraded: 'true', verification: 'NOT_CHECKED', enrichment: 'NONE' });
    expect(UPDATE_FALLBACK).to.have.all.keys('updateStatus', 'profileId', 'updatedFields', 'fallbackReason');
  });

  it('returns a copy of FALLBACK that the caller may change without affecting the next fallback', async () => {
    const { handler } = handlerFor(await deadPort());

    const first = await handler(loadFixture('voice-e164.json'), contextWith(3000));
    first.customerStatus = 'CHANGED';
    const second = await handler(loadFixture('voice-e164.json'), contextWith(3000));

    expect(second).to.deep.equal({ ...FALLBACK, fallbackReason: 'SERVICE_UNREACHABLE' });
  });

  describe('the request it sends', function () {
    it('sends X-Deadline-Ms equal to getRemainingTimeInMillis() - marginMs, the bearer token and the event as JSON', async () => {
      capture = await captureServer({ answer: { customerStatus: 'KNOWN' } });
      const { handler } = handlerFor(capture.url, { marginMs: 250, maxMs: 7500 });
      const event = loadFixture('voice-e164.json');

      const answer = await handler(event, contextWith(3000));

      expect(answer).to.deep.equal({ customerStatus: 'KNOWN' });
      expect(capture.requests).to.have.lengthOf(1);
      const req = capture.requests[0]!;
      expect(req.method).to.equal('POST');
      expect(req.path).to.equal('/v1/resolve');
      // 3000 left - 250 margin = 2750 to wait; the service is asked to answer 200 ms before that
      expect(req.headers['x-deadline-ms']).to.equal('2550');
      expect(req.headers.authorization).to.equal(`Bearer ${TEST_TOKENS[0]}`);
      expect(req.headers['content-type']).to.match(/^application\/json\b/);
      expect(JSON.parse(req.body)).to.deep.equal(event);
    });

    it('caps X-Deadline-Ms at maxMs when the Lambda has more time left', async () => {
      capture = await captureServer({ answer: { customerStatus: 'KNOWN' } });
      const { handler } = handlerFor(capture.url, { marginMs: 250, maxMs: 1000 });

      await handler(loadFixture('voice-e164.json'), contextWith(8000));

      // maxMs 1000 to wait; the service is asked to answer 100 ms (a tenth) before that
      expect(capture.requests[0]?.headers['x-deadline-ms']).to.equal('900');
    });

    it('when the URL has a trailing slash, still posts to /v1/resolve', async () => {
      capture = await captureServer({ answer: { customerStatus: 'KNOWN' } });
      const { handler } = handlerFor(`${capture.url}/`);

      await handler(loadFixture('voice-e164.json'), contextWith(3000));

      expect(capture.requests[0]?.path).to.equal('/v1/resolve');
    });
  });
});
