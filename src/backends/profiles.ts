// The profile backend: where profiles are looked up and created, and where contact records and updates
// are written. Customer Profiles (a domain is configured) or the embedded store (local runs); the
// composition root picks one, nothing below it asks which.
import { createBackgroundClients, createHotPathClients } from '../aws/clients.js';
import type { AccountQuota } from '../cache/quota.js';
import type { Config } from '../config/index.js';
import { awsObserver, instrumentAwsClient, Reachability, type AwsObserver } from '../ops/aws-instrumentation.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { CustomerProfilesStore } from '../profiles/customer-profiles.js';
import { AwsRecordTarget } from '../profiles/customer-profiles-records.js';
import { EmbeddedProfileStore } from '../profiles/embedded.js';
import type { ProfileStore } from '../profiles/profile.js';
import type { RecordTarget } from '../records/writer.js';

export interface ProfileBackend {
  store: ProfileStore;
  /** where contact records and profile updates are written (by this process: without Redis, or while it fails) */
  recordTarget: RecordTarget;
  /**
   * Set when the records may be written from a thread of their own, which builds its own target from the
   * configuration (record-thread-main.ts) and reports its AWS calls here. The embedded store lives in
   * this process's memory: its records are written here.
   */
  recordThread?: { observe: AwsObserver };
  /** what /readyz shows of it */
  readiness(): Record<string, unknown>;
  close(): void;
}

/** Customer Profiles' record target, with its own clients (no flow waits on them): the service's and the record thread's. */
export function customerProfilesRecordTarget(config: Config & { domain: string }, observe: AwsObserver, quota: AccountQuota): { target: AwsRecordTarget; close(): void } {
  const region = config.aws.region!;
  const clients = createBackgroundClients(
    { region, endpoint: config.aws.customerProfilesEndpoint },
    config.records.connectStamp ? { region, endpoint: config.aws.connectEndpoint } : undefined,
  );
  instrumentAwsClient(clients.profiles, 'customer-profiles', observe);
  if (clients.connect) instrumentAwsClient(clients.connect, 'connect', observe);
  const target = new AwsRecordTarget({ profiles: clients.profiles, domain: config.domain, objectTypeName: config.records.objectType, connect: clients.connect, quota });
  return { target, close: () => clients.destroy() };
}

export function customerProfilesBackend(config: Config & { domain: string }, metrics: Metrics, quota: AccountQuota): ProfileBackend {
  const reachability = new Reachability();
  const observe = awsObserver(metrics, reachability);
  const { lookup, enrich } = createHotPathClients({
    region: config.aws.region!,
    endpoint: config.aws.customerProfilesEndpoint,
    requestTimeoutMs: config.resolveDeadlineMs,
  });
  instrumentAwsClient(lookup, 'customer-profiles', observe);
  // counted in the AWS metrics, but not in Customer Profiles' reachability (/readyz): a failing source
  // (a mistyped segment name, say) does not make the lookups' service look down
  instrumentAwsClient(enrich, 'customer-profiles', awsObserver(metrics));
  const records = customerProfilesRecordTarget(config, observe, quota);
  return {
    store: new CustomerProfilesStore(lookup, config.domain, enrich, quota),
    recordTarget: records.target,
    recordThread: { observe },
    readiness: () => ({ customerProfiles: reachability.state() }),
    close: () => {
      lookup.destroy();
      enrich.destroy();
      records.close();
    },
  };
}

export function embeddedBackend(config: Config, logger: Logger): ProfileBackend {
  logger.warn(
    { profiles: config.embeddedProfiles.length },
    'EMBEDDED MODE: no CUSTOMER_PROFILES_DOMAIN, profiles live in this process only and vanish on exit. Not for production.',
  );
  const store = new EmbeddedProfileStore(config.embeddedProfiles);
  return { store, recordTarget: store, readiness: () => ({}), close: () => undefined };
}
