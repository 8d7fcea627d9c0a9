// Property-based tests of POST /v1/resolve over real HTTP (the real app on port 0, real fetch), and
// of the logger's masking: no generated request gets a 5xx, every error has the contract's shape,
// every answer is a flat string map, and no phone number or e-mail address sent reaches a log line
// in clear.
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import { getCountries, getExampleNumber, type CountryCode } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/mobile/examples';
import { normaliseEmail, normalisePhone } from '../../src/domain/identity.js';
import { createLogger } from '../../src/ops/logger.js';
import { CapturedLog, startApp, TEST_TOKENS, type RunningApp } from '../support/app.js';
import { fixtureNames, loadFixture } from '../support/fixtures.js';
import { until } from '../support/until.js';

const HTTP_RUNS = 600;

// contract.md: the 4xx codes and the status each comes with
const ERROR_STATUS: Record<string, number> = {
  INVALID_EVENT: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
};

const FIXTURES = fixtureNames();
const EXAMPLE_NUMBERS = getCountries().flatMap((country) => {
  const n = getExampleNumber(country, examples);
  return n ? [{ country, e164: n.number, national: n.formatNational(), international: n.formatInternational() }] : [];
});

// ---------------------------------------------------------------------------------------------
// Identities, and where an event carries them

interface GeneratedIdentity {
  kind: 'PHONE' | 'EMAIL';
  /** as sent */
  raw: string;
  /** the flow's countryCode for a national spelling */
  country?: CountryCode;
}

const phone: fc.Arbitrary<GeneratedIdentity> = fc.oneof(
  fc
    .record({ n: fc.constantFrom(...EXAMPLE_NUMBERS), style: fc.constantFrom('e164', 'international', 'national') })
    .map(({ n, style }) =>
      style === 'national'
        ? { kind: 'PHONE' as const, raw: n.national, country: n.country }
        : { kind: 'PHONE' as const, raw: style === 'e164' ? n.e164 : n.international },
    ),
  // US numbers in the 555-01xx fictional range, spelled the ways a PBX sends them
  fc
    .tuple(fc.constantFrom('206', '425', '212', '646', '415'), fc.integer({ min: 100, max: 199 }), fc.constantFrom('+1AAA555NNNN', '(AAA) 555-NNNN', 'AAA.555.NNNN', '1-AAA-555-NNNN'))
    .map(([area, line, shape]) => ({ kind: 'PHONE' as const, raw: shape.replace('AAA', area).replace('NNNN', `0${line}`) })),
);

const email: fc.Arbitrary<GeneratedIdentity> = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9._-]{1,14}[a-z0-9]$/), fc.domain())
  .map(([local, domain]) => `${local}@${domain}`.replace(/\.\./g, '.'))
  .filter((address) => normaliseEmail(address) !== undefined)
  .chain((address) => fc.constantFrom(address, address.toUpperCase(), `  ${address} `).map((raw) => ({ kind: 'EMAIL' as const, raw })));

type Placement = 'endpoint' | 'parameter' | 'attribute' | 'elsewhere';

/** A fixture event (fresh ContactId) carrying the identity at the placement. */
function eventWith(fixture: string, identity: GeneratedIdentity, placement: Placement): Record<string, unknown> {
  const event = loadFixture(fixture) as {
    Details: { ContactData: Record<string, unknown> & { Attributes: Record<string, string>; Queue: Record<string, unknown> }; Parameters: Record<string, string> };
    [k: string]: unknown;
  };
  const data = event.Details.ContactData;
  const contactId = randomUUID();
  data.ContactId = contactId;
  data.InitialContactId = contactId;
  const phoneKind = identity.kind === 'PHONE';
  if (identity.country) event.Details.Parameters.countryCode = identity.country;
  switch (placement) {
    case 'endpoint':
      data.Channel = phoneKind ? 'VOICE' : 'EMAIL';
      data.CustomerEndpoint = { Address: identity.raw, Type: phoneKind ? 'TELEPHONE_NUMBER' : 'EMAIL_ADDRESS' };
      break;
    case 'parameter':
      event.Details.Parameters[phoneKind ? 'phoneNumber' : 'emailAddress'] = identity.raw;
      break;
    case 'attribute':
      data.CustomerEndpoint = null;
      data.Attributes = { ...data.Attributes, [phoneKind ? 'phoneNumber' : 'email']: identity.raw };
      break;
    case 'elsewhere':
      // fields the service reads but does not treat as the caller's identity
      data.Queue = { ...data.Queue, Name: identity.raw };
      data.Attributes = { ...data.Attributes, note: `call back ${identity.raw}` };
      data.InitiationMethod = identity.raw.slice(0, 64);
      event.Comment = identity.raw;
      break;
  }
  return event;
}

