import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

const METADATA = 'connect-profile-resolver:acknowledged';
/** context flag: record acknowledgements but do not pass them to cdk-nag (a test sees the raw findings) */
export const RAW_FINDINGS = 'connect-profile-resolver:raw-findings';

/**
 * Leaves a cdk-nag finding on `scope` (and what it contains) as it is, for `reason`. Every call is
 * recorded on the construct, so a test can list what the app acknowledges and check each against
 * the findings it answers.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  scope.node.addMetadata(METADATA, { id, reason });
  if (scope.node.tryGetContext(RAW_FINDINGS) === true) return;
  Validations.of(scope).acknowledge({ id, reason });
}

export interface Acknowledgement {
  path: string;
  id: string;
  reason: string;
}

export function acknowledgements(root: IConstruct): Acknowledgement[] {
  return root.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === METADATA).map((m) => ({ path: c.node.path, ...(m.data as { id: string; reason: string }) })));
}

/** A Customer Profiles ARN as cdk-nag spells it in a finding's id: pseudo parameters as <AWS::Name>. */
export function nagProfileArn(scope: IConstruct, resource: string): string {
  const stack = Stack.of(scope);
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  return `arn:<AWS::Partition>:profile:${region}:${account}:${resource}`;
}
