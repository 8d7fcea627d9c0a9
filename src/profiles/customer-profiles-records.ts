// Contact records written to Customer Profiles (and stamped onto the contact in Connect): the record
// queue's target (records/writer.ts) when the service runs on a Customer Profiles domain.
import { UpdateContactAttributesCommand, type ConnectClient } from '@aws-sdk/client-connect';
import { AddProfileKeyCommand, PutProfileObjectCommand, UpdateProfileCommand, type CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import { classify } from '../records/errors.js';
import { recordObject, type RecordJob, type UpdateJob } from '../records/job.js';
import type { RecordTarget } from '../records/writer.js';

export interface AwsRecordTargetOptions {
  profiles: CustomerProfilesClient;
  domain: string;
  objectTypeName: string;
  /** set: stamp profileId and customerStatus onto the contact */
  connect?: ConnectClient | undefined;
  /** per-call timeout for background writes */
  timeoutMs?: number;
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
          await this.call('UpdateContactAttributes', (abortSignal) =>
            connect.send(
              new UpdateContactAttributesCommand({
                InstanceId: instanceId,
                InitialContactId: job.initialContactId,
                Attributes: { profileId: job.profileId, customerStatus: job.customerStatus },
              }),
              { abortSignal },
            ),
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

  private async call<T>(operation: string, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await send(AbortSignal.timeout(this.timeoutMs));
    } catch (err) {
      throw classify(operation, err);
    }
  }
}