/** The spellings of an identity that must never appear in a log line. */
function clearForms(identity: GeneratedIdentity): string[] {
  const forms = new Set<string>();
  if (identity.kind === 'EMAIL') {
    forms.add(identity.raw.trim().toLowerCase());
    const n = normaliseEmail(identity.raw);
    if (n) forms.add(n.address);
  } else {
    const n = normalisePhone(identity.raw, identity.country ?? 'US');
    const digits = identity.raw.replace(/\D/g, '');
    // short digit runs also occur in times and ids: only runs long enough to be unambiguous
    if (digits.length >= 9) forms.add(digits);
    if (n) {
      forms.add(n.e164);
      if (n.e164.length >= 10) forms.add(n.e164.slice(1));
      for (const v of n.searchValues) if (v.replace(/\D/g, '').length >= 9) forms.add(v);
    }
  }
  return [...forms];
}

// ---------------------------------------------------------------------------------------------
// Requests

const printable = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength }).map((s) => s.trim());

/** A few blind mutations of a fixture: drop, null or retype a field somewhere. */
const mutatedFixture = fc
  .record({
    fixture: fc.constantFrom(...FIXTURES),
    // the values as JSON text, so no run shares (and edits) an object with another
    edits: fc.array(fc.tuple(fc.nat(), fc.constantFrom('undefined', 'null', '0', '""', '[]', '{}', JSON.stringify('x'.repeat(3000)), 'true', '"+14255550123"', '-1')), { maxLength: 4 }),
  })
  .map(({ fixture, edits }) => {
    const event = loadFixture(fixture);
    for (const [at, json] of edits) {
      const slots: Array<[Record<string, unknown>, string]> = [];
      const walk = (o: unknown): void => {
        if (o === null || typeof o !== 'object' || Array.isArray(o)) return;
        for (const [k, v] of Object.entries(o)) {
          slots.push([o as Record<string, unknown>, k]);
          walk(v);
        }
      };
      walk(event);
      if (slots.length === 0) break;
      const [parent, key] = slots[at % slots.length]!;
      if (json === 'undefined') delete parent[key];
      else parent[key] = JSON.parse(json) as unknown;
    }
    return JSON.stringify(event);
  });

interface BodySpec {
  identities: GeneratedIdentity[];
  body: string | Uint8Array | undefined;
}
const noIdentity = (b: string | Uint8Array | undefined): BodySpec => ({ identities: [], body: b });

