import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as connect from 'aws-cdk-lib/aws-connect';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';

export interface ContactFlowLambdaProps {
  /** the folder holding index.mjs (`npm run build` writes dist/lambda) */
  bundleDir: string;
  /** the service's base URL, as the Lambda reaches it */
  resolverUrl: string;
  /** the secret holding one of the service's AUTH_TOKENS */
  token: secretsmanager.ISecret;
  /** the Amazon Connect instance that invokes it */
  instanceArn: string;
  /**
   * The flow block's InvocationTimeLimitSeconds (Connect waits at most 8 s; 3 s is the block's
   * default). The Lambda's timeout is a second less (at least 1 s): a cold start counts against
   * the flow's wait but not against the Lambda's timeout, and the handler answers its fallback
   * RESOLVER_MARGIN_MS before its own timeout.
   */
  timeoutSeconds: number;
  /** to reach an internal load balancer */
  vpc?: ec2.IVpc | undefined;
  vpcSubnets?: ec2.SubnetSelection | undefined;
  securityGroups?: ec2.ISecurityGroup[] | undefined;
}

/**
 * The contact-flow Lambda (src/lambda/handler.ts): on the current Node.js runtime, allowed to be
 * invoked by this Connect instance only, and added to the instance's Lambda functions so flows can
 * pick it.
 */
export class ContactFlowLambda extends Construct {
  readonly fn: lambda.Function;
  readonly association: connect.CfnIntegrationAssociation;

  constructor(scope: Construct, id: string, props: ContactFlowLambdaProps) {
    super(scope, id);
    if (!existsSync(join(props.bundleDir, 'index.mjs'))) {
      throw new Error(`${join(props.bundleDir, 'index.mjs')} is missing: run \`npm run build\` in the repository first`);
    }
    if (!Number.isInteger(props.timeoutSeconds) || props.timeoutSeconds < 1 || props.timeoutSeconds > 8) {
      throw new Error('timeoutSeconds must be a whole number from 1 to 8 (Connect waits at most 8 s for a Lambda)');
    }
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    this.fn = new lambda.Function(this, 'Function', {
      description: 'connect-profile-resolver: forwards the contact to the resolver service and returns its attributes',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(props.bundleDir),
      memorySize: 256,
      timeout: Duration.seconds(Math.max(1, props.timeoutSeconds - 1)),
      logGroup,
      environment: {
        RESOLVER_URL: props.resolverUrl,
        // the token itself stays in Secrets Manager: the handler reads it (and re-reads it every 5 minutes)
        RESOLVER_TOKEN_SECRET_ID: props.token.secretArn,
      },
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
    });
    // the one call the handler makes to AWS (grantRead would add DescribeSecret, which it never calls)
    this.fn.addToRolePolicy(new iam.PolicyStatement({ sid: 'ReadServiceToken', actions: ['secretsmanager:GetSecretValue'], resources: [props.token.secretArn] }));
    for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
      acknowledge(
        this.fn,
        `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`,
        "AWS's own minimal policies for a function's logs and, in a VPC, its network interfaces: what the CDK attaches to every such function.",
      );
    }

    // Connect invokes it on behalf of this instance only (confused deputy: source ARN and account)
    this.fn.addPermission('InvokedByConnect', {
      principal: new iam.ServicePrincipal('connect.amazonaws.com'),
      sourceArn: props.instanceArn,
      sourceAccount: Stack.of(this).account,
    });
    // the flow editor lists only the instance's associated functions (an L1: there is no L2 for Connect)
    this.association = new connect.CfnIntegrationAssociation(this, 'Association', {
      instanceId: props.instanceArn,
      integrationType: 'LAMBDA_FUNCTION',
      integrationArn: this.fn.functionArn,
    });
  }
}
