// Every 4xx says why where an operator looks: the request log line carries the error code, the field and
// the reason (never a value the caller sent), and cpr_refusals_total counts it by code. The real app on
// port 0 (buildApp, the resolver, the masking logger, the metrics), real fetch.
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startApp, TEST_TOKENS, type RunningApp } from '../support/app.js';
import { loadFixture } from '../support/fixtures.js';
import { until } from '../support/until.js';

type Line = Record<string, unknown>;
interface VoiceEvent {
  Name?: unknown;
  Details: { ContactData: Record<string, unknown> & { CustomerEndpoint: Record<string, unknown> }; Parameters: Record<string, unknown> };
  [field: string]: unknown;
}

function voiceEvent(edit: (e: VoiceEvent) => void = () => {}): VoiceEvent {
  const event = loadFixture('voice-e164.json') as VoiceEvent;
  event.Details.ContactData.ContactId = randomUUID();
  edit(event);
  return event;
}

/** The count of cpr_refusals_total{code} in the app's own registry (0 when it has no such series). */
async function refusals(app: RunningApp, code: string): Promise<number> {
  const metric = app.metrics.registry.getSingleMetric('cpr_refusals_total');
  if (!metric) return 0;
  const { values } = (await metric.get()) as { values: Array<{ labels: Record<string, unknown>; value: number }> };
  return values.find((v) => v.labels.code === code)?.value ?? 0;
}

