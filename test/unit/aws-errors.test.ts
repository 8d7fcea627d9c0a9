// The one reading of a failed AWS call (src/aws/errors.ts) and what each caller decides on it: the hot
// path's StoreFailure (the answer's fallbackReason), the record queue's throttled / retryable / permanent,
// the metrics' outcome. Errors shaped as the SDK v3 throws them: `name`, `$metadata.httpStatusCode`,
// `$retryable`, `$response.headers`.
import { expect } from 'chai';
import { awsCause, classifyAwsError } from '../../src/aws/errors.js';
import { storeFailure } from '../../src/profiles/customer-profiles.js';
import { classify } from '../../src/records/errors.js';

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} from the test`), { name, ...(status !== undefined ? { $metadata: { httpStatusCode: status } } : {}), ...extra });
const live = () => new AbortController().signal;

const TABLE = [
  // name, status, extra -> outcome, hot path, record queue
  { error: sdkError('ThrottlingException', 429), outcome: 'throttled', store: 'throttled', record: 'throttled' },
  // a 429 whatever its name (Connect's TooManyRequestsException; a throttle a proxy answers)
  { error: sdkError('TooManyRequestsException', 429), outcome: 'throttled', store: 'throttled', record: 'throttled' },
  { error: sdkError('SomethingElse', 429), outcome: 'throttled', store: 'throttled', record: 'throttled' },
  // a throttle the SDK knows by its retry strategy (Connect's LimitExceededException on some operations)
  { error: sdkError('LimitExceededException', 400, { $retryable: { throttling: true } }), outcome: 'throttled', store: 'throttled', record: 'throttled' },
  { error: sdkError('AccessDeniedException', 403), outcome: 'client_error', store: 'denied', record: 'permanent' },
  { error: sdkError('ResourceNotFoundException', 404), outcome: 'client_error', store: 'misconfigured', record: 'permanent' },
  { error: sdkError('BadRequestException', 400), outcome: 'client_error', store: 'misconfigured', record: 'permanent' },
  { error: sdkError('InternalServerException', 500), outcome: 'server_error', store: 'unavailable', record: 'retryable' },
  { error: sdkError('ServiceUnavailable', 503), outcome: 'server_error', store: 'unavailable', record: 'retryable' },
  { error: sdkError('TimeoutError'), outcome: 'timeout', store: 'timeout', record: 'retryable' },
  { error: sdkError('AbortError'), outcome: 'timeout', store: 'timeout', record: 'retryable' },
  { error: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), outcome: 'network_error', store: 'unavailable', record: 'retryable' },
] as const;

describe('the AWS error classifier and its callers', () => {
  for (const row of TABLE) {
    const label = `${row.error.name}${'$metadata' in row.error ? ` ${(row.error.$metadata as { httpStatusCode: number }).httpStatusCode}` : ''}`;
    it(`${label}: outcome ${row.outcome}, hot path ${row.store}, record queue ${row.record}`, () => {
      expect(classifyAwsError(row.error).outcome).to.equal(row.outcome);
      expect(storeFailure(row.error, live())).to.equal(row.store);
      expect(classify('PutProfileObject', row.error).kind).to.equal(row.record);
    });
  }

  it('any error once the request signal has aborted is the deadline (timeout) on the hot path', () => {
    const controller = new AbortController();
    controller.abort();
    expect(storeFailure(sdkError('InternalServerException', 500), controller.signal)).to.equal('timeout');
  });

  it('takes Retry-After (seconds) of a throttling answer, and ignores one that is not a number', () => {
    const withHeader = (value: string) => sdkError('ThrottlingException', 429, { $response: { headers: { 'retry-after': value } } });
    expect(classifyAwsError(withHeader('2')).retryAfterMs).to.equal(2000);
    expect(classifyAwsError(withHeader('soon')).retryAfterMs).to.equal(undefined);
    expect(classify('AddProfileKey', withHeader('3')).retryAfterMs).to.equal(3000);
  });

  it('names what an operator must look at: credentials, permission, a missing resource, the network', () => {
    expect(awsCause(sdkError('UnrecognizedClientException', 403)).cause).to.equal('credentials');
    expect(awsCause(sdkError('AccessDeniedException', 403))).to.deep.equal({ cause: 'permission', code: 'AccessDeniedException 403' });
    expect(awsCause(sdkError('ResourceNotFoundException', 404)).cause).to.equal('missing resource');
    expect(awsCause(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }))).to.deep.equal({ cause: 'network', code: 'ENOTFOUND' });
  });
});
