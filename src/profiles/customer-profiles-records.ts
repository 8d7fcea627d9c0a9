// Contact records written to Customer Profiles (and stamped onto the contact in Connect): the record
// queue's target (records/writer.ts) when the service runs on a Customer Profiles domain.
import { UpdateContactAttributesCommand, type ConnectClient } from '@aws-sdk/client-connect';
import { AddProfileKeyCommand, PutProfileObjectCommand, UpdateProfileCommand, type CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import type { AccountQuota } from '../cache/quota.js';
import { classify, RecordError } from '../records/errors.js';
import { recordObject, type RecordJob, type UpdateJob } from '../records/job.js';
import type { RecordTarget } from '../records/writer.js';

export interface AwsRecordTargetOptions {
  profiles: CustomerProfilesClient;
  domain: string;
  objectTypeName: string;
  /** set: stamp profileId, customerStatus and the screen pop (profileSearchKey/Value) onto the contact */
  connect?: ConnectClient | undefined;
  /** per-call timeout for background writes */
  timeoutMs?: number;
  /** the fleet's share of the account quota: each Customer Profiles write takes what the live callers leave */
  quota?: AccountQuota | undefined;
}

export class AwsRecordTarget implements RecordTarget {
  readonly stamp: RecordTarget['stamp'];
  private readonly timeoutMs: number;

  constructor(private readonly o: AwsRecordTargetOptions) {
    this.timeoutMs = o.timeoutMs ?? 10_000;
    const connect = o.connect;
    this.stamp = connect
      ? async (job) => {
          const instanceId = /:instance\/([^/]+)/.exec(job.instanceArn)?.[1];
          if (!instanceId) return;
          const pop = job.profileSearch;
          // The screen pop only when the answer gave one: UpdateContactAttributes sets what it is given, and
          // "" would overwrite a pop the flow set itself. Connect's own limit (10 a second per account),
          // paced fleet-wide by records/pacer.ts: one call with everything.
          await this.call('UpdateContactAttributes', (abortSignal) =>
            connect.send(
              new UpdateContactAttributesCommand({
                InstanceId: instanceId,
                InitialContactId: job.initialContactId,
                Attributes: {
                  profileId: job.profileId,
                  customerStatus: job.customerStatus,
                  ...(pop && pop.key !== '' && pop.value !== '' && { profileSearchKey: pop.key, profileSearchValue: pop.value }),
                },
              }),
              { abortSignal },
            ),
            false,
          );
        }
      : undefined;
  }

  async addContactKey(job: RecordJob): Promise<void> {
    await this.call('AddProfileKey', (abortSignal) =>
      this.o.profiles.send(
        new AddProfileKeyCommand({ DomainName: this.o.domain, ProfileId: job.profileId, KeyName: '_ctrContactId', Values: [job.contactId] }),
        { abortSignal },
      ),
    );
  }

  async putRecord(job: RecordJob): Promise<void> {
    await this.call('PutProfileObject', (abortSignal) =>
      this.o.profiles.send(
        new PutProfileObjectCommand({ DomainName: this.o.domain, ObjectTypeName: this.o.objectTypeName, Object: JSON.stringify(recordObject(job)) }),
        { abortSignal },
      ),
    );
  }

  async updateProfile(job: UpdateJob): Promise<void> {
    await this.call('UpdateProfile', (abortSignal) =>
      this.o.profiles.send(new UpdateProfileCommand({ DomainName: this.o.domain, ProfileId: job.profileId, ...job.update }), { abortSignal }),
    );
  }

  /**
   * One write, in a slot of the fleet's share (background: booked at most BACKGROUND_AHEAD_MS ahead).
   * No slot that soon: the job steps back (a 'throttled' RecordError, so no attempt is used) until the
   * slots the live callers took have passed. A 429 backs the fleet off for the operation.
   */
  private async call<T>(operation: string, send: (signal: AbortSignal) => Promise<T>, shared = true): Promise<T> {
    const quota = shared ? this.o.quota : undefined;
    if (quota) {
      const grant = await quota.acquire(operation, 'background');
      if (!grant.granted) throw new RecordError('throttled', `${operation}: the fleet's share is taken for now (next slot in ${grant.retryInMs} ms)`, grant.retryInMs);
    }
    try {
      return await send(AbortSignal.timeout(this.timeoutMs));
    } catch (err) {
      const failed = classify(operation, err);
      if (failed.kind === 'throttled') quota?.throttled(operation);
      throw failed;
    }
  }
}

