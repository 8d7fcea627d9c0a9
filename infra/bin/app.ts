import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ResolverStack } from '../lib/stack.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const app = new App();
const ctx = (name: string): string | undefined => {
  const v: unknown = app.node.tryGetContext(name);
  return typeof v === 'string' && v !== '' ? v : undefined;
};
const required = (name: string): string => {
  const v = ctx(name);
  if (!v) throw new Error(`set the context value "${name}" (cdk.json, or -c ${name}=...): see the README, "Deploy on AWS"`);
  return v;
};
const list = (name: string): string[] => required(name).split(',').map((s) => s.trim()).filter(Boolean);

new ResolverStack(app, ctx('stackName') ?? 'ConnectProfileResolver', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  instanceArn: required('instanceArn'),
  vpcId: required('vpcId'),
  privateSubnetIds: list('privateSubnetIds'),
  availabilityZones: list('availabilityZones'),
  domainName: required('domainName'),
  existingDomain: ctx('existingDomain') === 'true',
  existingDomainKeyArn: ctx('existingDomainKeyArn'),
  objectTypeName: ctx('objectTypeName'),
  repositoryDir: REPO,
  image: ctx('image'),
  lambdaBundleDir: ctx('lambdaBundleDir'),
  lambdaTimeoutSeconds: ctx('lambdaTimeoutSeconds') ? Number(ctx('lambdaTimeoutSeconds')) : undefined,
  stampContacts: ctx('stampContacts') === 'true',
  sampleFlowQueueArn: ctx('sampleFlowQueueArn'),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
