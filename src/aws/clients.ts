// Every AWS SDK client the service and its commands make, in one place: how each is tuned says who
// waits for it (a flow, a background write, an operator).
import { ConnectClient } from '@aws-sdk/client-connect';
import { CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { StandardRetryStrategy } from '@smithy/util-retry';
import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';

export interface CustomerProfilesClientOptions {
  region: string;
  endpoint?: string | undefined;
  /** the resolve deadline: no single HTTP attempt may outlive it */
  requestTimeoutMs: number;
  /** default 2: one quick retry fits a flow's budget (enrichment reads use 1: see createHotPathClients) */
  maxAttempts?: number;
  /** share another client's connections (and its sockets' keep-alive) */
  requestHandler?: NodeHttpHandler | undefined;
  /** default: the SDK's credential chain */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** default true; false: a throttled call is not retried by the SDK (the caller decides, through the fleet's share) */
  retryThrottling?: boolean;
}

/**
 * The SDK's standard retries (its retry quota included), except for throttling: a 429 means the account's
 * quota is in use, and a second attempt a few ms later almost always fails again (measured: 315 refusals
 * became 111 throttled lookups). The lookups wait for a slot of the fleet's share instead (cache/quota.ts).
 */
class NoThrottlingRetry extends StandardRetryStrategy {
  override refreshRetryTokenForRetry(token: Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>[0], errorInfo: Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>[1]) {
    if (errorInfo.errorType === 'THROTTLING') return Promise.reject(new Error('throttled: not retried by the SDK'));
    return super.refreshRetryTokenForRetry(token, errorInfo);
  }
}

/**
 * The SDK client for the hot path. Every call also carries the request's AbortSignal, so the deadline
 * ends it wherever it is (connecting, waiting, or between retries). Two attempts at most: Connect's
 * flow budget (3 s by default, 8 s at most) leaves room for one quick retry, not for the SDK's
 * default three with backoff.
 */
export function createCustomerProfilesClient(o: CustomerProfilesClientOptions): CustomerProfilesClient {
  const agentOptions = { keepAlive: true, maxSockets: 256 };
  return new CustomerProfilesClient({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.credentials ? { credentials: o.credentials } : {}),
    maxAttempts: o.maxAttempts ?? 2,
    ...(o.retryThrottling === false ? { retryStrategy: new NoThrottlingRetry(o.maxAttempts ?? 2) } : { retryMode: 'standard' }),
    requestHandler:
      o.requestHandler ??
      new NodeHttpHandler({
        connectionTimeout: Math.min(1000, o.requestTimeoutMs),
        requestTimeout: o.requestTimeoutMs,
        // without it the handler only logs a warning when requestTimeout passes and keeps waiting: a
        // call with no AbortSignal (the operator commands, the record writer) to an endpoint that
        // accepts and never answers would wait forever
        throwOnRequestTimeout: true,
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new Agent(agentOptions),
      }),
  });
}

/**
 * The two clients of the hot path, on the same connections: lookups (SearchProfiles, CreateProfile)
 * with one quick retry (never of a throttled call: see NoThrottlingRetry), enrichment reads with one attempt, so a throttled or failing source costs
 * one call and leaves its keys '' (or stale) rather than retrying into the lookup's time.
 */
export function createHotPathClients(o: Omit<CustomerProfilesClientOptions, 'maxAttempts' | 'requestHandler'>): {
  lookup: CustomerProfilesClient;
  enrich: CustomerProfilesClient;
} {
  const lookup = createCustomerProfilesClient({ ...o, retryThrottling: false });
  const enrich = createCustomerProfilesClient({ ...o, maxAttempts: 1, requestHandler: lookup.config.requestHandler as NodeHttpHandler });
  return { lookup, enrich };
}


export interface AwsEndpoint {
  region: string;
  /** a non-AWS endpoint (the tests' fake, LocalStack); default: the region's */
  endpoint?: string | undefined;
}

/**
 * The record writer's clients: no flow is waiting, so longer timeouts, and one attempt each (the queue,
 * not the SDK, decides about retries). Connect's only when stamping is on.
 */
export function createBackgroundClients(
  profiles: AwsEndpoint,
  connect: AwsEndpoint | undefined,
): { profiles: CustomerProfilesClient; connect: ConnectClient | undefined; destroy(): void } {
  const clients = {
    profiles: createCustomerProfilesClient({ ...profiles, requestTimeoutMs: 10_000, maxAttempts: 1 }),
    connect: connect ? new ConnectClient({ region: connect.region, maxAttempts: 1, ...(connect.endpoint ? { endpoint: connect.endpoint } : {}) }) : undefined,
  };
  return {
    ...clients,
    destroy: () => {
      clients.profiles.destroy();
      clients.connect?.destroy();
    },
  };
}

/**
 * The event stream's reader (stream/): one attempt a call, its loop retries (the SDK's retries of a throttled read
 * would spend more of the shard's 5 reads a second). HTTP/1.1 with kept-alive connections, not the Kinesis client's
 * default HTTP/2 handler, which exists for SubscribeToShard (enhanced fan-out): the polling calls are plain requests.
 */
export function createKinesisClient(o: AwsEndpoint & { requestTimeoutMs: number }): KinesisClient {
  const agentOptions = { keepAlive: true, maxSockets: 16 };
  return new KinesisClient({
    region: o.region,
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(1000, o.requestTimeoutMs),
      requestTimeout: o.requestTimeoutMs,
      throwOnRequestTimeout: true,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new Agent(agentOptions),
    }),
  });
}

/** An operator command's client for one-off admin calls: a generous timeout, the SDK's retries. */
export function createAdminClient(o: AwsEndpoint): CustomerProfilesClient {
  return createCustomerProfilesClient({ ...o, requestTimeoutMs: 15_000, maxAttempts: 3 });
}
