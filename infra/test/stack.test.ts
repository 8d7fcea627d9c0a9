import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../../src/config/index.js';
import { recordObjectType } from '../../src/records/job.js';
import { PLACEHOLDER_LAMBDA_ARN, sampleFlow } from '../lib/sample-flow.js';
import { ACCOUNT, DOMAIN, INSTANCE_ARN, REGION, REPO, rolePolicyStatements, statements, synthStack } from './support.js';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };

/** The domain's ARN as the template spells it (the partition is a pseudo parameter). */
const DOMAIN_ARN = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:profile:${REGION}:${ACCOUNT}:domains/${DOMAIN}`]] };

function only(template: Template, type: string): [string, Resource] {
  const found = Object.entries(template.findResources(type)) as Array<[string, Resource]>;
  expect(found.map(([id]) => id), type).to.have.length(1);
  return found[0]!;
}

type Flow = ReturnType<typeof sampleFlow>;

/**
 * Runs the sample flow as Connect would, for the Lambda's answer `External`: Compare takes the first
 * Condition whose Equals operand is the compared value (else NextAction), MessageParticipant says its
 * Text with $.External.<key> put in, and the run ends at an action without a next one. Answers what
 * the caller hears.
 */
function run(flow: Flow, External: Record<string, string>): string[] {
  const byId = new Map(flow.Actions.map((a) => [a.Identifier, a]));
  const value = (path: unknown): string => {
    const key = /^\$\.External\.(\w+)$/.exec(String(path))?.[1];
    if (!key) throw new Error(`the run knows $.External only: ${String(path)}`);
    return External[key] ?? '';
  };
  const said: string[] = [];
  let id: string | undefined = flow.StartAction;
  for (let steps = 0; id && steps < 50; steps++) {
    const action: Flow['Actions'][number] = byId.get(id)!;
    if (action.Type === 'MessageParticipant') said.push(String(action.Parameters.Text).replace(/\$\.External\.(\w+)/g, (_, k: string) => External[k] ?? ''));
    if (action.Type === 'Compare') {
      const compared = value(action.Parameters.ComparisonValue);
      id = action.Transitions.Conditions?.find((c) => c.Condition.Operator === 'Equals' && c.Condition.Operands[0] === compared)?.NextAction ?? action.Transitions.NextAction;
    } else {
      id = action.Transitions.NextAction;
    }
  }
  return said;
}

describe('the AWS CDK app (infra/): one construct at a time', function () {
  this.timeout(60_000);
  let template: Template;
  before(() => {
    template = Template.fromStack(synthStack().stack);
  });

  describe('the Customer Profiles domain (new)', () => {
    it('has DefaultExpirationDays, the dead-letter queue and the customer managed key, and waits for the queue policy', () => {
      const [, domain] = only(template, 'AWS::CustomerProfiles::Domain');
      const [queueId] = only(template, 'AWS::SQS::Queue');
      const [keyId] = only(template, 'AWS::KMS::Key');
      const [policyId] = only(template, 'AWS::SQS::QueuePolicy');
      expect(domain.Properties).to.deep.equal({
        DomainName: DOMAIN,
        DefaultExpirationDays: 366,
        DeadLetterQueueUrl: { Ref: queueId },
        DefaultEncryptionKey: { 'Fn::GetAtt': [keyId, 'Arn'] },
      });
      expect(domain.DependsOn).to.include(policyId);
    });

    it('its KMS key rotates, and lets Customer Profiles use it for this domain of this account only', () => {
      const [, key] = only(template, 'AWS::KMS::Key');
      expect(key.Properties.EnableKeyRotation).to.equal(true);
      const forProfiles = statements(key.Properties.KeyPolicy).filter((s) => JSON.stringify(s.Principal).includes('profile.amazonaws.com'));
      expect(forProfiles).to.have.length(1);
      expect(forProfiles[0]).to.deep.include({
        Effect: 'Allow',
        Principal: { Service: 'profile.amazonaws.com' },
        Action: ['kms:GenerateDataKey', 'kms:CreateGrant', 'kms:Decrypt'],
        Resource: '*',
        Condition: { ArnEquals: { 'aws:SourceArn': DOMAIN_ARN }, StringEquals: { 'aws:SourceAccount': ACCOUNT } },
      });
    });

    it('its dead-letter queue is encrypted, refuses plain HTTP, and takes SendMessage from Customer Profiles for this domain only', () => {
      const [queueId, queue] = only(template, 'AWS::SQS::Queue');
      expect(queue.Properties.SqsManagedSseEnabled).to.equal(true);
      const [, policy] = only(template, 'AWS::SQS::QueuePolicy');
      expect(policy.Properties.Queues).to.deep.equal([{ Ref: queueId }]);
      const s = statements(policy.Properties.PolicyDocument);
      expect(s.find((x) => x.Effect === 'Deny')).to.deep.include({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } });
      const allow = s.filter((x) => x.Effect === 'Allow');
      expect(allow).to.have.length(1);
      expect(allow[0]).to.deep.include({
        Principal: { Service: 'profile.amazonaws.com' },
        Action: ['sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
        Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': DOMAIN_ARN } },
      });
    });

    it('the contact-record object type is the one `npm run setup-domain` creates, named as the service is configured', () => {
      const types = Object.values(template.findResources('AWS::CustomerProfiles::ObjectType')) as Resource[];
      const ours = types.find((t) => t.Properties.ObjectTypeName !== 'CTR')!;
      const p = ours.Properties as {
        ObjectTypeName: string;
        Description: string;
        AllowProfileCreation: boolean;
        Fields: Array<{ Name: string; ObjectTypeField: Record<string, string> }>;
        Keys: Array<{ Name: string; ObjectTypeKeyList: Array<{ StandardIdentifiers: string[]; FieldNames: string[] }> }>;
      };
      // back to the API's shape (PutProfileObjectType), as setup-domain sends it
      const asApi = {
        Description: p.Description,
        AllowProfileCreation: p.AllowProfileCreation,
        Fields: Object.fromEntries(p.Fields.map((f) => [f.Name, Object.fromEntries(Object.entries(f.ObjectTypeField).map(([k, v]) => [k[0]!.toUpperCase() + k.slice(1), v]))])),
        Keys: Object.fromEntries(p.Keys.map((k) => [k.Name, k.ObjectTypeKeyList])),
      };
      expect(asApi).to.deep.equal(recordObjectType());
      expect(p.ObjectTypeName).to.equal(loadConfig({}, REPO).records.objectType);
    });

    it('links the Connect instance as the console does: CTR with the CTR-NoInferred template, then the integration', () => {
      const types = template.findResources('AWS::CustomerProfiles::ObjectType', { Properties: { ObjectTypeName: 'CTR' } }) as Record<string, Resource>;
      const [ctrId, ctr] = Object.entries(types)[0]!;
      expect(ctr.Properties).to.include({ DomainName: DOMAIN, TemplateId: 'CTR-NoInferred' });
      const [, link] = only(template, 'AWS::CustomerProfiles::Integration');
      expect(link.Properties).to.deep.equal({ DomainName: DOMAIN, Uri: INSTANCE_ARN, ObjectTypeName: 'CTR' });
      expect(link.DependsOn).to.include(ctrId);
    });

    it('keeps the customer data when the stack is deleted: the domain, its key and queue, the object types and the link stay', () => {
      for (const type of ['AWS::CustomerProfiles::Domain', 'AWS::KMS::Key', 'AWS::SQS::Queue', 'AWS::CustomerProfiles::ObjectType', 'AWS::CustomerProfiles::Integration']) {
        const found = Object.values(template.findResources(type)) as Array<Resource & { DeletionPolicy?: string }>;
        expect(found.length, type).to.be.greaterThan(0);
        for (const r of found) expect(r.DeletionPolicy, type).to.equal('Retain');
      }
    });

    it('refuses to link a domain Connect cannot use (its service-linked role allows amazon-connect-* only)', () => {
      expect(() => synthStack({ domainName: 'acme' })).to.throw(/amazon-connect-/);
    });
  });

  describe('the Customer Profiles domain (existing)', () => {
    it('adds the object type to it, under another name if asked (a domain may have one of its own), and the service is told that name', () => {
      const t = Template.fromStack(synthStack({ existingDomain: true, objectTypeName: 'ResolvedContactV2' }).stack);
      t.hasResourceProperties('AWS::CustomerProfiles::ObjectType', { DomainName: DOMAIN, ObjectTypeName: 'ResolvedContactV2' });
      t.hasResourceProperties('AWS::ECS::TaskDefinition', {
        ContainerDefinitions: [Match.objectLike({ Environment: Match.arrayWith([{ Name: 'RECORD_OBJECT_TYPE', Value: 'ResolvedContactV2' }]) })],
      });
    });

    it('adds the object type to it and creates no domain, key, queue or link', () => {
      const t = Template.fromStack(synthStack({ existingDomain: true }).stack);
      for (const type of ['AWS::CustomerProfiles::Domain', 'AWS::KMS::Key', 'AWS::SQS::Queue', 'AWS::CustomerProfiles::Integration']) t.resourceCountIs(type, 0);
      t.resourceCountIs('AWS::CustomerProfiles::ObjectType', 1);
      t.hasResourceProperties('AWS::CustomerProfiles::ObjectType', { DomainName: DOMAIN, ObjectTypeName: 'ResolvedContact' });
    });
  });

  describe('the domain’s event stream (profileEventShards)', () => {
    const streamOf = (t: Template) => only(t, 'AWS::Kinesis::Stream');

    it('is a provisioned Kinesis stream with one shard by default, or the shards given, kept 24 hours', () => {
      const [, stream] = streamOf(template);
      expect(stream.Properties).to.deep.include({ ShardCount: 1, StreamModeDetails: { StreamMode: 'PROVISIONED' }, RetentionPeriodHours: 24 });
      const [, four] = streamOf(Template.fromStack(synthStack({ profileEventShards: 4 }).stack));
      expect(four.Properties.ShardCount).to.equal(4);
    });

    it('is encrypted with the AWS managed key, alias/aws/kinesis, and deleted with the stack (a day of change events, only the cache reads them)', () => {
      const [, stream] = streamOf(template) as [string, Resource & { DeletionPolicy?: string; UpdateReplacePolicy?: string }];
      expect(stream.Properties.StreamEncryption).to.deep.equal({ EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' });
      expect(stream.DeletionPolicy).to.equal('Delete');
      expect(stream.UpdateReplacePolicy).to.equal('Delete');
      // no key of the stack's for it: the domain's is the only one
      only(template, 'AWS::KMS::Key');
    });

    it('is the destination of the domain’s EventStream, which names the domain and waits for it', () => {
      const [streamId] = streamOf(template);
      const [domainId] = only(template, 'AWS::CustomerProfiles::Domain');
      const [, eventStream] = only(template, 'AWS::CustomerProfiles::EventStream');
      expect(eventStream.Properties).to.deep.equal({ DomainName: DOMAIN, EventStreamName: 'connect-profile-resolver', Uri: { 'Fn::GetAtt': [streamId, 'Arn'] } });
      expect(eventStream.DependsOn).to.include(domainId);
    });

    it('with an existing domain, is made the same way, with nothing to wait for', () => {
      const t = Template.fromStack(synthStack({ existingDomain: true }).stack);
      const [streamId] = streamOf(t);
      const [, eventStream] = only(t, 'AWS::CustomerProfiles::EventStream');
      expect(eventStream.Properties).to.deep.equal({ DomainName: DOMAIN, EventStreamName: 'connect-profile-resolver', Uri: { 'Fn::GetAtt': [streamId, 'Arn'] } });
      expect(eventStream.DependsOn).to.equal(undefined);
    });

    it('is read by the tasks: PROFILE_EVENT_STREAM_ARN is its ARN, and their Kinesis actions are on it alone', () => {
      const [streamId] = streamOf(template);
      const [, task] = only(template, 'AWS::ECS::TaskDefinition');
      const env = (task.Properties.ContainerDefinitions as Array<{ Environment: Array<{ Name: string; Value: unknown }> }>)[0]!.Environment;
      expect(env.find((e) => e.Name === 'PROFILE_EVENT_STREAM_ARN')?.Value).to.deep.equal({ 'Fn::GetAtt': [streamId, 'Arn'] });
      const kinesis = rolePolicyStatements(template, 'ResolverTaskTaskRole').filter((x) => x.Action.some((a) => a.startsWith('kinesis:')));
      expect(kinesis.map((x) => ({ Action: x.Action, Resource: x.Resource }))).to.deep.equal([
        { Action: ['kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords'], Resource: { 'Fn::GetAtt': [streamId, 'Arn'] } },
      ]);
      // nobody else in the stack is given anything on it
      const everyPolicy = JSON.stringify(template.findResources('AWS::IAM::Policy'));
      expect(everyPolicy.split(`"${streamId}"`).length - 1, 'policies naming the stream').to.equal(1);
    });

    it('with profileEventShards 0: no stream, no EventStream, no Kinesis permission, no PROFILE_EVENT_STREAM_ARN', () => {
      const t = Template.fromStack(synthStack({ profileEventShards: 0 }).stack);
      t.resourceCountIs('AWS::Kinesis::Stream', 0);
      t.resourceCountIs('AWS::CustomerProfiles::EventStream', 0);
      expect(JSON.stringify(t.findResources('AWS::IAM::Policy'))).to.not.contain('kinesis:');
      const [, task] = only(t, 'AWS::ECS::TaskDefinition');
      const env = (task.Properties.ContainerDefinitions as Array<{ Environment: Array<{ Name: string }> }>)[0]!.Environment;
      expect(env.map((e) => e.Name)).to.not.include('PROFILE_EVENT_STREAM_ARN');
      expect(t.toJSON().Outputs).to.not.have.property('ProfileEventStream');
    });

    it('refuses a shard count that is not a whole number, or below 0', () => {
      expect(() => synthStack({ profileEventShards: 1.5 })).to.throw(/profileEventShards: a whole number/);
      expect(() => synthStack({ profileEventShards: -1 })).to.throw(/profileEventShards: a whole number/);
    });
  });

  describe('the contact-flow Lambda', () => {
    it('runs the bundle on nodejs24.x, with a timeout a second under the flow block’s time limit (a cold start counts against the flow only), and its token from Secrets Manager', () => {
      const [, fn] = only(template, 'AWS::Lambda::Function');
      expect(fn.Properties).to.deep.include({ Runtime: 'nodejs24.x', Handler: 'index.handler', Timeout: 2, Architectures: ['arm64'] });
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(env).sort()).to.deep.equal(['RESOLVER_TOKEN_SECRET_ID', 'RESOLVER_URL']);
      const [tokenId] = Object.entries(template.findResources('AWS::SecretsManager::Secret')).find(([id]) => id.startsWith('ResolverServiceToken'))!;
      expect(env.RESOLVER_TOKEN_SECRET_ID).to.deep.equal({ Ref: tokenId });
      expect(JSON.stringify(env.RESOLVER_URL)).to.match(/^\{"Fn::Join":\["",\["http:\/\/",\{"Fn::GetAtt":\["ResolverLoadBalancer/);
    });

    it('may read that one secret and nothing else', () => {
      const s = rolePolicyStatements(template, 'ContactFlowLambdaFunctionServiceRole');
      const [tokenId] = Object.entries(template.findResources('AWS::SecretsManager::Secret')).find(([id]) => id.startsWith('ResolverServiceToken'))!;
      expect(s.map((x) => ({ Action: x.Action, Resource: x.Resource }))).to.deep.equal([{ Action: ['secretsmanager:GetSecretValue'], Resource: { Ref: tokenId } }]);
    });

    it('may reach the load balancer and AWS APIs over HTTPS (its token), and nothing else; the load balancer takes it alone', () => {
      const [, fn] = only(template, 'AWS::Lambda::Function');
      const sgs = (fn.Properties.VpcConfig as { SecurityGroupIds: Array<{ 'Fn::GetAtt': [string, string] }> }).SecurityGroupIds;
      expect(sgs).to.have.length(1);
      const callerId = sgs[0]!['Fn::GetAtt'][0];
      const [, caller] = Object.entries(template.findResources('AWS::EC2::SecurityGroup')).find(([id]) => id === callerId) as [string, Resource];
      const [lbSgId] = Object.keys(template.findResources('AWS::EC2::SecurityGroup')).filter((id) => id.startsWith('ResolverLoadBalancerSecurityGroup'));
      const egress = [
        ...((caller.Properties.SecurityGroupEgress as unknown[]) ?? []),
        ...(Object.values(template.findResources('AWS::EC2::SecurityGroupEgress', { Properties: { GroupId: { 'Fn::GetAtt': [callerId, 'GroupId'] } } })) as Resource[]).map((r) => r.Properties),
      ].map((r) => {
        const rule = r as { CidrIp?: string; DestinationSecurityGroupId?: unknown; FromPort: number; ToPort: number };
        return { to: rule.CidrIp ?? JSON.stringify(rule.DestinationSecurityGroupId), port: rule.FromPort, toPort: rule.ToPort };
      });
      expect(egress).to.have.deep.members([
        { to: '0.0.0.0/0', port: 443, toPort: 443 },
        { to: JSON.stringify({ 'Fn::GetAtt': [lbSgId, 'GroupId'] }), port: 80, toPort: 80 },
      ]);
      const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: { 'Fn::GetAtt': [lbSgId, 'GroupId'] } } })) as Resource[];
      expect(ingress.map((r) => r.Properties.SourceSecurityGroupId)).to.deep.equal([{ 'Fn::GetAtt': [callerId, 'GroupId'] }]);
    });

    it('is invoked by Connect for this instance of this account only, and associated with the instance', () => {
      const [fnId] = only(template, 'AWS::Lambda::Function');
      const [, permission] = only(template, 'AWS::Lambda::Permission');
      expect(permission.Properties).to.deep.equal({
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Principal: 'connect.amazonaws.com',
        SourceAccount: ACCOUNT,
        SourceArn: INSTANCE_ARN,
      });
      const [, association] = only(template, 'AWS::Connect::IntegrationAssociation');
      expect(association.Properties).to.deep.equal({ InstanceId: INSTANCE_ARN, IntegrationType: 'LAMBDA_FUNCTION', IntegrationArn: { 'Fn::GetAtt': [fnId, 'Arn'] } });
    });

    it('refuses a repository that was not built, and a time limit Connect does not allow', () => {
      expect(() => synthStack({ lambdaBundleDir: join(REPO, 'no-such-dir') })).to.throw(/npm run build/);
      expect(() => synthStack({ lambdaTimeoutSeconds: 9 })).to.throw(/1 to 8/);
    });
  });

  describe('the sample contact flow', () => {
    /** the flow as deployed: the Content string with the Lambda's ARN put back in */
    function deployedFlow(t: Template): ReturnType<typeof sampleFlow> {
      const [, flow] = only(t, 'AWS::Connect::ContactFlow');
      expect(flow.Properties).to.deep.include({ InstanceArn: INSTANCE_ARN, Type: 'CONTACT_FLOW' });
      const [fnId] = only(t, 'AWS::Lambda::Function');
      const parts = (flow.Properties.Content as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      const text = parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p) === JSON.stringify({ 'Fn::GetAtt': [fnId, 'Arn'] }) ? 'LAMBDA_ARN' : 'UNKNOWN')).join('');
      return JSON.parse(text) as ReturnType<typeof sampleFlow>;
    }

    it('invokes the Lambda with STRING_MAP validation, keeps the profile id and the screen pop, greets a known caller by name and routes UNAVAILABLE on the normal path', () => {
      const flow = deployedFlow(template);
      const byId = new Map(flow.Actions.map((a) => [a.Identifier, a]));
      const start = byId.get(flow.StartAction)!;
      expect(start.Type).to.equal('InvokeLambdaFunction');
      expect(start.Parameters).to.deep.equal({ LambdaFunctionARN: 'LAMBDA_ARN', InvocationTimeLimitSeconds: '3', ResponseValidation: { ResponseType: 'STRING_MAP' } });
      const keep = byId.get(start.Transitions.NextAction!)!;
      expect(keep).to.deep.include({ Type: 'UpdateContactAttributes' });
      // with the screen pop: the agent workspace opens the profile these user-defined attributes name
      expect(keep.Parameters).to.deep.equal({
        TargetContact: 'Current',
        Attributes: {
          profileId: '$.External.profileId',
          customerStatus: '$.External.customerStatus',
          profileSearchKey: '$.External.profileSearchKey',
          profileSearchValue: '$.External.profileSearchValue',
        },
      });

      const status = byId.get(keep.Transitions.NextAction!)!;
      expect(status.Parameters).to.deep.equal({ ComparisonValue: '$.External.customerStatus' });
      const verification = byId.get(status.Transitions.Conditions!.find((c) => c.Condition.Operands[0] === 'KNOWN')!.NextAction)!;
      expect(verification.Parameters).to.deep.equal({ ComparisonValue: '$.External.verification' });
      // a VERIFIED caller and any other KNOWN one are greeted by name when they have one (run() below)
      expect(run(flow, { customerStatus: 'KNOWN', verification: 'VERIFIED', firstName: 'Amelia' })).to.deep.equal(['Hello Amelia, thank you, you are verified.']);
      expect(run(flow, { customerStatus: 'KNOWN', verification: 'NOT_CHECKED', firstName: 'Amelia' })).to.deep.equal(['Hello Amelia, welcome back.']);
      // UNAVAILABLE (and every status but KNOWN) takes the default branch, the normal greeting; not an error message
      expect(status.Transitions.Conditions!.map((c) => c.Condition.Operands[0])).to.not.include('UNAVAILABLE');
      const normal = byId.get(status.Transitions.NextAction!)!;
      expect(normal.Type).to.equal('MessageParticipant');
      expect(normal.Parameters.Text).to.not.contain('$.External');
      // the Lambda's error branch (it answers UNAVAILABLE rather than fail) goes the same way
      expect(start.Transitions.Errors).to.deep.equal([{ NextAction: normal.Identifier, ErrorType: 'NoMatchingError' }]);
    });

    it('greets a KNOWN caller without a first name (firstName "") without the name, verified or not: never "Hello , welcome back"', () => {
      for (const flow of [deployedFlow(template), sampleFlow({ lambdaArn: 'x', timeLimitSeconds: 3 })]) {
        expect(run(flow, { customerStatus: 'KNOWN', verification: 'NOT_CHECKED', firstName: '' })).to.deep.equal(['Hello, welcome back.']);
        expect(run(flow, { customerStatus: 'KNOWN', verification: 'VERIFIED', firstName: '' })).to.deep.equal(['Hello, thank you, you are verified.']);
        // the check compares the Lambda's answer, as the flow language's Compare action does (Equals, one operand)
        const checks = flow.Actions.filter((a) => a.Type === 'Compare' && a.Parameters.ComparisonValue === '$.External.firstName');
        expect(checks).to.have.length(2);
        for (const c of checks) expect(c.Transitions.Conditions).to.deep.equal([{ NextAction: c.Transitions.Conditions![0]!.NextAction, Condition: { Operator: 'Equals', Operands: [''] } }]);
      }
    });

    it('greets a MISMATCH, NEW or UNAVAILABLE caller with the normal greeting, whatever first name comes back', () => {
      const flow = deployedFlow(template);
      for (const External of [
        { customerStatus: 'KNOWN', verification: 'MISMATCH', firstName: '' },
        { customerStatus: 'NEW', verification: 'NOT_CHECKED', firstName: '' },
        { customerStatus: 'UNAVAILABLE', verification: 'NOT_CHECKED', firstName: '' },
      ]) {
        expect(run(flow, External), JSON.stringify(External)).to.deep.equal(['Hello, thank you for calling.']);
      }
    });

    it('is whole: every transition leads to an action, every action is reachable, and every path ends', () => {
      for (const flow of [deployedFlow(template), sampleFlow({ lambdaArn: 'x', timeLimitSeconds: 8, queueArn: 'arn:aws:connect:eu-west-2:111122223333:instance/i/queue/q' })]) {
        const byId = new Map(flow.Actions.map((a) => [a.Identifier, a]));
        const next = (id: string) => {
          const t = byId.get(id)!.Transitions;
          return [t.NextAction, ...(t.Conditions ?? []).map((c) => c.NextAction), ...(t.Errors ?? []).map((e) => e.NextAction)].filter((x): x is string => !!x);
        };
        const seen = new Set<string>();
        const walk = (id: string): void => {
          expect(byId.has(id), `action ${id}`).to.equal(true);
          if (seen.has(id)) return;
          seen.add(id);
          next(id).forEach(walk);
        };
        walk(flow.StartAction);
        expect([...seen].sort()).to.deep.equal([...byId.keys()].sort());
        expect(flow.Actions.filter((a) => next(a.Identifier).length === 0).map((a) => a.Type)).to.deep.equal(['DisconnectParticipant']);
      }
    });

    it('is created after the Lambda is added to the instance', () => {
      const [associationId] = only(template, 'AWS::Connect::IntegrationAssociation');
      const [, flow] = only(template, 'AWS::Connect::ContactFlow');
      expect(flow.DependsOn).to.include(associationId);
    });

    it('infra/flows/sample-flow.json, the copy to import by hand, is the same flow (npx tsx infra/bin/sample-flow.ts writes it)', () => {
      const file: unknown = JSON.parse(readFileSync(join(REPO, 'infra/flows/sample-flow.json'), 'utf8'));
      expect(file).to.deep.equal(sampleFlow({ lambdaArn: PLACEHOLDER_LAMBDA_ARN, timeLimitSeconds: 3 }));
    });
  });

  describe('the service on ECS Fargate', () => {
    function container(t: Template): Record<string, unknown> {
      const [, task] = only(t, 'AWS::ECS::TaskDefinition');
      const defs = task.Properties.ContainerDefinitions as Array<Record<string, unknown>>;
      expect(defs).to.have.length(1);
      return defs[0]!;
    }
    const envOf = (c: Record<string, unknown>) => Object.fromEntries((c.Environment as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));

    it('runs in the private subnets given, without a public IP, behind an internal load balancer that checks /healthz, once its object type exists', () => {
      const [, service] = only(template, 'AWS::ECS::Service');
      const [recordTypeId] = Object.entries(template.findResources('AWS::CustomerProfiles::ObjectType')).find(([, t]) => (t as Resource).Properties.ObjectTypeName === 'ResolvedContact')!;
      expect(service.DependsOn).to.include(recordTypeId);
      const network = (service.Properties.NetworkConfiguration as { AwsvpcConfiguration: { AssignPublicIp: string; Subnets: string[] } }).AwsvpcConfiguration;
      expect(network.AssignPublicIp).to.equal('DISABLED');
      expect(network.Subnets).to.deep.equal(['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2']);
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal', Subnets: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'] });
      template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
        HealthCheckPath: '/healthz',
        Port: 8080,
        TargetType: 'ip',
        TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '10' }]),
      });
    });

    it('lets the load balancer reach the tasks on 8080 and the tasks reach Redis on its port, and nobody else in', () => {
      const sg = (prefix: string) => Object.keys(template.findResources('AWS::EC2::SecurityGroup')).find((id) => id.startsWith(prefix))!;
      const ingress = (Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]).map((r) => r.Properties as { GroupId: { 'Fn::GetAtt': [string] }; SourceSecurityGroupId: { 'Fn::GetAtt': [string] }; FromPort: number; ToPort: number });
      const rules = ingress.map((r) => `${r.SourceSecurityGroupId['Fn::GetAtt'][0]} -> ${r.GroupId['Fn::GetAtt'][0]}:${r.FromPort}-${r.ToPort}`).sort();
      const [lb, tasks, redis, caller] = ['ResolverLoadBalancerSecurityGroup', 'ResolverServiceSecurityGroup', 'ResolverRedisSecurityGroup', 'ResolverCallerSecurityGroup'].map(sg);
      expect(rules).to.deep.equal([`${caller} -> ${lb}:80-80`, `${lb} -> ${tasks}:8080-8080`, `${tasks} -> ${redis}:6380-6380`].sort());
      const [, redisGroup] = only(template, 'AWS::ElastiCache::ReplicationGroup');
      expect(redisGroup.Properties.Port).to.equal(6380);
      const env = envOf(container(template));
      expect(JSON.stringify(env.REDIS_CLUSTER_NODES)).to.contain('ConfigurationEndPoint.Port');
    });

    it('pulls an image from ECR by tag or digest with the permission on that repository only', () => {
      const digest = `sha256:${'a'.repeat(64)}`;
      const t = Template.fromStack(synthStack({ image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/resolver@${digest}` }).stack);
      expect(JSON.stringify(container(t).Image)).to.contain(`/resolver@${digest}`);
      const pulls = rolePolicyStatements(t, 'ResolverTaskExecutionRole').filter((x) => x.Action.includes('ecr:BatchGetImage'));
      expect(pulls.map((x) => x.Resource)).to.deep.equal([`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/resolver`]);
    });

    it('gives the container its secrets from Secrets Manager, never as plain values, and stops it only after the drain', () => {
      const c = container(template);
      const secrets = Object.fromEntries((c.Secrets as Array<{ Name: string; ValueFrom: unknown }>).map((s) => [s.Name, JSON.stringify(s.ValueFrom)]));
      expect(Object.keys(secrets).sort()).to.deep.equal(['AUTH_TOKENS', 'DATA_KEYS', 'IDENTITY_HASH_SECRET', 'REDIS_CLUSTER_PASSWORD']);
      for (const v of Object.values(secrets)) expect(v).to.match(/^\{"Ref":"Resolver\w+"\}$/);
      const env = envOf(c);
      for (const name of Object.keys(secrets)) expect(env).to.not.have.property(name);
      expect(env.SHUTDOWN_GRACE_MS).to.equal('10000');
      expect(c.StopTimeout).to.equal(15);
      expect(c.ReadonlyRootFilesystem).to.equal(true);
      expect((c.LogConfiguration as { LogDriver: string }).LogDriver).to.equal('awslogs');
    });

    it('is configured as the service accepts: its environment with values for the secrets loads with the service’s own config schema', () => {
      // what CloudFormation puts in for the references: the Redis endpoint, the event stream's ARN (a generated name)
      const resolved: Record<string, string> = {
        REDIS_CLUSTER_NODES: 'clustercfg.resolver.example.cache.amazonaws.com:6380',
        PROFILE_EVENT_STREAM_ARN: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/ConnectProfileResolver-ProfileEventsStream16463C51-AbCdEf012345`,
      };
      const env = Object.fromEntries(Object.entries(envOf(container(template))).map(([k, v]) => [k, typeof v === 'string' ? v : (resolved[k] ?? 'unresolved')]));
      const config = loadConfig(
        {
          ...env,
          // what Secrets Manager generates: 64 characters without punctuation; DATA_KEYS in its JSON form
          AUTH_TOKENS: 'a'.repeat(64),
          IDENTITY_HASH_SECRET: 'b'.repeat(64),
          DATA_KEYS: JSON.stringify({ k1: 'c'.repeat(64) }),
          REDIS_CLUSTER_PASSWORD: 'd'.repeat(64),
        },
        REPO,
      );
      expect(config.domain).to.equal(DOMAIN);
      expect(config.redis).to.deep.include({ mode: 'cluster', tls: true, password: 'd'.repeat(64) });
      expect(config.profileEvents?.streamArn).to.equal(resolved.PROFILE_EVENT_STREAM_ARN);
    });

    it('scales on CPU between 2 and 10 tasks', () => {
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 10, ScalableDimension: 'ecs:service:DesiredCount' });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, TargetValue: 60 },
      });
    });

    it('serves /metrics on its own port (METRICS_PORT 9464) to nobody by default: the load balancer forwards the service port 8080 only', () => {
      const c = container(template);
      expect(envOf(c).METRICS_PORT).to.equal('9464');
      expect(c.PortMappings).to.deep.equal([
        { ContainerPort: 8080, Name: 'http', Protocol: 'tcp' },
        { ContainerPort: 9464, Name: 'metrics', Protocol: 'tcp' },
      ]);
      const [, service] = only(template, 'AWS::ECS::Service');
      expect((service.Properties.LoadBalancers as Array<{ ContainerPort: number }>).map((l) => l.ContainerPort)).to.deep.equal([8080]);
      const [, group] = only(template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
      expect(group.Properties.Port).to.equal(8080);
      const rules = [...Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')), ...Object.values(template.findResources('AWS::EC2::SecurityGroupEgress'))] as Resource[];
      expect(rules.filter((r) => r.Properties.FromPort === 9464 || r.Properties.ToPort === 9464)).to.deep.equal([]);
    });

    it('opens the metrics port to the scraper’s security group alone when one is given', () => {
      const t = Template.fromStack(synthStack({ metricsScraperSecurityGroupId: 'sg-0123456789abcdef0' }).stack);
      // a rule from a group outside the stack is written inline, in the tasks' group
      const [, tasks] = Object.entries(t.findResources('AWS::EC2::SecurityGroup')).find(([id]) => id.startsWith('ResolverServiceSecurityGroup')) as [string, Resource];
      expect(tasks.Properties.SecurityGroupIngress).to.deep.equal([
        { IpProtocol: 'tcp', FromPort: 9464, ToPort: 9464, SourceSecurityGroupId: 'sg-0123456789abcdef0', Description: 'the metrics scraper (/metrics)' },
      ]);
      const separate = (Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[]).filter((r) => r.Properties.FromPort === 9464);
      expect(separate).to.deep.equal([]);
    });

    it('keeps its state in ElastiCache: encrypted in transit and at rest, AUTH from Secrets Manager, never evicting (the record queue lives there)', () => {
      const [, redis] = only(template, 'AWS::ElastiCache::ReplicationGroup');
      expect(redis.Properties).to.deep.include({ TransitEncryptionEnabled: true, AtRestEncryptionEnabled: true, AutomaticFailoverEnabled: true, MultiAZEnabled: true });
      expect(JSON.stringify(redis.Properties.AuthToken)).to.match(/\{\{resolve:secretsmanager:/);
      const [, parameters] = only(template, 'AWS::ElastiCache::ParameterGroup');
      expect(parameters.Properties.Properties).to.deep.equal({ 'cluster-enabled': 'yes', 'maxmemory-policy': 'noeviction' });
    });
  });

  describe('HTTPS between the Lambda and the load balancer (certificateArn)', () => {
    const CERT = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d`;
    let t: Template;
    before(() => {
      t = Template.fromStack(synthStack({ certificateArn: CERT, hostName: 'resolver.acme.internal', hostedZoneId: 'Z0123456789ABCDEFGHIJ' }).stack);
    });

    it('listens on 443 with the certificate and a TLS 1.2+ policy, and on nothing else', () => {
      const [, listener] = only(t, 'AWS::ElasticLoadBalancingV2::Listener');
      expect(listener.Properties).to.deep.include({ Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: CERT }], SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06' });
    });

    it('gives the Lambda RESOLVER_URL https://<hostName>, the name in the certificate', () => {
      const [, fn] = only(t, 'AWS::Lambda::Function');
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.RESOLVER_URL).to.equal('https://resolver.acme.internal');
    });

    it('lets the Lambda reach the load balancer on 443 only, and the load balancer take it on 443 only', () => {
      const sg = (prefix: string) => Object.keys(t.findResources('AWS::EC2::SecurityGroup')).find((id) => id.startsWith(prefix))!;
      const [lb, caller] = ['ResolverLoadBalancerSecurityGroup', 'ResolverCallerSecurityGroup'].map(sg);
      const ingress = (Object.values(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: { 'Fn::GetAtt': [lb, 'GroupId'] } } })) as Resource[]).map((r) => r.Properties);
      expect(ingress.map((r) => [r.SourceSecurityGroupId, r.FromPort, r.ToPort])).to.deep.equal([[{ 'Fn::GetAtt': [caller, 'GroupId'] }, 443, 443]]);
      const egress = (Object.values(t.findResources('AWS::EC2::SecurityGroupEgress', { Properties: { GroupId: { 'Fn::GetAtt': [caller, 'GroupId'] } } })) as Resource[]).map((r) => r.Properties);
      expect(egress.map((r) => [r.DestinationSecurityGroupId, r.FromPort, r.ToPort])).to.deep.equal([[{ 'Fn::GetAtt': [lb, 'GroupId'] }, 443, 443]]);
    });

    it('adds hostName to the private hosted zone given, as an alias of the load balancer', () => {
      const [, record] = only(t, 'AWS::Route53::RecordSet');
      const [lbId] = only(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      expect(record.Properties).to.deep.include({ Name: 'resolver.acme.internal.', Type: 'A', HostedZoneId: 'Z0123456789ABCDEFGHIJ' });
      expect(JSON.stringify(record.Properties.AliasTarget)).to.contain(`"Fn::GetAtt":["${lbId}","DNSName"]`);
    });

    it('without a zone, creates no record (the name is yours to point at the load balancer) and says so in the output', () => {
      const t2 = Template.fromStack(synthStack({ certificateArn: CERT, hostName: 'resolver.acme.internal' }).stack);
      t2.resourceCountIs('AWS::Route53::RecordSet', 0);
      expect(JSON.stringify(t2.toJSON().Outputs)).to.contain('resolver.acme.internal must resolve to LoadBalancerDnsName');
    });

    it('refuses a certificate without the name the Lambda calls', () => {
      expect(() => synthStack({ certificateArn: CERT })).to.throw(/certificateArn needs hostName/);
    });
  });

  describe('the AWS endpoints of private subnets without a NAT gateway (createVpcEndpoints)', () => {
    let t: Template;
    before(() => {
      t = Template.fromStack(synthStack({ createVpcEndpoints: true, routeTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0bbbbbbbbbbbbbbb2'] }).stack);
    });

    it('creates none by default', () => {
      template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    });

    it('creates the interface endpoints the tasks and the Lambda call, with private DNS, in the subnets given, behind one security group', () => {
      const endpoints = Object.values(t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } })) as Resource[];
      const names = endpoints.map((e) => JSON.stringify(e.Properties.ServiceName).replace(/"/g, '')).sort();
      // kinesis-streams: the tasks read the domain's event stream (on by default)
      expect(names).to.deep.equal(['ecr.api', 'ecr.dkr', 'kinesis-streams', 'logs', 'profile', 'secretsmanager'].map((n) => `com.amazonaws.${REGION}.${n}`));
      const [sgId] = Object.keys(t.findResources('AWS::EC2::SecurityGroup')).filter((id) => id.startsWith('Endpoints'));
      for (const e of endpoints) {
        expect(e.Properties).to.deep.include({
          PrivateDnsEnabled: true,
          SubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
          SecurityGroupIds: [{ 'Fn::GetAtt': [sgId, 'GroupId'] }],
          VpcId: 'vpc-0123456789abcdef0',
        });
      }
    });

    it('lets HTTPS in from the tasks and the Lambda only', () => {
      const [sgId, sg] = Object.entries(t.findResources('AWS::EC2::SecurityGroup')).find(([id]) => id.startsWith('Endpoints')) as [string, Resource];
      const ingress = [
        ...((sg.Properties.SecurityGroupIngress as Array<Record<string, unknown>>) ?? []),
        ...(Object.values(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] } } })) as Resource[]).map((r) => r.Properties),
      ];
      const from = (prefix: string) => ({ 'Fn::GetAtt': [Object.keys(t.findResources('AWS::EC2::SecurityGroup')).find((id) => id.startsWith(prefix))!, 'GroupId'] });
      expect(ingress.map((r) => [r.SourceSecurityGroupId, r.FromPort, r.ToPort, r.CidrIp])).to.have.deep.members([
        [from('ResolverServiceSecurityGroup'), 443, 443, undefined],
        [from('ResolverCallerSecurityGroup'), 443, 443, undefined],
      ]);
    });

    it('adds the S3 gateway endpoint (ECR image layers) to the route tables given, and none without them', () => {
      const gateways = Object.values(t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Gateway' } })) as Resource[];
      expect(gateways.map((g) => g.Properties.RouteTableIds)).to.deep.equal([['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0bbbbbbbbbbbbbbb2']]);
      expect(JSON.stringify(gateways[0]!.Properties.ServiceName)).to.contain('.s3');
      const { stack } = synthStack({ createVpcEndpoints: true });
      Template.fromStack(stack).resourceCountIs('AWS::EC2::VPCEndpoint', 6);
      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('no S3 gateway endpoint'));
    });

    it('adds no Kinesis endpoint without the event stream (profileEventShards 0)', () => {
      const t0 = Template.fromStack(synthStack({ createVpcEndpoints: true, profileEventShards: 0 }).stack);
      const names = Object.values(t0.findResources('AWS::EC2::VPCEndpoint')).map((e) => JSON.stringify((e as Resource).Properties.ServiceName));
      expect(names).to.have.length(5);
      expect(names.filter((n) => n.includes('kinesis'))).to.deep.equal([]);
    });
  });
});
