import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { AWS_OPERATIONS } from '../../src/aws-operations.js';
import { grantedToService } from '../lib/permissions.js';
import { ACCOUNT, DOMAIN, INSTANCE_ARN, REGION, REPO, rolePolicyStatements, synthStack } from './support.js';

/** the IAM prefix of each AWS SDK client the source imports */
const PREFIX: Record<string, string> = {
  '@aws-sdk/client-customer-profiles': 'profile',
  '@aws-sdk/client-connect': 'connect',
  '@aws-sdk/client-kinesis': 'kinesis',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
};

/** Every `new <Operation>Command(` in the TypeScript under `dir`, as `prefix:Operation`, by file. */
function sdkCalls(dir: string): Map<string, string[]> {
  const calls = new Map<string, string[]>();
  const add = (call: string, file: string): void => void calls.set(call, [...(calls.get(call) ?? []), relative(REPO, join(REPO, dir, file))]);
  const files = readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const f of files) {
    const source = readFileSync(join(REPO, dir, f), 'utf8');
    // import { ... } from '@aws-sdk/client-x', or const { ... } = await import('@aws-sdk/client-x')
    for (const [, names, from] of source.matchAll(/\{([^}]*)\}\s*(?:from\s*|=\s*await\s+import\(\s*)'(@aws-sdk\/client-[a-z-]+)'/g)) {
      const prefix = PREFIX[from!];
      for (const name of names!.split(',').map((n) => n.trim().replace(/^type\s+/, ''))) {
        const op = /^(\w+)Command$/.exec(name)?.[1];
        if (!op || !new RegExp(`new ${name}\\(`).test(source)) continue;
        expect(prefix, `the IAM prefix of ${from} (add it to PREFIX)`).to.be.a('string');
        add(`${prefix}:${op}`, f);
      }
    }
    // a client imported whole, on first use: import('@aws-sdk/client-x').then((sdk) => ... new sdk.XCommand(
    const whole = [...source.matchAll(/import\(\s*'(@aws-sdk\/client-[a-z-]+)'\s*\)/g)].map((m) => m[1]!);
    if (whole.length > 0) {
      expect(new Set(whole).size, `${f}: one SDK client imported whole`).to.equal(1);
      const prefix = PREFIX[whole[0]!];
      expect(prefix, `the IAM prefix of ${whole[0]} (add it to PREFIX)`).to.be.a('string');
      for (const [, op] of source.matchAll(/new \w+\.(\w+)Command\(/g)) {
        add(`${prefix}:${op}`, f);
      }
    }
  }
  return calls;
}

/** The actions a role's policies allow, each with its resources. */
function allowed(template: Template, rolePrefix: string): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const s of rolePolicyStatements(template, rolePrefix)) {
    expect(s.Effect).to.equal('Allow');
    for (const a of s.Action) out.set(a, [...(out.get(a) ?? []), ...([] as unknown[]).concat(s.Resource)]);
  }
  return out;
}

/** The service container's environment. */
function environment(template: Template): Array<{ Name: string; Value: unknown }> {
  const [task] = Object.values(template.findResources('AWS::ECS::TaskDefinition')) as Array<{ Properties: { ContainerDefinitions: Array<{ Environment: Array<{ Name: string; Value: unknown }> }> } }>;
  return task!.Properties.ContainerDefinitions[0]!.Environment;
}

