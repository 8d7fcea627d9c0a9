import type { ResolverStackProps } from './stack.js';

/** A context value that is missing or malformed: the message names the key, on one line. */
export class SettingError extends Error {
  constructor(key: string, problem: string) {
    super(`context "${key}": ${problem} (cdk.json, or -c ${key}=...; docs/aws.md, "Settings")`);
    this.name = 'SettingError';
  }
}

/** The parts of an instance ARN: arn:<partition>:connect:<region>:<account>:instance/<uuid> */
export interface InstanceArnParts {
  partition: string;
  region: string;
  account: string;
  instanceId: string;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const PARTITION = 'aws(?:-[a-z]+)*';
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d{1,2}';
const INSTANCE_ARN = new RegExp(`^arn:(${PARTITION}):connect:(${REGION}):(\\d{12}):instance/(${UUID})$`);
/** EC2 ids: the prefix, then 8 (older) or 17 hexadecimal digits */
const ec2Id = (prefix: string): RegExp => new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`);
/** the most shards profileEventShards may ask for (readSettings says why) */
export const MAX_PROFILE_EVENT_SHARDS = 100;
const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export function parseInstanceArn(value: string): InstanceArnParts | undefined {
  const m = INSTANCE_ARN.exec(value);
  return m ? { partition: m[1]!, region: m[2]!, account: m[3]!, instanceId: m[4]! } : undefined;
}

/** Where the stack may be told its account or region besides the instance ARN. */
export interface DeployEnvironment {
  /** the account of the CLI's credentials (the CDK CLI sets CDK_DEFAULT_ACCOUNT when it has credentials) */
  CDK_DEFAULT_ACCOUNT?: string | undefined;
  /** the CLI profile's default region: only informative, the stack goes to the instance's region */
  CDK_DEFAULT_REGION?: string | undefined;
  /** a region set explicitly in the shell */
  AWS_REGION?: string | undefined;
  AWS_DEFAULT_REGION?: string | undefined;
}

export type AppSettings = Omit<ResolverStackProps, 'repositoryDir'> & { stackName: string; env: { account: string; region: string } };

/**
 * Reads and checks every context value of infra/bin/app.ts. The stack's account and region are the
 * instance's (an instance and the Lambda it invokes are in one region and account); a region or
 * account given otherwise (`-c region=`, `-c account=`, AWS_REGION, AWS_DEFAULT_REGION, or the
 * CLI's credentials) that differs is refused rather than deployed beside the instance's.
 */
export function readSettings(context: (key: string) => unknown, environment: DeployEnvironment = {}): AppSettings {
  const text = (key: string): string | undefined => {
    const v = context(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new SettingError(key, `expected a string, got ${JSON.stringify(v)}`);
    return String(v).trim() || undefined;
  };
  const required = (key: string, what: string): string => {
    const v = text(key);
    if (v === undefined) throw new SettingError(key, `required: ${what}`);
    return v;
  };
  const matching = (key: string, value: string, pattern: RegExp, what: string): string => {
    if (!pattern.test(value)) throw new SettingError(key, `expected ${what}, got "${value}"`);
    return value;
  };
  const flag = (key: string): boolean => {
    const v = text(key);
    if (v === undefined || v === 'false') return false;
    if (v === 'true') return true;
    throw new SettingError(key, `expected true or false, got "${v}"`);
  };
  const list = (key: string): string[] => {
    const v = text(key);
    return v === undefined ? [] : v.split(',').map((s) => s.trim()).filter(Boolean);
  };

  // --- where: the instance decides the account and the region
  const instanceArn = required('instanceArn', 'the Amazon Connect instance, arn:aws:connect:<region>:<account>:instance/<id>');
  const instance = parseInstanceArn(instanceArn);
  if (!instance) throw new SettingError('instanceArn', `expected arn:<partition>:connect:<region>:<12-digit account>:instance/<instance id>, got "${instanceArn}"`);
  const { region, account, partition } = instance;
  const regionGiven: Array<[string, string | undefined]> = [
    ['context "region"', text('region')],
    ['AWS_REGION', environment.AWS_REGION],
    ['AWS_DEFAULT_REGION', environment.AWS_DEFAULT_REGION],
  ];
  for (const [source, given] of regionGiven) {
    if (given && given !== region) {
      throw new SettingError('instanceArn', `the instance is in ${region} but ${source} is ${given}: the stack must be in the instance's region (unset ${source} or give the right instance)`);
    }
  }
  const accountGiven: Array<[string, string | undefined]> = [
    ['context "account"', text('account')],
    ["the CLI's credentials (CDK_DEFAULT_ACCOUNT)", environment.CDK_DEFAULT_ACCOUNT],
  ];
  for (const [source, given] of accountGiven) {
    if (given && given !== account) {
      throw new SettingError('instanceArn', `the instance is in account ${account} but ${source} is ${given}: deploy with credentials for ${account}`);
    }
  }
  const arnIn = (key: string, service: string, resource: RegExp, what: string): string | undefined => {
    const v = text(key);
    if (v === undefined) return undefined;
    const m = new RegExp(`^arn:${partition}:${service}:${region}:${account}:(.+)$`).exec(v);
    if (!m || !resource.test(m[1]!)) throw new SettingError(key, `expected ${what} in ${region}, account ${account}, got "${v}"`);
    return v;
  };

  // --- the network
  const vpcId = matching('vpcId', required('vpcId', 'the VPC, vpc-...'), ec2Id('vpc'), 'vpc-<8 or 17 hexadecimal digits>');
  const privateSubnetIds = list('privateSubnetIds');
  if (privateSubnetIds.length === 0) throw new SettingError('privateSubnetIds', 'required: two or more private subnets, comma-separated');
  for (const s of privateSubnetIds) matching('privateSubnetIds', s, ec2Id('subnet'), 'subnet-<8 or 17 hexadecimal digits>');
  if (new Set(privateSubnetIds).size !== privateSubnetIds.length) throw new SettingError('privateSubnetIds', 'a subnet is listed twice');
  const availabilityZones = list('availabilityZones');
  if (availabilityZones.length !== privateSubnetIds.length) {
    throw new SettingError('availabilityZones', `one zone per subnet, in the same order: ${privateSubnetIds.length} subnets, ${availabilityZones.length} zones`);
  }
  for (const z of availabilityZones) {
    if (!z.startsWith(region) || !/^[a-z0-9-]+[a-z]$/.test(z)) throw new SettingError('availabilityZones', `"${z}" is not a zone of ${region} (the instance's region)`);
  }
  if (new Set(availabilityZones).size < 2) throw new SettingError('availabilityZones', 'the subnets must be in two zones at least (ElastiCache Multi-AZ and the load balancer need two)');
  const routeTableIds = list('routeTableIds');
  if (routeTableIds.length > 0 && routeTableIds.length !== privateSubnetIds.length) {
    throw new SettingError('routeTableIds', `one route table per subnet, in the same order: ${privateSubnetIds.length} subnets, ${routeTableIds.length} route tables`);
  }
  for (const r of routeTableIds) matching('routeTableIds', r, ec2Id('rtb'), 'rtb-<8 or 17 hexadecimal digits>');

  // --- the domain
  const domainName = matching('domainName', required('domainName', 'the Customer Profiles domain'), /^[a-zA-Z0-9_-]{1,64}$/, 'a domain name of 1-64 letters, digits, _ or -');
  const existingDomain = flag('existingDomain');
  if (!existingDomain && !domainName.startsWith('amazon-connect-')) {
    throw new SettingError('domainName', `a new domain linked to the instance must be named amazon-connect-... (Connect's service-linked role may use only those), got "${domainName}"`);
  }
  const existingDomainKeyArn = arnIn('existingDomainKeyArn', 'kms', new RegExp(`^key/(?:${UUID}|mrk-[0-9a-f]{32})$`), 'arn:<partition>:kms:<region>:<account>:key/<key id>');
  if (existingDomainKeyArn && !existingDomain) throw new SettingError('existingDomainKeyArn', 'only with existingDomain=true (a new domain gets its own key)');
  const objectTypeName = text('objectTypeName');
  if (objectTypeName !== undefined) matching('objectTypeName', objectTypeName, /^[a-zA-Z_][a-zA-Z_0-9-]{0,254}$/, 'an object type name (a letter or _, then letters, digits, _ or -)');

  // The domain's event stream: 0 turns it off. 100 at most: one shard takes 1,000 records a second in, far more than
  // a domain's profile changes; a shard is billed by the hour; and the account's default quota is 200 shards in most
  // regions (500 in us-east-1, us-west-2, eu-west-1; Kinesis Data Streams Developer Guide, "Quotas and limits"),
  // shared with its other streams. Each shard is also one more GetRecords a poll for the fleet.
  const shards = text('profileEventShards');
  const profileEventShards = shards === undefined ? 1 : /^\d{1,4}$/.test(shards) ? Number(shards) : NaN;
  if (!(profileEventShards >= 0 && profileEventShards <= MAX_PROFILE_EVENT_SHARDS)) {
    throw new SettingError('profileEventShards', `a whole number of shards from 0 (no event stream) to ${MAX_PROFILE_EVENT_SHARDS}, got "${shards}"`);
  }

  // --- the service and the Lambda
  const image = text('image');
  if (image !== undefined) matching('image', image, /^[^\s]+\/[^\s]+$|^[a-z0-9._-]+(?::[^\s@]+)?(?:@sha256:[0-9a-f]{64})?$/, 'an image reference, <registry>/<name>:<tag>');
  const timeout = text('lambdaTimeoutSeconds');
  const lambdaTimeoutSeconds = timeout === undefined ? undefined : Number(timeout);
  if (lambdaTimeoutSeconds !== undefined && !(Number.isInteger(lambdaTimeoutSeconds) && lambdaTimeoutSeconds >= 1 && lambdaTimeoutSeconds <= 8)) {
    throw new SettingError('lambdaTimeoutSeconds', `a whole number of seconds from 1 to 8 (Connect waits at most 8 s for a Lambda), got "${timeout}"`);
  }
  const sampleFlowQueueArn = text('sampleFlowQueueArn');
  if (sampleFlowQueueArn !== undefined && !new RegExp(`^${instanceArn}/queue/${UUID}$`).test(sampleFlowQueueArn)) {
    throw new SettingError('sampleFlowQueueArn', `expected a queue of this instance, ${instanceArn}/queue/<queue id>, got "${sampleFlowQueueArn}"`);
  }

  // --- the load balancer: HTTPS, and who may scrape /metrics
  const certificateArn = arnIn('certificateArn', 'acm', new RegExp(`^certificate/${UUID}$`), 'arn:<partition>:acm:<region>:<account>:certificate/<id>');
  const hostName = text('hostName')?.toLowerCase();
  if (hostName !== undefined) matching('hostName', hostName, DNS_NAME, 'a DNS name such as resolver.internal.example.com');
  if (certificateArn && !hostName) {
    throw new SettingError('hostName', "required with certificateArn: the name in the certificate that the Lambda calls (the load balancer's own DNS name matches no certificate)");
  }
  if (hostName && !certificateArn) throw new SettingError('hostName', 'only with certificateArn (over HTTP the Lambda calls the load balancer by its own name)');
  const hostedZoneId = text('hostedZoneId');
  if (hostedZoneId !== undefined) {
    matching('hostedZoneId', hostedZoneId, /^Z[A-Z0-9]{1,31}$/, 'a Route 53 hosted zone id, Z...');
    if (!hostName) throw new SettingError('hostedZoneId', 'only with certificateArn and hostName (the record it gets is hostName)');
  }
  const metricsScraperSecurityGroupId = text('metricsScraperSecurityGroupId');
  if (metricsScraperSecurityGroupId !== undefined) matching('metricsScraperSecurityGroupId', metricsScraperSecurityGroupId, ec2Id('sg'), 'sg-<8 or 17 hexadecimal digits>');

  const stackName = text('stackName') ?? 'ConnectProfileResolver';
  matching('stackName', stackName, /^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'a CloudFormation stack name (a letter, then letters, digits or -, 128 at most)');

  return {
    stackName,
    env: { account, region },
    instanceArn,
    vpcId,
    privateSubnetIds,
    availabilityZones,
    routeTableIds: routeTableIds.length > 0 ? routeTableIds : undefined,
    domainName,
    existingDomain,
    existingDomainKeyArn,
    objectTypeName,
    image,
    lambdaBundleDir: text('lambdaBundleDir'),
    lambdaTimeoutSeconds,
    stampContacts: flag('stampContacts'),
    profileEventShards,
    sampleFlowQueueArn,
    certificateArn,
    hostName,
    hostedZoneId,
    metricsScraperSecurityGroupId,
    createVpcEndpoints: flag('createVpcEndpoints'),
  };
}
