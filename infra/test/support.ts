import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { App, Validations } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ResolverStack, type ResolverStackProps } from '../lib/stack.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const ACCOUNT = '111122223333';
export const REGION = 'eu-west-2';
export const INSTANCE_ARN = `arn:aws:connect:${REGION}:${ACCOUNT}:instance/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d`;
export const DOMAIN = 'amazon-connect-acme';

export function stackProps(over: Partial<ResolverStackProps> = {}): ResolverStackProps {
  return {
    env: { account: ACCOUNT, region: REGION },
    instanceArn: INSTANCE_ARN,
    vpcId: 'vpc-0123456789abcdef0',
    privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
    availabilityZones: [`${REGION}a`, `${REGION}b`],
    domainName: DOMAIN,
    repositoryDir: REPO,
    image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/connect-profile-resolver:0.1.0`,
    // a stand-in for dist/lambda, so the tests need no build
    lambdaBundleDir: join(REPO, 'infra/test/fixtures/lambda-bundle'),
    ...over,
  };
}

/** cfn-lint's version, or undefined where it is not installed */
export const CFN_LINT: string | undefined = (() => {
  const r = spawnSync('cfn-lint', ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? undefined : r.stdout.trim();
})();

/** A new app with the stack; `nag`: with cdk-nag's AwsSolutions pack, as infra/bin/app.ts runs it. */
export function synthStack(over: Partial<ResolverStackProps> = {}, o: { nag?: boolean; context?: Record<string, unknown> } = {}): { app: App; stack: ResolverStack } {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'cdk-')),
    context: o.context ?? {},
    // the CDK's own template validation costs seconds a synthesis; cfn-lint checks the templates where it is installed
    builtinCloudFormationValidation: CFN_LINT === undefined,
  });
  const stack = new ResolverStack(app, 'ConnectProfileResolver', stackProps(over));
  if (o.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

export interface Statement {
  Sid?: string;
  Effect: string;
  /** always a list (CDK renders one action as a string) */
  Action: string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

/** A policy document's statements. */
export function statements(doc: unknown): Statement[] {
  return ((doc as { Statement: Array<Record<string, unknown>> }).Statement ?? []).map((s) => ({
    ...(s as { Effect: string; Resource: unknown }),
    Action: ([] as string[]).concat(s.Action as string | string[]),
  }));
}

/** The statements of the IAM policies attached to the roles whose logical ids start with `rolePrefix`. */
export function rolePolicyStatements(template: Template, rolePrefix: string): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Array<{ Properties: { Roles: Array<{ Ref: string }>; PolicyDocument: unknown } }>;
  return policies.filter((p) => p.Properties.Roles.some((r) => r.Ref.startsWith(rolePrefix))).flatMap((p) => statements(p.Properties.PolicyDocument));
}

