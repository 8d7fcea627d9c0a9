import { Arn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { AWS_OPERATIONS, type AwsOperation } from '../../src/aws-operations.js';

/**
 * The Customer Profiles resources each operation is authorised on, from the Service Authorization
 * Reference ("Actions, resources, and condition keys for Amazon Connect Customer Profiles",
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonconnectcustomerprofiles.html):
 * most take the domain; PutProfileObject, ListProfileObjects and GetProfileObjectType take the domain
 * and an object type; GetSegmentMembership the domain and a segment definition.
 */
const PROFILE_RESOURCES: Record<string, ReadonlyArray<'domain' | 'object-types' | 'segment-definitions'>> = {
  SearchProfiles: ['domain'],
  CreateProfile: ['domain'],
  AddProfileKey: ['domain'],
  UpdateProfile: ['domain'],
  ListCalculatedAttributesForProfile: ['domain'],
  ListProfileHistoryRecords: ['domain'],
  GetProfileHistoryRecord: ['domain'],
  GetDomain: ['domain'],
  PutProfileObject: ['domain', 'object-types'],
  ListProfileObjects: ['domain', 'object-types'],
  GetProfileObjectType: ['domain', 'object-types'],
  PutProfileObjectType: ['domain', 'object-types'],
  GetSegmentMembership: ['domain', 'segment-definitions'],
  GetMatches: ['domain'],
  GetSimilarProfiles: ['domain'],
  MergeProfiles: ['domain'],
};

/**
 * Who gets an operation in this deployment. The object type is the stack's (CloudFormation owns it),
 * so `npm run setup-domain`'s PutProfileObjectType is not given to the service: a task could otherwise
 * change what the stack manages. Nor is `npm run duplicates merge`'s MergeProfiles: it deletes profiles
 * and cannot be undone, and the running service never sends it; an operator merges with credentials of
 * their own (its reads, GetMatches and GetSimilarProfiles, are granted: `show` and `matches` run in a task).
 * An operation sent only with a setting (`when`) is granted only with it: Connect's with stamping, the
 * event stream's Kinesis reads with the stream the stack makes (serviceStatements).
 */
export function grantedToService(op: AwsOperation): boolean {
  return op.by !== 'setup-domain' && op.operation !== 'MergeProfiles';
}

export function domainArn(scope: Construct, domainName: string): string {
  return Arn.format({ service: 'profile', resource: 'domains', resourceName: domainName }, Stack.of(scope));
}

/**
 * The service's permissions: exactly the operations it and its in-container
 * commands send (AWS_OPERATIONS), each on this domain and, where the operation takes one, its
 * object types or segment definitions. Connect's UpdateContactAttributes only with stamping, on the
 * instance's contacts; the event stream's Kinesis reads only with the stream, on that stream.
 */
export function serviceStatements(
  scope: Construct,
  o: { domainName: string; stamping?: { instanceArn: string } | undefined; profileEventStreamArn?: string | undefined },
): iam.PolicyStatement[] {
  const domain = domainArn(scope, o.domainName);
  const byScope = new Map<string, string[]>();
  for (const op of AWS_OPERATIONS.filter((x) => x.service === 'profile' && grantedToService(x))) {
    const kinds = PROFILE_RESOURCES[op.operation];
    if (!kinds) throw new Error(`no IAM resource mapping for profile:${op.operation} (infra/lib/permissions.ts)`);
    const key = kinds.join('+');
    byScope.set(key, [...(byScope.get(key) ?? []), `profile:${op.operation}`]);
  }
  const statements = [...byScope].map(
    ([key, actions]) =>
      new iam.PolicyStatement({
        sid: `CustomerProfiles${key.split('+').map(pascal).join('')}`,
        actions: actions.sort(),
        resources: key.split('+').map((k) => (k === 'domain' ? domain : `${domain}/${k}/*`)),
      }),
  );
  if (o.stamping) {
    // contact ARN: arn:aws:connect:<region>:<account>:instance/<instance-id>/contact/<contact-id>
    statements.push(
      new iam.PolicyStatement({
        sid: 'ConnectStamp',
        actions: AWS_OPERATIONS.filter((x) => x.service === 'connect').map((x) => `connect:${x.operation}`),
        resources: [`${o.stamping.instanceArn}/contact/*`],
      }),
    );
  }
  if (o.profileEventStreamArn) {
    // ListShards, GetShardIterator and GetRecords are authorised on the stream (Service Authorization Reference,
    // "Actions, resources, and condition keys for Amazon Kinesis Data Streams": resource type stream)
    statements.push(
      new iam.PolicyStatement({
        sid: 'ProfileEventStream',
        actions: AWS_OPERATIONS.filter((x) => x.service === 'kinesis' && grantedToService(x)).map((x) => `kinesis:${x.operation}`),
        resources: [o.profileEventStreamArn],
      }),
    );
  }
  return statements;
}

const pascal = (s: string): string => s.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
