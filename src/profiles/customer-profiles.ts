import {
  CreateProfileCommand,
  CustomerProfilesClient,
  SearchProfilesCommand,
  type Profile as SdkProfile,
} from '@aws-sdk/client-customer-profiles';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import type { Identity } from '../domain/identity.js';
import { awsOutcome, type Outcome } from '../ops/aws-instrumentation.js';
import { requestContextOf } from '../ops/context.js';
import { PROFILE_SOURCE, type Profile } from '../domain/profile.js';
import { ProfileStoreError, type CreateContext, type ProfileStore, type StoreFailure } from './profile.js';

// SearchProfiles returns at most 100 items a page; more matches than that for one caller is a data problem,
// and the first page is enough to choose deterministically among what came back.
const MAX_RESULTS = 100;

export interface CustomerProfilesClientOptions {
  region: string;
  endpoint?: string | undefined;
  /** the resolve deadline: no single HTTP attempt may outlive it */
  requestTimeoutMs: number;
  /** default 2: one quick retry fits a flow's budget */
  maxAttempts?: number;
  /** default: the SDK's credential chain */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
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
    retryMode: 'standard',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(1000, o.requestTimeoutMs),
      requestTimeout: o.requestTimeoutMs,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new Agent(agentOptions),
    }),
  });
}

/** Maps an SDK error (or an abort) to what the use case decides on. */
export function classifyAwsError(err: unknown, signal: AbortSignal): StoreFailure {
  if (signal.aborted) return 'timeout';
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  switch (e.name) {
    case 'ThrottlingException':
      return 'throttled';
    case 'AccessDeniedException':
      return 'denied';
    case 'ResourceNotFoundException':
    case 'BadRequestException':
      return 'misconfigured';
    case 'AbortError':
    case 'TimeoutError':
      return 'timeout';
    default:
      return 'unavailable';
  }
}

function toProfile(p: SdkProfile): Profile {
  // The SDK's Profile has the same names; keep only what the service reads.
  const { FoundByItems: _found, EngagementPreferences: _prefs, ...rest } = p;
  return rest as Profile;
}

export class CustomerProfilesStore implements ProfileStore {
  readonly kind = 'customer-profiles';

  constructor(
    private readonly client: CustomerProfilesClient,
    private readonly domain: string,
  ) {}

  private async send<T>(operation: string, call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const started = performance.now();
    let outcome: Outcome = 'success';
    try {
      return await call();
    } catch (err) {
      outcome = awsOutcome(err);
      const failure = classifyAwsError(err, signal);
      // The message names the operation and error type only: SDK messages can echo request values.
      const name = (err as { name?: string }).name ?? 'Error';
      throw new ProfileStoreError(failure, `${operation} failed: ${name}`, { cause: err });
    } finally {
      // the call, with all its attempts, in the request's log line
      requestContextOf(signal)?.awsCalls.push({ operation, outcome, ms: Math.round((performance.now() - started) * 10) / 10 });
    }
  }

  async search(identity: Identity, signal: AbortSignal): Promise<Profile[]> {
    // `_phone` / `_email` match stored strings exactly: every spelling goes in the one call.
    const out = await this.send(
      'SearchProfiles',
      () =>
        this.client.send(
          new SearchProfilesCommand({
            DomainName: this.domain,
            KeyName: identity.type === 'PHONE' ? '_phone' : '_email',
            Values: identity.searchValues,
            MaxResults: MAX_RESULTS,
          }),
          { abortSignal: signal },
        ),
      signal,
    );
    return (out.Items ?? []).filter((p) => typeof p.ProfileId === 'string').map(toProfile);
  }

  async create(identity: Identity, context: CreateContext, signal: AbortSignal): Promise<Profile> {
    const fields =
      identity.type === 'PHONE' ? { PhoneNumber: identity.e164 } : { EmailAddress: identity.address };
    const Attributes = { createdBy: PROFILE_SOURCE, createdFromContactId: context.contactId };
    const out = await this.send(
      'CreateProfile',
      () =>
        this.client.send(
          new CreateProfileCommand({ DomainName: this.domain, PartyTypeString: 'INDIVIDUAL', ...fields, Attributes }),
          { abortSignal: signal },
        ),
      signal,
    );
    if (!out.ProfileId) throw new ProfileStoreError('unavailable', 'CreateProfile answered without a ProfileId');
    return { ProfileId: out.ProfileId, PartyTypeString: 'INDIVIDUAL', ...fields, Attributes };
  }
}