const body: fc.Arbitrary<BodySpec> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        fixture: fc.constantFrom(...FIXTURES),
        identity: fc.oneof(phone, email),
        placement: fc.constantFrom<Placement>('endpoint', 'parameter', 'attribute', 'elsewhere'),
        second: fc.option(fc.record({ identity: fc.oneof(phone, email), placement: fc.constantFrom<Placement>('attribute', 'elsewhere') }), { nil: undefined }),
      })
      .map(({ fixture, identity, placement, second }) => {
        const event = eventWith(fixture, identity, placement) as { Details: { ContactData: { Attributes: Record<string, string> } } };
        const identities = [identity];
        if (second) {
          // a second identity in the same event's attributes (both must stay out of the logs)
          const extra = eventWith(fixture, second.identity, second.placement) as typeof event;
          const data = event.Details.ContactData;
          data.Attributes = { ...extra.Details.ContactData.Attributes, ...data.Attributes };
          identities.push(second.identity);
        }
        return { identities, body: JSON.stringify(event) } satisfies BodySpec;
      }),
  },
  { weight: 2, arbitrary: mutatedFixture.map(noIdentity) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => noIdentity(JSON.stringify(v))) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }).map(noIdentity) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map(noIdentity) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '',
        'null',
        '[]',
        '{}',
        '{"Details":',
        '{"__proto__":{"polluted":"yes"}}',
        `{"a":"${'x'.repeat(70_000)}"}`, // over 64 KB
        `{"a":"${'x'.repeat(33_000)}"}`, // one string over 32 KB
        `${'['.repeat(40)}${']'.repeat(40)}`, // deeper than 32
        `${'{"a":'.repeat(20)}1${'}'.repeat(20)}`,
        '\ufeff{}',
      )
      .map(noIdentity),
  },
  { weight: 1, arbitrary: fc.constant(noIdentity(undefined)) },
);

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | undefined>('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom<string | undefined>(
      undefined,
      'application/json; charset=utf-8',
      'application/json; charset=UTF-8',
      'Application/JSON',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/json; charset="',
      'application/json;;;',
      'application/*',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/vnd.api+json',
      '',
      '/',
    ),
  },
  { weight: 1, arbitrary: printable(60) },
);

const deadline = fc.oneof(
  fc.constant<string | undefined>(undefined),
  fc.constantFrom('0', '-1', '1', '5', '50', '2000', '999999999', '1000000000', '99999999999', '1e3', '0x10', ' 15 ', 'NaN', 'Infinity', 'abc', '1.5', '+10', '10ms'),
  printable(40),
  fc.integer({ min: 1000, max: 6000 }).map((n) => '9'.repeat(n)), // huge, within Node's 16 KB header limit
);

const authorization = fc.oneof(
  { weight: 10, arbitrary: fc.constant<string | undefined>(`Bearer ${TEST_TOKENS[0]}`) },
  { weight: 2, arbitrary: fc.constant<string | undefined>(`bearer ${TEST_TOKENS[1]}`) },
  { weight: 3, arbitrary: fc.constantFrom<string | undefined>(undefined, '', 'Bearer', `Basic ${TEST_TOKENS[0]}`, TEST_TOKENS[0], 'Bearer wrong-token-0000000000') },
  { weight: 1, arbitrary: printable(100) },
);

const extraHeader = fc.option(fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), printable(6000)), { nil: undefined });
const encoding = fc.oneof(
  { weight: 10, arbitrary: fc.constant<string | undefined>(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('gzip', 'gzip-valid', 'identity', 'br', 'deflate', 'compress', 'x-unknown', 'gzip, identity') },
);
const path = fc.oneof(
  { weight: 12, arbitrary: fc.constant('/v1/resolve') },
  { weight: 1, arbitrary: fc.constantFrom('/v1/resolve/', '/V1/Resolve', '/v1/resolve?x=1&x=2', '/v1/resolve?__proto__[a]=1', '/v1/resolves', '/v1//resolve', '/v1/resolve%00') },
);

const request = fc.record({ body, contentType, deadline, authorization, extraHeader, encoding, path });
type RequestSpec = typeof request extends fc.Arbitrary<infer T> ? T : never;
const RIGHT_AUTHORIZATION = [`Bearer ${TEST_TOKENS[0]}`, `bearer ${TEST_TOKENS[1]}`];

interface Outcome {
  status: number;
  text: string;
  contentType: string | null;
}

async function send(app: RunningApp, r: RequestSpec): Promise<Outcome> {
  const headers = new Headers();
  if (r.contentType !== undefined) headers.set('content-type', r.contentType);
  if (r.deadline !== undefined) headers.set('x-deadline-ms', r.deadline);
  if (r.authorization !== undefined) headers.set('authorization', r.authorization);
  if (r.extraHeader) headers.set(r.extraHeader[0], r.extraHeader[1]);
  let payload: string | Uint8Array | undefined = r.body.body;
  if (r.encoding !== undefined) {
    headers.set('content-encoding', r.encoding === 'gzip-valid' ? 'gzip' : r.encoding);
    if (r.encoding === 'gzip-valid' && payload !== undefined) payload = new Uint8Array(gzipSync(payload));
  }
  const res = await fetch(`${app.url}${r.path}`, { method: 'POST', headers, ...(payload === undefined ? {} : { body: payload }) });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') };
}

function expectContractResponse(o: Outcome): void {
  expect(o.status, o.text).to.be.oneOf([200, 400, 401, 404, 413, 415]);
  expect(o.contentType).to.match(/^application\/json\b/);
  const parsed = JSON.parse(o.text) as unknown;
  expect(parsed).to.be.an('object').and.not.be.an('array');
  if (o.status === 200) {
    expect(Buffer.byteLength(o.text)).to.be.below(32 * 1024);
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) expect(value, `answer key ${key}`).to.be.a('string');
    return;
  }
  const { error } = parsed as { error: { code: unknown; message: unknown } };
  expect(parsed).to.have.all.keys('error');
  expect(error).to.have.all.keys('code', 'message');
  expect(error.code).to.be.oneOf(Object.keys(ERROR_STATUS));
  expect(ERROR_STATUS[error.code as string], `status of ${String(error.code)}`).to.equal(o.status);
  expect(error.message).to.be.a('string');
  expect(error.message).to.not.match(/\n\s+at |node_modules|\.ts:\d+/);
}

