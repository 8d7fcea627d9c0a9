import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings, SettingError, type DeployEnvironment } from '../lib/settings.js';
import { ACCOUNT, INSTANCE_ARN, REGION, REPO } from './support.js';

/** what `cdk deploy` needs at least, as the README gives it */
const GIVEN: Record<string, string> = {
  instanceArn: INSTANCE_ARN,
  vpcId: 'vpc-0123456789abcdef0',
  privateSubnetIds: 'subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2',
  availabilityZones: `${REGION}a,${REGION}b`,
  domainName: 'amazon-connect-acme',
};

const read = (over: Record<string, unknown> = {}, environment: DeployEnvironment = {}) => {
  const context: Record<string, unknown> = { ...GIVEN, ...over };
  return readSettings((key) => context[key], environment);
};

/** the error readSettings throws for these values: a SettingError, its message on one line */
function refusal(over: Record<string, unknown>, environment: DeployEnvironment = {}): string {
  try {
    read(over, environment);
  } catch (err) {
    expect(err).to.be.instanceOf(SettingError);
    const message = (err as Error).message;
    expect(message).to.not.contain('\n');
    return message;
  }
  throw new Error(`accepted: ${JSON.stringify(over)}`);
}

describe('the AWS CDK app (infra/): its context values, checked at synth', () => {
  describe('the account and region', () => {
    it("are the instance's, not the CLI profile's default region", () => {
      const s = read({}, { CDK_DEFAULT_REGION: 'us-east-1', CDK_DEFAULT_ACCOUNT: ACCOUNT });
      expect(s.env).to.deep.equal({ account: ACCOUNT, region: REGION });
    });

    it('are read offline too (no credentials: no CDK_DEFAULT_ACCOUNT)', () => {
      expect(read().env).to.deep.equal({ account: ACCOUNT, region: REGION });
    });

    it('refuses a region given explicitly that is not the instance’s (context "region", AWS_REGION, AWS_DEFAULT_REGION)', () => {
      expect(refusal({ region: 'us-east-1' })).to.match(/^context "instanceArn": the instance is in eu-west-2 but context "region" is us-east-1/);
      expect(refusal({}, { AWS_REGION: 'us-east-1' })).to.match(/eu-west-2 but AWS_REGION is us-east-1/);
      expect(refusal({}, { AWS_DEFAULT_REGION: 'us-east-1' })).to.match(/eu-west-2 but AWS_DEFAULT_REGION is us-east-1/);
      expect(read({ region: REGION }, { AWS_REGION: REGION }).env.region).to.equal(REGION);
    });

    it('refuses credentials or a context "account" for another account than the instance’s', () => {
      expect(refusal({}, { CDK_DEFAULT_ACCOUNT: '444455556666' })).to.match(/account 111122223333 but the CLI's credentials \(CDK_DEFAULT_ACCOUNT\) is 444455556666/);
      expect(refusal({ account: '444455556666' })).to.match(/context "account" is 444455556666/);
    });
  });

  describe('each value, with a message naming its key', () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a missing instanceArn', { instanceArn: '' }, /^context "instanceArn": required/],
      ['an instanceArn that is not an ARN', { instanceArn: 'my-instance' }, /^context "instanceArn": expected arn:<partition>:connect:<region>:<12-digit account>:instance\/<instance id>, got "my-instance"/],
      ['an instance id that is not a UUID', { instanceArn: `arn:aws:connect:${REGION}:${ACCOUNT}:instance/abc` }, /^context "instanceArn": expected/],
      ['an account of 11 digits', { instanceArn: `arn:aws:connect:${REGION}:11112222333:instance/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d` }, /^context "instanceArn": expected/],
      ['the ARN of a queue', { instanceArn: `${INSTANCE_ARN}/queue/5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b` }, /^context "instanceArn": expected/],
      ['a vpcId that is not one', { vpcId: 'vpc_123' }, /^context "vpcId": expected vpc-<8 or 17 hexadecimal digits>, got "vpc_123"/],
      ['no subnets', { privateSubnetIds: '' }, /^context "privateSubnetIds": required/],
      ['a subnet id that is not one', { privateSubnetIds: 'subnet-0aaaaaaaaaaaaaaa1,sg-0bbbbbbbbbbbbbbb2' }, /^context "privateSubnetIds": expected subnet-.*got "sg-0bbbbbbbbbbbbbbb2"/],
      ['a subnet listed twice', { privateSubnetIds: 'subnet-0aaaaaaaaaaaaaaa1,subnet-0aaaaaaaaaaaaaaa1' }, /^context "privateSubnetIds": a subnet is listed twice/],
      ['fewer zones than subnets', { availabilityZones: `${REGION}a` }, /^context "availabilityZones": one zone per subnet, in the same order: 2 subnets, 1 zones/],
      ['a zone of another region', { availabilityZones: `${REGION}a,us-east-1b` }, /^context "availabilityZones": "us-east-1b" is not a zone of eu-west-2/],
      ['both subnets in one zone', { availabilityZones: `${REGION}a,${REGION}a` }, /^context "availabilityZones": the subnets must be in two zones/],
      ['route tables not one per subnet', { routeTableIds: 'rtb-0aaaaaaaaaaaaaaa1' }, /^context "routeTableIds": one route table per subnet/],
      ['a new domain not named amazon-connect-', { domainName: 'acme' }, /^context "domainName": a new domain linked to the instance must be named amazon-connect-/],
      ['a domain name with a dot', { domainName: 'amazon-connect.acme' }, /^context "domainName": expected a domain name/],
      ['existingDomain that is not a boolean', { existingDomain: 'yes' }, /^context "existingDomain": expected true or false, got "yes"/],
      ['a key of another region', { existingDomain: 'true', existingDomainKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab` }, /^context "existingDomainKeyArn": expected .* in eu-west-2, account 111122223333/],
      ['an object type name starting with a digit', { objectTypeName: '1Contact' }, /^context "objectTypeName": expected/],
      ['event stream shards that are not a whole number', { profileEventShards: '1.5' }, /^context "profileEventShards": a whole number of shards from 0 \(no event stream\) to 100, got "1.5"/],
      ['event stream shards that are not a number', { profileEventShards: 'two' }, /^context "profileEventShards": a whole number of shards .*got "two"/],
      ['a negative number of event stream shards', { profileEventShards: -1 }, /^context "profileEventShards": a whole number of shards .*got "-1"/],
      ['more event stream shards than 100', { profileEventShards: '101' }, /^context "profileEventShards": a whole number of shards from 0 \(no event stream\) to 100, got "101"/],
      ['a time limit above 8', { lambdaTimeoutSeconds: '9' }, /^context "lambdaTimeoutSeconds": a whole number of seconds from 1 to 8/],
      ['a time limit that is not a number', { lambdaTimeoutSeconds: 'three' }, /^context "lambdaTimeoutSeconds"/],
      ['a queue of another instance', { sampleFlowQueueArn: `arn:aws:connect:${REGION}:${ACCOUNT}:instance/11111111-2222-4333-8444-555555555555/queue/5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b` }, /^context "sampleFlowQueueArn": expected a queue of this instance/],
      ['a certificate of another region', { certificateArn: `arn:aws:acm:us-east-1:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d`, hostName: 'resolver.acme.internal' }, /^context "certificateArn": expected arn:<partition>:acm:<region>:<account>:certificate\/<id> in eu-west-2/],
      ['a certificate without hostName', { certificateArn: `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d` }, /^context "hostName": required with certificateArn/],
      ['hostName without a certificate', { hostName: 'resolver.acme.internal' }, /^context "hostName": only with certificateArn/],
      ['a hostName that is not a DNS name', { certificateArn: `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d`, hostName: 'https://resolver' }, /^context "hostName": expected a DNS name/],
      ['a hosted zone id that is not one', { certificateArn: `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d`, hostName: 'resolver.acme.internal', hostedZoneId: 'acme.internal' }, /^context "hostedZoneId": expected a Route 53 hosted zone id/],
      ['a scraper group that is not a security group', { metricsScraperSecurityGroupId: 'prometheus' }, /^context "metricsScraperSecurityGroupId": expected sg-/],
      ['createVpcEndpoints that is not a boolean', { createVpcEndpoints: 'yes' }, /^context "createVpcEndpoints": expected true or false/],
      ['a stack name with an underscore', { stackName: 'my_stack' }, /^context "stackName": expected a CloudFormation stack name/],
    ];
    for (const [what, over, message] of cases) {
      it(`refuses ${what}`, () => {
        expect(refusal(over)).to.match(message);
      });
    }

    it('reads the event stream’s shards: 1 unless given, 0 (no stream) up to 100, from cdk.json’s number or -c’s text', () => {
      expect(read().profileEventShards).to.equal(1);
      expect(read({ profileEventShards: '' }).profileEventShards).to.equal(1);
      expect(read({ profileEventShards: '0' }).profileEventShards).to.equal(0);
      expect(read({ profileEventShards: 4 }).profileEventShards).to.equal(4);
      expect(read({ profileEventShards: ' 100 ' }).profileEventShards).to.equal(100);
    });

    it('reads a full set of values into the stack’s props', () => {
      const certificateArn = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d`;
      const s = read({
        existingDomain: 'true',
        existingDomainKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
        domainName: 'acme',
        routeTableIds: 'rtb-0aaaaaaaaaaaaaaa1,rtb-0bbbbbbbbbbbbbbb2',
        lambdaTimeoutSeconds: '5',
        stampContacts: 'true',
        createVpcEndpoints: true,
        certificateArn,
        hostName: 'Resolver.Acme.Internal',
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        metricsScraperSecurityGroupId: 'sg-0123456789abcdef0',
        profileEventShards: '2',
        stackName: 'Resolver-Prod',
      });
      expect(s).to.deep.include({
        stackName: 'Resolver-Prod',
        privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
        availabilityZones: ['eu-west-2a', 'eu-west-2b'],
        routeTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0bbbbbbbbbbbbbbb2'],
        existingDomain: true,
        lambdaTimeoutSeconds: 5,
        stampContacts: true,
        createVpcEndpoints: true,
        certificateArn,
        hostName: 'resolver.acme.internal',
        hostedZoneId: 'Z0123456789ABCDEFGHIJ',
        metricsScraperSecurityGroupId: 'sg-0123456789abcdef0',
        profileEventShards: 2,
      });
    });
  });

  it('infra/bin/app.ts stops on a bad value with that one line and exit status 1, before synthesising anything', function () {
    this.timeout(30_000);
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/bin/app.ts'], {
      cwd: REPO,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'cdk-app-')),
        CDK_CONTEXT_JSON: JSON.stringify({ ...GIVEN, instanceArn: 'my-instance' }),
      },
    });
    expect(run.status).to.equal(1);
    expect(run.stderr.trim().split('\n')).to.deep.equal([
      'context "instanceArn": expected arn:<partition>:connect:<region>:<12-digit account>:instance/<instance id>, got "my-instance" (cdk.json, or -c instanceArn=...; docs/aws.md, "Settings")',
    ]);
  });
});
