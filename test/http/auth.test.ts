// Bearer authentication and response hardening over real HTTP: the real app on port 0 (startApp), and
// the real composition from configuration (startService: loadConfig -> createService) for the admin
// endpoint and its own tokens.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CapturedLog, startApp, type RunningApp } from '../support/app.js';
import { loadFixture } from '../support/fixtures.js';
import { startService, type RunningService } from '../support/service.js';
import { until } from '../support/until.js';

const OLD_TOKEN = 'rotated-out-token-0a1b2c3d4e5f';
const NEW_TOKEN = 'current-token-9f8e7d6c5b4a3210';
const NEXT_TOKEN = 'next-token-1122334455667788';
const ADMIN_TOKEN = 'admin-token-aabbccddeeff0011';
const UNAUTHORIZED = { error: { code: 'UNAUTHORIZED', message: 'a valid bearer token is required' } };

const HARDENING: Record<string, string | RegExp> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': /default-src 'none'/,
  'referrer-policy': 'no-referrer',
};

/** voice-e164.json as a new contact. */
function voiceEvent(): Record<string, unknown> {
  const event = loadFixture('voice-e164.json') as { Details: { ContactData: Record<string, unknown> } };
  const id = randomUUID();
  event.Details.ContactData.ContactId = id;
  event.Details.ContactData.InitialContactId = id;
  return event;
}

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