describe('POST /v1/resolve over HTTP (property-based)', function () {
  this.timeout(60_000);
  let app: RunningApp;
  // the identities the fixture events carry (callers, system endpoints, outbound caller ids) are sent too
  const sent: GeneratedIdentity[] = [
    ...['+14255550123', '4255550123', '+442079460958', '(425) 555-0199', '+18005550100'].map((raw) => ({ kind: 'PHONE' as const, raw })),
    ...['Jane.Doe@Example.COM', 'ravi.k@example.org', 'support@example.com'].map((raw) => ({ kind: 'EMAIL' as const, raw })),
  ];
  const statuses = new Map<number, number>();
  let requests = 0;

  before(async () => {
    app = await startApp();
  });
  after(async () => {
    await app.stop();
  });

  it(`for ${HTTP_RUNS} generated requests (mutated fixture events, random bodies, content types, encodings, auth, X-Deadline-Ms garbage, huge header values), answers 200 or a contract 4xx: never a 5xx`, async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        sent.push(...r.body.identities);
        requests += 1;
        const outcome = await send(app, r);
        statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
        expectContractResponse(outcome);
        // an event with a right token and JSON content type is always answered (not refused)
        const wellFormed = r.body.identities.length > 0 && r.path === '/v1/resolve' && r.contentType === 'application/json' && r.encoding === undefined;
        if (wellFormed && RIGHT_AUTHORIZATION.includes(r.authorization ?? '')) {
          expect(outcome.status, outcome.text).to.equal(200);
        }
      }),
      { numRuns: HTTP_RUNS },
    );
    // the generators reach both the use case and the refusals, not only one of them
    const tally = JSON.stringify([...statuses].sort());
    expect(statuses.get(200) ?? 0, tally).to.be.at.least(HTTP_RUNS / 8);
    for (const status of [400, 401, 415]) expect(statuses.get(status) ?? 0, `${status} in ${tally}`).to.be.above(0);
  });

  it('after those requests, no log line holds any phone number or e-mail address that was sent, in clear', async () => {
    // the request log line is written when the response has gone; let the last one land
    await until('one log line per request', () => app.log.lines.length >= requests);
    expect(requests, 'requests sent by the previous test').to.be.at.least(HTTP_RUNS);
    expect(sent.length, 'identities generated').to.be.above(HTTP_RUNS / 4);
    expect(app.log.lines.length, 'one log line per request').to.be.at.least(requests);
    const masked = app.log.lines.filter((l) => typeof l.identity === 'string').length;
    expect(masked, 'log lines with a (masked) identity').to.be.above(0);
    const text = app.log.text();
    const lower = text.toLowerCase();
    for (const identity of sent) {
      for (const form of clearForms(identity)) {
        if (!(identity.kind === 'EMAIL' ? lower : text).includes(form)) continue;
        const line = app.log.lines.find((l) => (identity.kind === 'EMAIL' ? JSON.stringify(l).toLowerCase() : JSON.stringify(l)).includes(form));
        expect.fail(`${identity.kind} ${JSON.stringify(identity.raw)} appears in clear as ${form} in ${JSON.stringify(line)}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The logger itself: createLogger promises that "no call site can leak one by accident".

const anyIdentity = fc.oneof(
  fc.constantFrom(...EXAMPLE_NUMBERS).map((n) => ({ kind: 'PHONE' as const, raw: n.e164 })),
  fc.constantFrom(...EXAMPLE_NUMBERS).map((n) => ({ kind: 'PHONE' as const, raw: n.international })),
  email.map((e) => ({ kind: 'EMAIL' as const, raw: e.raw.trim() })),
);

function capture(): { log: CapturedLog; logger: ReturnType<typeof createLogger> } {
  const log = new CapturedLog();
  return { log, logger: createLogger('info', log) };
}

function expectMasked(log: CapturedLog, identity: GeneratedIdentity): void {
  expect(log.lines.length, 'a line was logged').to.be.above(0);
  const text = identity.kind === 'EMAIL' ? log.text().toLowerCase() : log.text();
  for (const form of clearForms(identity)) expect(text.includes(form), `${form} in clear in ${log.text()}`).to.equal(false);
}

type CallShape = (logger: ReturnType<typeof createLogger>, x: string) => void;

describe('createLogger masking (property-based)', () => {
  const masked: Array<[string, CallShape]> = [
    ['a field', (l, x) => l.info({ caller: x }, 'resolved')],
    ['the message', (l, x) => l.info(`caller ${x} resolved`)],
    ['the message beside fields', (l, x) => l.warn({ contactId: 'c-1' }, `caller ${x} resolved`)],
    ['a %s argument', (l, x) => l.info('caller %s resolved', x)],
    ['an Error under err with a message', (l, x) => l.error({ err: new Error(`lookup of ${x} failed`) }, 'lookup failed')],
    ['a field three levels deep', (l, x) => l.info({ a: { b: { c: x } } }, 'nested')],
    ['an array field', (l, x) => l.info({ callers: [x, x] }, 'batch')],
    ['an Error field under another name', (l, x) => l.info({ cause: new Error(`no profile for ${x}`) }, 'miss')],
  ];
  for (const [where, call] of masked) {
    it(`when an identity is logged in ${where}, the line holds it masked only`, () => {
      fc.assert(
        fc.property(anyIdentity, (identity) => {
          const { log, logger } = capture();
          call(logger, identity.raw);
          expectMasked(log, identity);
        }),
        { numRuns: 150 },
      );
    });
  }

  // Shapes pino derives text from without passing it through the masking (formatters.log sees only the
  // merged object; the logMethod hook masks only string arguments).
  const leaking: Array<[string, CallShape]> = [
    ['an Error passed as the first argument (pino copies err.message into msg)', (l, x) => l.error(new Error(`lookup of ${x} failed`))],
    ['an Error under err with no message (pino copies err.message into msg)', (l, x) => l.error({ err: new Error(`lookup of ${x} failed`) })],
    ['a field nested deeper than 6 levels (maskDeep stops at depth 6 and returns the rest as it is)', (l, x) => l.info({ a: { b: { c: { d: { e: { f: { g: { caller: x } } } } } } } }, 'deep')],
    ['an object interpolated with %j or %o', (l, x) => l.info('resolved %j', { caller: x })],
    ['a child logger binding', (l, x) => l.child({ caller: x }).info('resolved')],
  ];
  for (const [where, call] of leaking) {
    it(`when an identity is logged through ${where}, the line holds it masked only`, () => {
      fc.assert(
        fc.property(anyIdentity, (identity) => {
          const { log, logger } = capture();
          call(logger, identity.raw);
          expectMasked(log, identity);
        }),
        { numRuns: 100 },
      );
    });
  }
});
