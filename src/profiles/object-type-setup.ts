import {
  GetDomainCommand,
  GetProfileObjectTypeCommand,
  PutProfileObjectTypeCommand,
  type CustomerProfilesClient,
  type GetProfileObjectTypeResponse,
} from '@aws-sdk/client-customer-profiles';
import { isDeepStrictEqual } from 'node:util';
import { awsCause, type AwsCause } from '../aws/errors.js';
import { recordObjectType } from '../records/job.js';

const isNotFound = (err: unknown) => (err as { name?: string }).name === 'ResourceNotFoundException';

async function getObjectType(client: CustomerProfilesClient, domain: string, name: string): Promise<GetProfileObjectTypeResponse | undefined> {
  try {
    return await client.send(new GetProfileObjectTypeCommand({ DomainName: domain, ObjectTypeName: name }));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** What differs between the object type in the domain and the one this service needs ([] when right). */
function differences(actual: GetProfileObjectTypeResponse): string[] {
  const wanted = recordObjectType();
  const out: string[] = [];
  if (actual.AllowProfileCreation !== false && actual.AllowProfileCreation !== undefined) out.push('AllowProfileCreation is true (records could create profiles)');
  if (!isDeepStrictEqual(actual.Keys ?? {}, wanted.Keys)) out.push(`Keys are ${JSON.stringify(actual.Keys ?? {})}, expected ${JSON.stringify(wanted.Keys)}`);
  if (!isDeepStrictEqual(actual.Fields ?? {}, wanted.Fields)) out.push(`Fields are ${JSON.stringify(actual.Fields ?? {})}, expected ${JSON.stringify(wanted.Fields)}`);
  return out;
}

/**
 * Creates the contact-record object type in the domain, or brings it to the definition this
 * service needs (PutProfileObjectType is create-or-replace). Idempotent.
 */
export async function setUpDomain(client: CustomerProfilesClient, domain: string, objectType: string): Promise<'created' | 'updated' | 'unchanged'> {
  const current = await getObjectType(client, domain, objectType);
  if (current && differences(current).length === 0) return 'unchanged';
  await client.send(new PutProfileObjectTypeCommand({ DomainName: domain, ObjectTypeName: objectType, ...recordObjectType() }));
  return current ? 'updated' : 'created';
}

export interface Finding {
  level: 'ok' | 'warn' | 'error';
  check: string;
  detail: string;
  /** what to do about it */
  fix?: string;
}

const FIX: Record<AwsCause, (permissions: string) => string> = {
  network: () =>
    'check that this machine reaches Customer Profiles: AWS_REGION, AWS_ENDPOINT_URL_CUSTOMER_PROFILES if set, DNS, a proxy, the VPC endpoint or NAT gateway of private subnets',
  credentials: () => 'check the AWS credentials this runs with (AWS_PROFILE, AWS_ACCESS_KEY_ID, an expired session: `aws sts get-caller-identity`)',
  permission: (permissions) => `grant ${permissions} on the domain to the identity this runs as (\`aws sts get-caller-identity\`)`,
  'missing resource': () => 'check CUSTOMER_PROFILES_DOMAIN and AWS_REGION',
  throttling: () => "run it again in a minute: other callers are using this account's Customer Profiles quota",
  'service error': () => 'Customer Profiles failed on its side: run it again later, and see the AWS Health Dashboard',
  'bad request': () => 'check CUSTOMER_PROFILES_DOMAIN and RECORD_OBJECT_TYPE',
};

/**
 * Why a call failed, named from the SDK's error (the network, the credentials, a permission, a missing
 * resource, throttling), and what to do about it. Names the error type and status, never the SDK's
 * message (it can echo request values).
 */
export function explainFailure(operation: string, err: unknown, permissions: string): { detail: string; fix: string } {
  const { cause, code } = awsCause(err);
  return { detail: `${operation} failed: ${cause} (${code})`, fix: FIX[cause](permissions) };
}

/** Checks a Customer Profiles domain for this service; prints nothing, returns what it found. */
export async function checkDomain(client: CustomerProfilesClient, domain: string, objectType: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  let d;
  try {
    d = await client.send(new GetDomainCommand({ DomainName: domain }));
  } catch (err) {
    return [
      isNotFound(err)
        ? { level: 'error', check: 'domain', detail: `domain "${domain}" does not exist in this account and region`, fix: 'check CUSTOMER_PROFILES_DOMAIN and AWS_REGION, or create the domain in the Amazon Connect console (Customer profiles)' }
        : { level: 'error', check: 'domain', ...explainFailure('GetDomain', err, 'profile:GetDomain') },
    ];
  }
  findings.push({ level: 'ok', check: 'domain', detail: `domain "${domain}" exists` });
  findings.push(
    d.DeadLetterQueueUrl
      ? { level: 'ok', check: 'dead-letter queue', detail: `set (${d.DeadLetterQueueUrl})` }
      : { level: 'warn', check: 'dead-letter queue', detail: 'no dead-letter queue: objects Customer Profiles fails to ingest are dropped silently', fix: `aws customer-profiles update-domain --domain-name ${domain} --dead-letter-queue-url <SQS queue URL>` },
  );
  findings.push(
    d.DefaultEncryptionKey
      ? { level: 'ok', check: 'encryption key', detail: 'a customer managed KMS key encrypts the domain' }
      : { level: 'warn', check: 'encryption key', detail: 'no DefaultEncryptionKey: the domain uses an AWS owned key', fix: `aws customer-profiles update-domain --domain-name ${domain} --default-encryption-key <KMS key ARN>` },
  );

  let ctr: GetProfileObjectTypeResponse | undefined;
  let ours: GetProfileObjectTypeResponse | undefined;
  try {
    ctr = await getObjectType(client, domain, 'CTR');
    ours = await getObjectType(client, domain, objectType);
  } catch (err) {
    findings.push({ level: 'error', check: 'object types', ...explainFailure('GetProfileObjectType', err, 'profile:GetProfileObjectType') });
    return findings;
  }
  if (!ctr) {
    findings.push({ level: 'warn', check: 'CTR object type', detail: 'no CTR object type: Connect does not send its contact records to this domain', fix: 'enable Customer Profiles for the Connect instance with contact records, mapped with the CTR-NoInferred template' });
  } else if (ctr.TemplateId === 'CTR-NoInferred') {
    findings.push({ level: 'ok', check: 'CTR object type', detail: 'uses the CTR-NoInferred template' });
  } else {
    findings.push({
      level: 'warn',
      check: 'CTR object type',
      detail: `uses the ${ctr.TemplateId ?? 'a custom'} template: a contact record that matches no profile creates an inferred duplicate profile`,
      fix: `map CTR with the CTR-NoInferred template (aws customer-profiles put-profile-object-type --domain-name ${domain} --object-type-name CTR --template-id CTR-NoInferred --description "Contact records")`,
    });
  }

  if (!ours) {
    findings.push({ level: 'error', check: 'contact-record object type', detail: `object type "${objectType}" is missing: contact records cannot be written`, fix: 'npm run setup-domain' });
  } else {
    const diff = differences(ours);
    findings.push(
      diff.length === 0
        ? { level: 'ok', check: 'contact-record object type', detail: `"${objectType}" is present and right` }
        : { level: 'error', check: 'contact-record object type', detail: `"${objectType}" differs: ${diff.join('; ')}`, fix: 'npm run setup-domain' },
    );
  }
  return findings;
}
