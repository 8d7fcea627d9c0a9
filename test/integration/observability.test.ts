import { expect } from 'chai';
import { Writable } from 'node:stream';
import { eventFrom } from '../support/fixtures.js';
import { ServiceProcess } from '../support/process.js';
import { sample } from '../support/prometheus.js';
import { postEvent, startService, type RunningService } from '../support/service.js';
import { useFakeAws } from '../support/fake-aws-hooks.js';
import { until } from '../support/until.js';

const DOMAIN = 'acme-contacts';
const KNOWN_PHONE = '+14255550187';
const NEW_PHONE = '+14255550188';
const FAILING_PHONE = '+14255550189';
const EMAIL = 'Private.Person@Example.ORG';
let n = 0;
const cid = () => `33333333-0000-4000-8000-${String(++n).padStart(12, '0')}`;

class Lines extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  raw = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.raw += chunk.toString();
    for (const l of chunk.toString().split('\n').filter(Boolean)) this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
}

describe('observability: metrics and logs of a running service', function () {
  this.timeout(30_000);
  const fake = useFakeAws({ domains: [DOMAIN] });
  const log = new Lines();
  let app: RunningService;
  const metrics = async () => (await fetch(`${app.metricsUrl}/metrics`)).text();

  before(async () => {
    fake.seedProfile({ PhoneNumber: KNOWN_PHONE, FirstName: 'Secretname', LastName: 'Hiddenlast' });
    app = await startService(
      { CUSTOMER_PROFILES_DOMAIN: DOMAIN, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url, RECORD_MAX_ATTEMPTS: '1', AUTH_TOKENS: 'observability-token-0123456789' },
      log,
    );
  });
  after(() => app.stop());
  const auth = { authorization: 'Bearer observability-token-0123456789' };

  it('moves the right metrics for KNOWN, NEW, UNAVAILABLE, a cache hit, an error, a queued record and a dead letter', async () => {
    const before = await metrics();
    const count = (text: string, name: string, labels: Record<string, string> = {}) => sample(text, name, labels) - sample(before, name, labels);

    const known = await postEvent(app.url, eventFrom('voice-e164.json', { address: KNOWN_PHONE, contactId: cid() }), auth);
    const hit = await postEvent(app.url, eventFrom('voice-e164.json', { address: KNOWN_PHONE, contactId: cid() }), auth);
    fake.fail({ status: 403, errorType: 'AccessDeniedException', operations: ['PutProfileObject'], times: 1 });
    const created = await postEvent(app.url, eventFrom('voice-e164.json', { address: NEW_PHONE, contactId: cid() }), auth);
    fake.fail({ status: 500, errorType: 'InternalServerException', operations: ['SearchProfiles'], times: 2 });
    const unavailable = await postEvent(app.url, eventFrom('voice-e164.json', { address: FAILING_PHONE, contactId: cid() }), auth);
    const refused = await postEvent(app.url, { not: 'an event' }, auth);
    const unauthorised = await postEvent(app.url, eventFrom('voice-e164.json', { contactId: cid() }));
    // the records are written (or dead-lettered) in the background, paced per profile
    let after = '';
    await until('two records written and one dead-lettered', async () => {
      after = await metrics();
      return count(after, 'cpr_record_jobs_total', { outcome: 'written' }) >= 2 && count(after, 'cpr_record_dead_letters_total') >= 1;
    });

    expect([known.body.customerStatus, hit.body.customerStatus, created.body.customerStatus, unavailable.body.customerStatus]).to.deep.equal(['KNOWN', 'KNOWN', 'NEW', 'UNAVAILABLE']);
    expect([refused.status, unauthorised.status]).to.deep.equal([400, 401]);
    const r = '/v1/resolve';
    expect(count(after, 'cpr_http_requests_total', { route: r, status: '200' })).to.equal(4);
    expect(count(after, 'cpr_http_requests_total', { route: r, status: '400' })).to.equal(1);
    expect(count(after, 'cpr_http_requests_total', { route: r, status: '401' })).to.equal(1);
    expect(count(after, 'cpr_http_request_duration_seconds_count', { route: r })).to.equal(6);
    expect(count(after, 'cpr_resolve_outcomes_total', { customer_status: 'KNOWN', channel: 'VOICE', source: 'customer-profiles' })).to.equal(1);
    expect(count(after, 'cpr_resolve_outcomes_total', { customer_status: 'KNOWN', channel: 'VOICE', source: 'cache' })).to.equal(1);
    expect(count(after, 'cpr_resolve_outcomes_total', { customer_status: 'NEW' })).to.equal(1);
    expect(count(after, 'cpr_resolve_outcomes_total', { customer_status: 'UNAVAILABLE' })).to.equal(1);
    expect(count(after, 'cpr_resolve_fallbacks_total', { reason: 'unavailable' })).to.equal(1);
    expect(count(after, 'cpr_cache_lookups_total', { result: 'hit' })).to.equal(1);
    expect(count(after, 'cpr_cache_lookups_total', { result: 'miss' })).to.equal(3);
    expect(count(after, 'cpr_aws_requests_total', { operation: 'SearchProfiles', outcome: 'success' })).to.equal(2);
    expect(count(after, 'cpr_aws_requests_total', { operation: 'SearchProfiles', outcome: 'server_error' })).to.equal(1);
    expect(count(after, 'cpr_aws_requests_total', { operation: 'CreateProfile', outcome: 'success' })).to.equal(1);
    expect(count(after, 'cpr_aws_request_duration_seconds_count', { service: 'customer-profiles', operation: 'SearchProfiles' })).to.equal(3);
    expect(count(after, 'cpr_record_jobs_total', { outcome: 'enqueued' })).to.equal(3);
    expect(count(after, 'cpr_record_jobs_total', { outcome: 'written' })).to.equal(2);
    expect(count(after, 'cpr_record_dead_letters_total')).to.equal(1);
    expect(sample(after, 'cpr_record_dead_letter_backlog')).to.equal(1);
    expect(sample(after, 'cpr_record_queue_depth')).to.equal(0);
    expect(sample(after, 'cpr_process_resident_memory_bytes')).to.be.greaterThan(0);
    expect(after).to.contain('cpr_nodejs_eventloop_lag_p99_seconds');
  });

  it('serves /metrics on the metrics listener only: the main port, which a load balancer forwards, answers 404 NOT_FOUND for it', async () => {
    const onMain = await fetch(`${app.url}/metrics`);
    const onMetrics = await fetch(`${app.metricsUrl}/metrics`);
    const readyOnMetrics = await fetch(`${app.metricsUrl}/readyz`);

    expect(onMain.status).to.equal(404);
    expect(((await onMain.json()) as { error: { code: string } }).error.code).to.equal('NOT_FOUND');
    expect(onMetrics.status).to.equal(200);
    expect(await onMetrics.text()).to.contain('cpr_resolve_outcomes_total');
    expect(readyOnMetrics.status).to.equal(404);
  });

  it('exports histograms in seconds with buckets up to 8 s, and no identity in any label', async () => {
    await postEvent(app.url, eventFrom('chat-email-attribute.json', { contactId: cid() }), auth);
    const text = await metrics();

    expect(text).to.contain('cpr_http_request_duration_seconds_bucket{le="8"');
    for (const secret of [KNOWN_PHONE, NEW_PHONE, FAILING_PHONE, '4255550187', EMAIL.toLowerCase(), 'Secretname', 'observability-token']) {
      expect(text, secret).to.not.contain(secret);
    }
    expect(text).to.not.match(/[0-9a-f]{8}-[0-9a-f]{4}-/); // no ContactId
    expect(text).to.not.match(/[0-9a-f]{32}/); // no profile id
  });

  it('logs one line per request with the ContactId, channel, status, duration and AWS calls, and no identity in clear', async () => {
    const contactId = cid();
    log.lines.splice(0);
    log.raw = '';
    await postEvent(app.url, eventFrom('voice-e164.json', { address: KNOWN_PHONE.replace('+1', ''), contactId }), auth);
    const firstEmailContact = cid();
    await postEvent(app.url, eventFrom('email-channel.json', { address: EMAIL, contactId: firstEmailContact }), auth);
    await until('both request lines', () => [contactId, firstEmailContact].every((id) => log.lines.some((l) => l.contactId === id && l.msg === 'request')));

    const line = log.lines.find((l) => l.contactId === contactId && l.msg === 'request');
    expect(line, 'the request line').to.not.equal(undefined);
    expect(line).to.include({ channel: 'VOICE', status: 200, route: '/v1/resolve', customerStatus: 'KNOWN', identity: '+1425***0187' });
    expect(line!.durationMs).to.be.a('number');
    expect(line!.aws).to.be.an('array');
    // this address was never looked up before: its line names the SearchProfiles call it made
    const emailLine = log.lines.find((l) => l.contactId === firstEmailContact && l.msg === 'request');
    expect((emailLine!.aws as Array<{ operation: string; outcome: string; ms: number }>)[0]).to.include({ operation: 'SearchProfiles', outcome: 'success' });
    for (const secret of [KNOWN_PHONE, '4255550187', EMAIL, EMAIL.toLowerCase(), 'Secretname', 'Hiddenlast', 'observability-token']) {
      expect(log.raw, secret).to.not.contain(secret);
    }
    expect(log.raw).to.contain('p***@example.org');
  });
});