async function post(url: string, path: string, authorization: string | undefined, body: unknown = voiceEvent()): Promise<Answer> {
  const headers = new Headers({ 'content-type': 'application/json' });
  if (authorization !== undefined) headers.set('authorization', authorization);
  const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('bearer authentication', () => {
  describe('during a rotation (tokens [old, new] configured)', () => {
    let app: RunningApp;
    before(async () => {
      app = await startApp({ authTokens: [OLD_TOKEN, NEW_TOKEN] });
    });
    after(async () => {
      await app.stop();
    });

    for (const [what, header] of [
      ['the old token', `Bearer ${OLD_TOKEN}`],
      ['the new token', `Bearer ${NEW_TOKEN}`],
      ['the scheme in lower case ("bearer", case-insensitive per RFC 9110 11.1)', `bearer ${NEW_TOKEN}`],
      ['the scheme in upper case', `BEARER ${OLD_TOKEN}`],
      ['two spaces after the scheme (RFC 6750: "Bearer" 1*SP b64token)', `Bearer  ${NEW_TOKEN}`],
    ] as const) {
      it(`when the request presents ${what}, answers 200`, async () => {
        // Act
        const res = await post(app.url, '/v1/resolve', header);

        // Assert
        expect(res.status, res.text).to.equal(200);
        expect((JSON.parse(res.text) as Record<string, string>).customerStatus).to.be.a('string');
      });
    }
  });

  describe('refusals (tokens [new, next] configured; the old one rotated out)', () => {
    let app: RunningApp;
    before(async () => {
      app = await startApp({ authTokens: [NEW_TOKEN, NEXT_TOKEN] });
    });
    after(async () => {
      await app.stop();
    });

    const basic = Buffer.from(`resolver:${NEW_TOKEN}`).toString('base64');
    const refused: Array<[string, string | undefined]> = [
      ['no Authorization header', undefined],
      ['an empty Authorization header', ''],
      ['the scheme alone', 'Bearer'],
      ['the token without a scheme', NEW_TOKEN],
      ['Basic credentials holding the right token', `Basic ${basic}`],
      ['the right token under another scheme', `Token ${NEW_TOKEN}`],
      ['no space between scheme and token', `Bearer${NEW_TOKEN}`],
      ['a token followed by a second word', `Bearer ${NEW_TOKEN} extra`],
      ['a space inside the token', `Bearer ${NEW_TOKEN.slice(0, 8)} ${NEW_TOKEN.slice(8)}`],
      ['two bearer credentials in one header', `Bearer ${NEW_TOKEN}, Bearer ${NEXT_TOKEN}`],
      ['the token in quotes', `Bearer "${NEW_TOKEN}"`],
      ['a wrong token', 'Bearer wrong-token-000000000000'],
      ['the right token with a character appended', `Bearer ${NEW_TOKEN}x`],
      ['a prefix of the right token', `Bearer ${NEW_TOKEN.slice(0, -1)}`],
      ['the right token in another case (tokens are case-sensitive)', `Bearer ${NEW_TOKEN.toUpperCase()}`],
      ['an old token rotated out', `Bearer ${OLD_TOKEN}`],
      ['both configured tokens concatenated', `Bearer ${NEW_TOKEN}${NEXT_TOKEN}`],
    ];

    for (const [what, header] of refused) {
      it(`when the request presents ${what}, answers 401 UNAUTHORIZED with the one fixed body`, async () => {
        // Act
        const res = await post(app.url, '/v1/resolve', header);

        // Assert
        expect(res.status).to.equal(401);
        expect(res.headers.get('content-type')).to.match(/^application\/json\b/);
        expect(JSON.parse(res.text)).to.deep.equal(UNAUTHORIZED);
      });
    }

    it('when refused for any reason, the 401 bodies are byte-for-byte identical (nothing tells a caller what was wrong)', async () => {
      // Act
      const bodies = new Set<string>();
      for (const [, header] of refused) bodies.add((await post(app.url, '/v1/resolve', header)).text);

      // Assert
      expect([...bodies]).to.have.length(1);
    });

    it('when a token is presented, neither the 401 body nor any log line contains it', async () => {
      // Arrange
      const presented = [OLD_TOKEN, 'wrong-token-000000000000', NEW_TOKEN.toUpperCase(), `${NEW_TOKEN}x`];

      // Act
      for (const token of presented) {
        const res = await post(app.url, '/v1/resolve', `Bearer ${token}`);
        expect(res.status).to.equal(401);
        expect(res.text).to.not.include(token);
      }
      const ok = await post(app.url, '/v1/resolve', `Bearer ${NEW_TOKEN}`);

      // Assert
      expect(ok.status).to.equal(200);
      expect(app.log.lines.length).to.be.above(presented.length);
      const logged = app.log.text();
      for (const token of [...presented, NEW_TOKEN, NEXT_TOKEN]) expect(logged).to.not.include(token);
      // the 401 lines carry their reason, the fixed message of the body; nothing else says "bearer"
      expect(logged).to.include(`"reason":"${UNAUTHORIZED.error.message}"`);
      expect(logged.toLowerCase().replaceAll(UNAUTHORIZED.error.message, '')).to.not.include('bearer');
    });

    it('when an unauthenticated request carries an oversized or malformed body, answers 401 before reading it (not 413 or 400)', async () => {
      // Act
      const big = await post(app.url, '/v1/resolve', undefined, { pad: 'x'.repeat(70_000) });
      const bad = await fetch(`${app.url}/v1/resolve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });

      // Assert
      expect(big.status).to.equal(401);
      expect(bad.status).to.equal(401);
      expect(await bad.json()).to.deep.equal(UNAUTHORIZED);
    });

    it('when a request is refused, logs one request line with status 401 and no ContactId (the body was never read)', async () => {
      // Arrange
      const before = app.log.lines.length;

      // Act
      await post(app.url, '/v1/resolve', 'Bearer wrong-token-000000000000');
      await until('the request line', () => app.log.lines.length > before);

      // Assert
      const lines = app.log.lines.slice(before);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include({ status: 401, route: '/v1/resolve' });
      expect(lines[0]).to.not.have.property('contactId');
    });
  });

  describe('the token comparison in src/http/auth.ts (read as text)', () => {
    // Timing cannot be measured reliably in a unit test (scheduler and GC noise dwarf a byte-wise
    // compare), so the constant-time property is checked on the source: SHA-256 digests of equal
    // length compared with timingSafeEqual against every token, no early exit, no string equality.
    const source = readFileSync(fileURLToPath(new URL('../../src/http/auth.ts', import.meta.url)), 'utf8');
    const code = source
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '')
      .replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '""');

    it('compares fixed-length SHA-256 digests with crypto.timingSafeEqual (timing cannot be measured reliably in a unit test, so the source is checked)', () => {
      expect(code).to.match(/import\s*\{[^}]*\btimingSafeEqual\b[^}]*\}\s*from\s*""/);
      expect(source).to.match(/\bhash\(\s*'sha256'\s*,\s*\w+\s*,\s*'buffer'\s*\)/);
      expect(code).to.match(/timingSafeEqual\(\s*\w+\s*,\s*\w+\s*\)/);
      // both sides are digests: the presented token is hashed, and so is every configured one
      expect(code).to.match(/tokens\.map\(\s*digest\s*\)/);
      expect(code).to.match(/digest\(\s*presented\s*\)/);
    });

    it('never compares tokens with ===, ==, !==, includes, indexOf, startsWith, Set.has or localeCompare (these return early on the first differing byte)', () => {
      for (const banned of [/[!=]==?/, /\.includes\(/, /\.indexOf\(/, /\.startsWith\(/, /\.endsWith\(/, /\.has\(/, /\.some\(/, /\.find\(/, /localeCompare/, /Buffer\.compare|\.equals\(/]) {
        expect(code, String(banned)).to.not.match(banned);
      }
    });

    it('checks every configured token without stopping at the first match (no break, return or short-circuit before timingSafeEqual)', () => {
      const loop = /for\s*\(\s*const\s+\w+\s+of\s+expected\s*\)\s*([^;]+);/.exec(code);
      expect(loop, 'a for-of loop over the expected digests').to.not.equal(null);
      // `ok = timingSafeEqual(...) || ok`: the compare runs first, every time
      expect(loop![1]).to.match(/^\w+\s*=\s*timingSafeEqual\([^)]*\)\s*\|\|\s*\w+\s*$/);
      expect(code).to.not.match(/\bbreak\b/);
    });
  });
});

describe('admin endpoint /v1/admin/erase (configured through loadConfig and createService)', () => {
  let service: RunningService;
  let log: CapturedLog;
  before(async () => {
    log = new CapturedLog();
    service = await startService({ AUTH_TOKENS: `${NEW_TOKEN},${NEXT_TOKEN}`, ADMIN_TOKENS: ADMIN_TOKEN }, log);
  });
  after(async () => {
    await service.stop();
  });

  it('when the admin token is presented, erases the caller and answers 200', async () => {
    // Act
    const res = await post(service.url, '/v1/admin/erase', `Bearer ${ADMIN_TOKEN}`, { phoneNumber: '+14255550123' });

    // Assert
    expect(res.status, res.text).to.equal(200);
    expect(JSON.parse(res.text)).to.include({ identityType: 'PHONE' });
  });

  for (const countryCode of ['UK', 'XX']) {
    it(`when the erasure names an unknown countryCode (${countryCode}), answers 400 naming it and erases nothing (not the default region's reading of the number)`, async () => {
      // Act
      const res = await post(service.url, '/v1/admin/erase', `Bearer ${ADMIN_TOKEN}`, { phoneNumber: '020 7946 0958', countryCode });

      // Assert
      expect(res.status, res.text).to.equal(400);
      const { error } = JSON.parse(res.text) as { error: { code: string; message: string } };
      expect(error.code).to.equal('INVALID_REQUEST');
      expect(error.message).to.match(/^countryCode: /);
    });
  }

  it('when the erasure gives a blank countryCode and a lower-case one, reads them as not given and as the region', async () => {
    // Act
    const blank = await post(service.url, '/v1/admin/erase', `Bearer ${ADMIN_TOKEN}`, { phoneNumber: '+14255550123', countryCode: ' ' });
    const lower = await post(service.url, '/v1/admin/erase', `Bearer ${ADMIN_TOKEN}`, { phoneNumber: '020 7946 0958', countryCode: ' gb ' });

    // Assert
    expect(blank.status, blank.text).to.equal(200);
    expect(lower.status, lower.text).to.equal(200);
    expect(JSON.parse(lower.text)).to.include({ identityType: 'PHONE' });
  });

  it('when a resolve token is presented to the admin endpoint, answers 401', async () => {
    // Act
    const res = await post(service.url, '/v1/admin/erase', `Bearer ${NEW_TOKEN}`, { phoneNumber: '+14255550123' });

    // Assert
    expect(res.status).to.equal(401);
    expect(JSON.parse(res.text)).to.deep.equal(UNAUTHORIZED);
  });

  it('when the admin token is presented to /v1/resolve, answers 401 (admin tokens do not resolve)', async () => {
    // Act
    const res = await post(service.url, '/v1/resolve', `Bearer ${ADMIN_TOKEN}`);

    // Assert
    expect(res.status).to.equal(401);
    expect(JSON.parse(res.text)).to.deep.equal(UNAUTHORIZED);
  });

  it('when no token is presented to the admin endpoint, answers 401 with the same body', async () => {
    // Act
    const res = await post(service.url, '/v1/admin/erase', undefined, { phoneNumber: '+14255550123' });

    // Assert
    expect(res.status).to.equal(401);
    expect(JSON.parse(res.text)).to.deep.equal(UNAUTHORIZED);
  });

  it('after those requests, no log line holds the admin or the resolve tokens', async () => {
    // Act: one more request; its line is logged after the lines of those before it
    const before = log.lines.length;
    await post(service.url, '/v1/admin/erase', `Bearer ${NEXT_TOKEN}`, { phoneNumber: '+14255550123' });
    await until('the last request line', () => log.lines.length > before);
    const logged = log.text();

    // Assert
    expect(log.lines.length).to.be.above(0);
    for (const token of [ADMIN_TOKEN, NEW_TOKEN, NEXT_TOKEN]) expect(logged).to.not.include(token);
  });

  describe('without ADMIN_TOKENS', () => {
    let plain: RunningService;
    before(async () => {
      plain = await startService({ AUTH_TOKENS: NEW_TOKEN });
    });
    after(async () => {
      await plain.stop();
    });

    it('answers 404 NOT_FOUND on /v1/admin/erase, whatever token is presented (the endpoint does not exist)', async () => {
      for (const header of [undefined, `Bearer ${ADMIN_TOKEN}`, `Bearer ${NEW_TOKEN}`]) {
        // Act
        const res = await post(plain.url, '/v1/admin/erase', header, { phoneNumber: '+14255550123' });

        // Assert
        expect(res.status, String(header)).to.equal(404);
        expect((JSON.parse(res.text) as { error: { code: string } }).error.code).to.equal('NOT_FOUND');
      }
    });
  });
});

describe('hardening headers', () => {
  let app: RunningApp;
  before(async () => {
    app = await startApp({ authTokens: [NEW_TOKEN] });
  });
  after(async () => {
    await app.stop();
  });

  const requests: Array<[string, number, (url: string) => Promise<Response>]> = [
    ['a 200 answer', 200, (url) => fetch(`${url}/v1/resolve`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${NEW_TOKEN}` }, body: JSON.stringify(voiceEvent()) })],
    ['GET /healthz', 200, (url) => fetch(`${url}/healthz`)],
    ['a 400 answer', 400, (url) => fetch(`${url}/v1/resolve`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${NEW_TOKEN}` }, body: '{"Details":1}' })],
    ['a 401 answer', 401, (url) => fetch(`${url}/v1/resolve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })],
    ['a 404 answer', 404, (url) => fetch(`${url}/no/such/route`)],
    ['a 413 answer', 413, (url) => fetch(`${url}/v1/resolve`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${NEW_TOKEN}` }, body: JSON.stringify({ pad: 'x'.repeat(70_000) }) })],
    ['a 415 answer', 415, (url) => fetch(`${url}/v1/resolve`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${NEW_TOKEN}` }, body: 'hello' })],
  ];

  for (const [what, status, send] of requests) {
    it(`on ${what}, sends Cache-Control no-store, nosniff, X-Frame-Options DENY, a Content-Security-Policy and Referrer-Policy, and no X-Powered-By`, async () => {
      // Act
      const res = await send(app.url);
      await res.arrayBuffer();

      // Assert
      expect(res.status).to.equal(status);
      for (const [name, value] of Object.entries(HARDENING)) {
        const actual = res.headers.get(name);
        expect(actual, name).to.be.a('string');
        if (typeof value === 'string') expect(actual, name).to.equal(value);
        else expect(actual, name).to.match(value);
      }
      expect(res.headers.has('x-powered-by')).to.equal(false);
    });
  }
});