const arn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:profile:${REGION}:${ACCOUNT}:domains/${DOMAIN}${rest}`]] });

describe('the AWS CDK app (infra/): the policies cover the code, and no more', function () {
  this.timeout(60_000);
  const service = [...sdkCalls('src')].filter(([, files]) => files.some((f) => !f.startsWith('src/lambda/')));
  const lambda = [...sdkCalls('src/lambda')];

  it('src/aws-operations.ts lists every AWS SDK command the service and its commands send, and nothing else', () => {
    console.log(`        SDK commands in src/ (outside src/lambda): ${service.map(([op]) => op).sort().join(', ')}`);
    expect(service.length, 'commands found').to.be.at.least(10);
    expect(service.map(([op]) => op).sort()).to.deep.equal(AWS_OPERATIONS.map((o) => `${o.service}:${o.operation}`).sort());
  });

  it('the task role allows each of them on this domain (object types, segments), this instance’s contacts or the event stream, and nothing else', () => {
    // stamping on, and the event stream on (its default): every operation a setting turns on is granted
    const template = Template.fromStack(synthStack({ stampContacts: true }).stack);
    const [streamId] = Object.keys(template.findResources('AWS::Kinesis::Stream'));
    const granted = allowed(template, 'ResolverTaskTaskRole');
    const expected = AWS_OPERATIONS.filter(grantedToService).map((o) => `${o.service}:${o.operation}`);
    // the domain's KMS key: Customer Profiles' callers need Decrypt and GenerateDataKey on it (Administrator Guide)
    expect([...granted.keys()].sort()).to.deep.equal([...expected, 'kms:Decrypt', 'kms:GenerateDataKey'].sort());
    const notGranted = AWS_OPERATIONS.filter((o) => !grantedToService(o)).map((o) => `${o.operation} (${o.by})`);
    console.log(`        granted: ${expected.length} operations; not granted: ${notGranted.join(', ')} (the object type is the stack's; a merge is an operator's)`);
    expect(expected.filter((a) => a.startsWith('kinesis:')), 'the event stream’s reads').to.have.length(3);

    for (const [action, resources] of granted) {
      if (action.startsWith('kms:')) continue;
      if (action === 'connect:UpdateContactAttributes') {
        expect(resources).to.deep.equal([`${INSTANCE_ARN}/contact/*`]);
        continue;
      }
      if (action.startsWith('kinesis:')) {
        expect(resources, action).to.deep.equal([{ 'Fn::GetAtt': [streamId, 'Arn'] }]);
        continue;
      }
      const wanted = {
        'profile:PutProfileObject': [arn(''), arn('/object-types/*')],
        'profile:ListProfileObjects': [arn(''), arn('/object-types/*')],
        'profile:GetProfileObjectType': [arn(''), arn('/object-types/*')],
        'profile:GetSegmentMembership': [arn(''), arn('/segment-definitions/*')],
      }[action] ?? [arn('')];
      expect(resources, action).to.deep.equal(wanted);
    }
  });

  it('without CONNECT_STAMP the task role has no Connect permission, and the service is not told to stamp', () => {
    const template = Template.fromStack(synthStack().stack);
    expect([...allowed(template, 'ResolverTaskTaskRole').keys()].filter((a) => !a.startsWith('profile:') && !a.startsWith('kms:') && !a.startsWith('kinesis:'))).to.deep.equal([]);
    expect(environment(template).find((e) => e.Name === 'CONNECT_STAMP')!.Value).to.equal('false');
  });

  it('without the event stream (profileEventShards 0) the task role has no Kinesis permission, and the service is not told of a stream', () => {
    const template = Template.fromStack(synthStack({ profileEventShards: 0, stampContacts: true }).stack);
    const granted = [...allowed(template, 'ResolverTaskTaskRole').keys()];
    expect(granted.filter((a) => a.startsWith('kinesis:'))).to.deep.equal([]);
    // the rest is as with the stream: only the Kinesis reads go
    const expected = AWS_OPERATIONS.filter((o) => grantedToService(o) && o.service !== 'kinesis').map((o) => `${o.service}:${o.operation}`);
    expect(granted.sort()).to.deep.equal([...expected, 'kms:Decrypt', 'kms:GenerateDataKey'].sort());
    expect(environment(template).map((e) => e.Name)).to.not.include('PROFILE_EVENT_STREAM_ARN');
  });

  it('the Lambda role allows what the Lambda’s code sends (its token) and nothing else', () => {
    const template = Template.fromStack(synthStack().stack);
    expect([...allowed(template, 'ContactFlowLambdaFunctionServiceRole').keys()]).to.deep.equal(lambda.map(([op]) => op));
  });
});
