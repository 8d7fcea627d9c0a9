import type { ObjectTypeField, ObjectTypeKey } from '@aws-sdk/client-customer-profiles';
import type { CustomerStatus } from '../domain/answer.js';
import type { SearchPair } from '../domain/keys.js';
import type { ProfileUpdate } from '../domain/profile-update.js';

/** One contact to put on its profile: everything the worker needs, captured when the contact arrived. */
export interface RecordJob {
  /** absent in records queued before updates existed */
  kind?: 'record';
  contactId: string;
  initialContactId: string;
  previousContactId: string;
  channel: string;
  initiationMethod: string;
  instanceArn: string;
  queueName: string;
  systemEndpoint: string;
  /** NONE: the contact was found by another key (account number, profile id, custom key) */
  identityType: 'PHONE' | 'EMAIL' | 'NONE';
  /** the normalised phone number (E.164) or e-mail address; '' for NONE */
  identity: string;
  /** the identity's keyed hash (see StateKeys): lets an erasure find the caller's queued records */
  identityTag: string;
  profileId: string;
  customerStatus: CustomerStatus;
  /** ISO 8601 */
  receivedAt: string;
  /** the contact attributes named in RECORD_CONTACT_ATTRIBUTES */
  attributes: Record<string, string>;
  /**
   * the screen pop the answer gave (`profileSearchKey`/`profileSearchValue`, see screenPop), stamped with
   * the profile id when CONNECT_STAMP is on; absent: none (or queued by a version before it)
   */
  profileSearch?: SearchPair | undefined;
}

/** A profile update a flow asked for during a contact (UpdateProfile), written like a record. */
export interface UpdateJob {
  kind: 'update';
  contactId: string;
  /** a digest of the update: the same update asked twice in one contact (a Connect retry) is one job */
  updateId: string;
  profileId: string;
  /** the caller's keyed hash: an erasure finds the caller's queued updates */
  identityTag: string;
  /** ISO 8601 */
  receivedAt: string;
  update: ProfileUpdate;
}

/** What the durable pipeline writes: contact records and profile updates, paced together per profile. */
export type QueuedJob = RecordJob | UpdateJob;

/** A job's id in the queue: the ContactId for a record (one a contact), `u:<ContactId>:<updateId>` for an update. */
export function jobIdOf(job: QueuedJob): string {
  return job.kind === 'update' ? `u:${job.contactId}:${job.updateId}` : job.contactId;
}

/** Which steps of a job are done, kept with the job so a retry or a paced job does not redo them. */
export interface RecordProgress {
  keyAdded?: boolean;
  /** a write slot is reserved for this record (see Pacer): when it runs again, it writes */
  objectSlot?: boolean;
  objectWritten?: boolean;
  stampSlot?: boolean;
  stamped?: boolean;
}

/** The profile object written for a contact (`PutProfileObject`'s `Object`, as JSON). */
export function recordObject(job: RecordJob): Record<string, unknown> {
  return {
    ContactId: job.contactId,
    InitialContactId: job.initialContactId,
    PreviousContactId: job.previousContactId,
    Channel: job.channel,
    InitiationMethod: job.initiationMethod,
    InstanceARN: job.instanceArn,
    QueueName: job.queueName,
    SystemEndpoint: job.systemEndpoint,
    CustomerIdentityType: job.identityType,
    CustomerIdentity: job.identity,
    ProfileId: job.profileId,
    CustomerStatus: job.customerStatus,
    ReceivedAt: job.receivedAt,
    Attributes: job.attributes,
  };
}

/**
 * The object type `npm run setup-domain` creates. `_profileId` (PROFILE, LOOKUP_ONLY) ties each object
 * to the exact profile the contact was resolved to, with no re-matching by phone or e-mail;
 * AllowProfileCreation false means an object never creates a profile of its own. `contactId`
 * (UNIQUE) makes a second write of the same ContactId replace the first: one object per contact.
 */
export function recordObjectType(description = 'Contacts resolved by connect-profile-resolver, one object per ContactId'): {
  Description: string;
  AllowProfileCreation: boolean;
  Fields: Record<string, ObjectTypeField>;
  Keys: Record<string, ObjectTypeKey[]>;
} {
  return {
    Description: description,
    AllowProfileCreation: false,
    Fields: {
      profileId: { Source: '_source.ProfileId', ContentType: 'STRING' },
      contactId: { Source: '_source.ContactId', ContentType: 'STRING' },
    },
    Keys: {
      _profileId: [{ StandardIdentifiers: ['PROFILE', 'LOOKUP_ONLY'], FieldNames: ['profileId'] }],
      contactId: [{ StandardIdentifiers: ['UNIQUE'], FieldNames: ['contactId'] }],
    },
  };
}
