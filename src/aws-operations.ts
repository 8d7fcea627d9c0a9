/**
 * Every AWS API operation this service and its commands send, and who sends it. The deployment's IAM
 * policies are built from this list (infra/lib/permissions.ts), and a test checks it against the SDK
 * commands in src/: an operation added to the code without its permission fails the suite.
 */
export interface AwsOperation {
  /** the IAM service prefix */
  service: 'profile' | 'connect' | 'kinesis';
  /** the API operation (the SDK command without `Command`) */
  operation: string;
  /** the running service, or the command-line tool that sends it */
  by: 'service' | 'doctor' | 'setup-domain' | 'duplicates';
  /** sent only when this setting is on */
  when?: 'CONNECT_STAMP' | 'PROFILE_EVENT_STREAM_ARN';
}

export const AWS_OPERATIONS: readonly AwsOperation[] = [
  // the resolve path (src/profiles/customer-profiles.ts)
  { service: 'profile', operation: 'SearchProfiles', by: 'service' },
  { service: 'profile', operation: 'CreateProfile', by: 'service' },
  { service: 'profile', operation: 'ListCalculatedAttributesForProfile', by: 'service' },
  { service: 'profile', operation: 'ListProfileObjects', by: 'service' },
  { service: 'profile', operation: 'GetSegmentMembership', by: 'service' },
  // a profile's history, for step-up signals (CustomerProfilesStore.history; not yet asked by the resolve path)
  { service: 'profile', operation: 'ListProfileHistoryRecords', by: 'service' },
  { service: 'profile', operation: 'GetProfileHistoryRecord', by: 'service' },
  // the record pipeline (src/profiles/customer-profiles-records.ts)
  { service: 'profile', operation: 'AddProfileKey', by: 'service' },
  { service: 'profile', operation: 'PutProfileObject', by: 'service' },
  { service: 'profile', operation: 'UpdateProfile', by: 'service' },
  { service: 'connect', operation: 'UpdateContactAttributes', by: 'service', when: 'CONNECT_STAMP' },
  // the domain's event stream, read to drop what is cached of profiles changed elsewhere (src/stream/kinesis.ts)
  { service: 'kinesis', operation: 'ListShards', by: 'service', when: 'PROFILE_EVENT_STREAM_ARN' },
  { service: 'kinesis', operation: 'GetShardIterator', by: 'service', when: 'PROFILE_EVENT_STREAM_ARN' },
  { service: 'kinesis', operation: 'GetRecords', by: 'service', when: 'PROFILE_EVENT_STREAM_ARN' },
  // npm run doctor / npm run setup-domain (src/profiles/object-type-setup.ts)
  { service: 'profile', operation: 'GetDomain', by: 'doctor' },
  { service: 'profile', operation: 'GetProfileObjectType', by: 'doctor' },
  { service: 'profile', operation: 'PutProfileObjectType', by: 'setup-domain' },
  // npm run duplicates (src/profiles/duplicates.ts): `show` and `merge` read the set's profiles with SearchProfiles
  { service: 'profile', operation: 'GetMatches', by: 'duplicates' },
  { service: 'profile', operation: 'GetSimilarProfiles', by: 'duplicates' },
  { service: 'profile', operation: 'MergeProfiles', by: 'duplicates' },
];

/** The Customer Profiles operations the running service sends: each has its own share of the account quota (cache/quota.ts). */
export const SHARED_OPERATIONS: readonly string[] = AWS_OPERATIONS.filter((o) => o.service === 'profile' && o.by === 'service').map((o) => o.operation);