describe('HTTP refusals: the log line and the metric of every 4xx', function () {
  let app: RunningApp;
  beforeEach(async () => {
    app = await startApp();
  });
  afterEach(() => app.stop());

  /** Sends one request and returns its status, its body and its request log line. */
  async function send(path: string, init: RequestInit): Promise<{ status: number; body: string; line: Line }> {
    const before = app.log.lines.length;
    const res = await fetch(`${app.url}${path}`, init);
    const body = await res.text();
    await until('the request log line', () => app.log.lines.slice(before).some((l) => l.status === res.status));
    return { status: res.status, body, line: app.log.lines.slice(before).find((l) => l.status === res.status)! };
  }
  const json = { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKENS[0]}` };

  const cases: Array<{ what: string; path?: string; init: () => RequestInit; status: number; code: string; field?: string; reason: RegExp }> = [
    {
      what: 'a 400 for an event without a ContactId',
      init: () => ({ method: 'POST', headers: json, body: JSON.stringify(voiceEvent((e) => delete e.Details.ContactData.ContactId)) }),
      status: 400,
      code: 'INVALID_EVENT',
      field: 'Details.ContactData.ContactId',
      reason: /^Details\.ContactData\.ContactId: is required$/,
    },
    {
      what: 'a 400 for a body that is not JSON',
      init: () => ({ method: 'POST', headers: json, body: '{"Details": ' }),
      status: 400,
      code: 'INVALID_EVENT',
      reason: /is not a JSON object/,
    },
    {
      what: 'a 401 for an unknown token',
      init: () => ({ method: 'POST', headers: { ...json, authorization: 'Bearer not-a-configured-token-0123' }, body: JSON.stringify(voiceEvent()) }),
      status: 401,
      code: 'UNAUTHORIZED',
      reason: /bearer token is required/,
    },
    {
      what: 'a 413 for a body over 64 KB',
      init: () => ({ method: 'POST', headers: json, body: JSON.stringify(voiceEvent((e) => (e.padding = ['x'.repeat(30_000), 'y'.repeat(30_000), 'z'.repeat(30_000)]))) }),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      reason: /larger than 64 KB/,
    },
    {
      what: 'a 415 for a body of another type',
      init: () => ({ method: 'POST', headers: { ...json, 'content-type': 'text/plain' }, body: JSON.stringify(voiceEvent()) }),
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      reason: /must be application\/json/,
    },
    {
      what: 'a 404 for an unknown route',
      path: '/v2/nothing-here',
      init: () => ({ method: 'GET' }),
      status: 404,
      code: 'NOT_FOUND',
      reason: /no route for GET \/v2\/nothing-here/,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: the request log line (warn) carries the code, the field and the reason, and cpr_refusals_total{code="${c.code}"} counts it`, async () => {
      const counted = await refusals(app, c.code);

      const { status, body, line } = await send(c.path ?? '/v1/resolve', c.init());

      expect(status, body).to.equal(c.status);
      expect(line).to.include({ level: 40, msg: 'request refused', code: c.code });
      expect(line.reason).to.be.a('string').and.match(c.reason);
      expect(line.reason, 'the reason is the message of the body').to.equal((JSON.parse(body) as { error: { message: string } }).error.message);
      if (c.field) expect(line.field).to.equal(c.field);
      expect(await refusals(app, c.code)).to.equal(counted + 1);
    });
  }

  it('a 200 counts no refusal and its line says no code', async () => {
    const { status, line } = await send('/v1/resolve', { method: 'POST', headers: json, body: JSON.stringify(voiceEvent()) });

    expect(status).to.equal(200);
    expect(line).to.include({ level: 30, msg: 'request' });
    expect(line).not.to.have.any.keys('code', 'reason');
    for (const code of ['INVALID_EVENT', 'UNAUTHORIZED', 'NOT_FOUND']) expect(await refusals(app, code)).to.equal(0);
  });

  it('counts a refusal under a code of a closed set: the metric has a series for every known code from the start, and no other', async () => {
    const exposition = await app.metrics.registry.getSingleMetricAsString('cpr_refusals_total');
    const codes = [...exposition.matchAll(/cpr_refusals_total\{code="([^"]+)"\}/g)].map((m) => m[1]);

    expect(codes).to.have.members(['INVALID_EVENT', 'INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'OTHER']);
  });

  // A value the flow sent, wherever it is malformed: neither the answer nor the log line may quote it
  // (the message names the field, never its content).
  const SENTINEL = 'Zq7Sentinel';
  const badValues: Array<[string, (e: VoiceEvent) => void]> = [
    ['ContactId', (e) => (e.Details.ContactData.ContactId = `${SENTINEL}/..`)],
    ['CustomerEndpoint.Address', (e) => (e.Details.ContactData.CustomerEndpoint.Address = SENTINEL.repeat(100))],
    ['countryCode', (e) => (e.Details.Parameters.countryCode = SENTINEL)],
    ['createProfile', (e) => (e.Details.Parameters.createProfile = SENTINEL)],
    ['profileId', (e) => (e.Details.Parameters.profileId = SENTINEL)],
    ['searchKey', (e) => Object.assign(e.Details.Parameters, { searchKey: `${SENTINEL} !`, searchValue: 'x' })],
    ['searchValue without searchKey', (e) => (e.Details.Parameters.searchValue = SENTINEL)],
    ['matchMode', (e) => (e.Details.Parameters.matchMode = SENTINEL)],
    ['operation', (e) => (e.Details.Parameters.operation = SENTINEL)],
    ['accountNumber', (e) => (e.Details.Parameters.accountNumber = SENTINEL.repeat(30))],
    ['phoneNumber', (e) => (e.Details.Parameters.phoneNumber = SENTINEL.repeat(30))],
    ['emailAddress', (e) => (e.Details.Parameters.emailAddress = SENTINEL.repeat(60))],
    ['profile.BirthDate', (e) => Object.assign(e.Details.Parameters, { operation: 'update', 'profile.BirthDate': SENTINEL })],
    ['profile.EmailAddress', (e) => Object.assign(e.Details.Parameters, { operation: 'update', 'profile.EmailAddress': SENTINEL })],
    ['profile.MobilePhoneNumber', (e) => Object.assign(e.Details.Parameters, { operation: 'update', 'profile.MobilePhoneNumber': SENTINEL })],
    ['profile.FirstName over 255 characters', (e) => Object.assign(e.Details.Parameters, { operation: 'update', 'profile.FirstName': SENTINEL.repeat(30) })],
    ['profile.FirstName without operation update', (e) => (e.Details.Parameters['profile.FirstName'] = SENTINEL)],
  ];
  // What the service only carries or ignores is read loosely (Connect adds fields and values over
  // time): not a refusal, and nothing of it in the log line either.
  const looseValues: Array<[string, (e: VoiceEvent) => void]> = [
    ['Name', (e) => (e.Name = SENTINEL)],
    ['Channel', (e) => (e.Details.ContactData.Channel = SENTINEL)],
    ['an attribute value that is not a string', (e) => (e.Details.ContactData.Attributes = { note: 7, other: SENTINEL })],
  ];
  it(`when a field the service only carries is unexpected (${looseValues.map(([what]) => what).join(', ')}), answers 200, counts no refusal and logs none of it`, async () => {
    for (const [what, edit] of looseValues) {
      const counted = await refusals(app, 'INVALID_EVENT');
      const { status, body, line } = await send('/v1/resolve', { method: 'POST', headers: json, body: JSON.stringify(voiceEvent(edit)) });

      expect(status, `${what}: ${body}`).to.equal(200);
      expect(await refusals(app, 'INVALID_EVENT'), what).to.equal(counted);
      expect(JSON.stringify(line).toLowerCase(), `${what}: the log line`).not.to.include(SENTINEL.toLowerCase());
    }
  });

  it(`when a value is malformed (${badValues.map(([what]) => what).join(', ')}), the 400 and its log line name the field and never quote the value`, async () => {
    for (const [what, edit] of badValues) {
      const { status, body, line } = await send('/v1/resolve', { method: 'POST', headers: json, body: JSON.stringify(voiceEvent(edit)) });

      expect(status, `${what}: ${body}`).to.equal(400);
      expect(line, what).to.include({ code: 'INVALID_EVENT' });
      expect(line.field, what).to.be.a('string').and.not.equal('');
      expect(body.toLowerCase(), `${what}: the answer`).not.to.include(SENTINEL.toLowerCase());
      expect(JSON.stringify(line).toLowerCase(), `${what}: the log line`).not.to.include(SENTINEL.toLowerCase());
    }
  });
});