describe('SIGTERM with requests in flight (the service as a process)', function () {
  this.timeout(30_000);
  const fake = useFakeAws({ domains: [DOMAIN], latencyMs: { SearchProfiles: 700 }, objectType: false });

  it('answers every request in flight, refuses new connections, and exits 0', async () => {
    const svc = await ServiceProcess.start({
      CUSTOMER_PROFILES_DOMAIN: DOMAIN,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CUSTOMER_PROFILES: fake.url,
      AWS_ACCESS_KEY_ID: 'AKIDTESTFAKE',
      AWS_SECRET_ACCESS_KEY: 'fake-secret',
      SHUTDOWN_GRACE_MS: '5000',
    });
    const inFlight = Array.from({ length: 20 }, (_, i) =>
      postEvent(svc.url, eventFrom('voice-e164.json', { address: `+1206555${String(300 + i).padStart(4, '0')}`, contactId: cid() })),
    );
    await until('every request to wait on SearchProfiles', () => fake.callsTo('SearchProfiles').length === 20);
    const readyBefore = (await fetch(`${svc.url}/readyz`)).status;

    const exit = svc.stop();
    await until('the service to start draining', () => svc.output().includes('"msg":"draining"'));
    const readyDuring = await fetch(`${svc.url}/readyz`).then((r) => r.status, () => 'refused' as const);
    const answers = await Promise.all(inFlight);
    const code = await exit;

    expect(readyBefore).to.equal(200);
    expect(readyDuring).to.equal('refused'); // the listener is closed: no new connection gets in
    expect(answers.map((a) => a.status)).to.deep.equal(Array(20).fill(200));
    expect(answers.every((a) => a.body.customerStatus === 'NEW')).to.equal(true);
    expect(code).to.equal(0);
    expect(svc.output()).to.contain('"msg":"stopped"');
  });
});
