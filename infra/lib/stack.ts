import { Annotations, CfnOutput, Stack, Token, type StackProps } from 'aws-cdk-lib';
import { join } from 'node:path';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import type { Construct } from 'constructs';
import { ContactFlowLambda } from './contact-flow-lambda.js';
import { ProfileEvents } from './profile-events.js';
import { ProfilesDomain } from './profiles-domain.js';
import { ResolverService } from './resolver-service.js';
import { SampleContactFlow } from './sample-flow.js';
import { parseInstanceArn } from './settings.js';
import { AwsEndpoints } from './vpc-endpoints.js';

export interface ResolverStackProps extends StackProps {
  /** the Amazon Connect instance: arn:aws:connect:<region>:<account>:instance/<id> */
  instanceArn: string;
  vpcId: string;
  /** the private subnets the service, Redis, the load balancer and the Lambda run in (two zones at least) */
  privateSubnetIds: string[];
  /** their availability zones, in the same order */
  availabilityZones: string[];
  /** their route tables, in the same order (only for the S3 gateway endpoint of `createVpcEndpoints`) */
  routeTableIds?: string[] | undefined;
  /** create the interface endpoints the tasks and the Lambda need (instead of a NAT gateway) */
  createVpcEndpoints?: boolean;
  /** HTTPS from the Lambda to the load balancer: an ACM certificate for `hostName` */
  certificateArn?: string | undefined;
  /** the name the Lambda calls over HTTPS (RESOLVER_URL https://<hostName>); it must resolve to the load balancer */
  hostName?: string | undefined;
  /** a private hosted zone of the VPC: the stack adds `hostName` to it, an alias of the load balancer */
  hostedZoneId?: string | undefined;
  /** a security group allowed to the tasks' metrics port (9464) */
  metricsScraperSecurityGroupId?: string | undefined;
  domainName: string;
  /** the domain exists already (then it is not linked to the instance here: see the README) */
  existingDomain?: boolean;
  /** an existing domain's customer managed KMS key, if it has one */
  existingDomainKeyArn?: string | undefined;
  /** the contact-record object type (RECORD_OBJECT_TYPE); another name than an existing domain's own */
  objectTypeName?: string | undefined;
  /** a new domain: link it to the instance (Connect's contact records flow into it) */
  linkInstance?: boolean;
  /**
   * the shards of the domain's event stream (a Kinesis data stream the service reads to drop cached lookups of
   * profiles changed elsewhere, PROFILE_EVENT_STREAM_ARN); 0: no stream. Default 1
   */
  profileEventShards?: number;
  /** this repository (built: `npm run build`): its Dockerfile and its dist/lambda */
  repositoryDir: string;
  /** the service's image (registry/name:tag); unset: built from the repository's Dockerfile at deploy */
  image?: string | undefined;
  /** the Lambda bundle's folder, if not the repository's dist/lambda */
  lambdaBundleDir?: string | undefined;
  /** the flow block's InvocationTimeLimitSeconds and the Lambda's timeout (1-8) */
  lambdaTimeoutSeconds?: number;
  /** write profileId and customerStatus onto each contact (CONNECT_STAMP) */
  stampContacts?: boolean;
  /** the sample flow transfers to this queue at its end (without one it disconnects) */
  sampleFlowQueueArn?: string | undefined;
  /** more service settings (docs/configuration.md) */
  serviceEnvironment?: Record<string, string>;
}

/** Everything on the AWS side: the domain and its event stream, the service, the contact-flow Lambda and a sample flow. */
export class ResolverStack extends Stack {
  readonly domain: ProfilesDomain;
  /** the domain's event stream; undefined with profileEventShards 0 */
  readonly profileEvents: ProfileEvents | undefined;
  readonly resolver: ResolverService;
  readonly lambda: ContactFlowLambda;
  readonly flow: SampleContactFlow;
  readonly endpoints: AwsEndpoints | undefined;

  constructor(scope: Construct, id: string, props: ResolverStackProps) {
    super(scope, id, props);
    const instance = parseInstanceArn(props.instanceArn);
    if (!instance) throw new Error(`instanceArn: expected arn:<partition>:connect:<region>:<account>:instance/<id>, got "${props.instanceArn}"`);
    // a Lambda is associated with an instance of its own region and account
    for (const [what, mine, its] of [['region', this.region, instance.region], ['account', this.account, instance.account]] as const) {
      if (!Token.isUnresolved(mine) && mine !== its) throw new Error(`the stack's ${what} is ${mine} but the instance's is ${its}: give the stack env { ${what}: '${its}' }`);
    }
    if (props.certificateArn && !props.hostName) throw new Error('certificateArn needs hostName: the name in the certificate that the Lambda calls');
    if (props.privateSubnetIds.length !== props.availabilityZones.length || props.privateSubnetIds.length < 2) {
      throw new Error('privateSubnetIds and availabilityZones: two or more subnets, each with its zone (ElastiCache Multi-AZ and the load balancer need two zones)');
    }
    // no lookup: synthesis needs no AWS account or network
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: props.vpcId,
      availabilityZones: props.availabilityZones,
      privateSubnetIds: props.privateSubnetIds,
    });
    // nothing here reads the subnets' route tables (no gateway endpoints are added)
    Annotations.of(this).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'the stack adds no routes or gateway endpoints to the subnets it is given');
    const subnets = {
      subnets: props.privateSubnetIds.map((id, i) =>
        ec2.Subnet.fromSubnetAttributes(this, `Subnet${i}`, { subnetId: id, availabilityZone: props.availabilityZones[i]!, routeTableId: props.routeTableIds?.[i] }),
      ),
    };

    this.domain = new ProfilesDomain(this, 'ProfilesDomain', {
      domainName: props.domainName,
      existing: props.existingDomain ?? false,
      existingKeyArn: props.existingDomainKeyArn,
      objectTypeName: props.objectTypeName,
      connectInstanceArn: !props.existingDomain && props.linkInstance !== false ? props.instanceArn : undefined,
    });
    const shards = props.profileEventShards ?? 1;
    if (!Number.isInteger(shards) || shards < 0) throw new Error(`profileEventShards: a whole number of shards, 0 for no event stream, got ${shards}`);
    this.profileEvents = shards > 0 ? new ProfileEvents(this, 'ProfileEvents', { domain: this.domain, shards }) : undefined;
    this.resolver = new ResolverService(this, 'Resolver', {
      vpc,
      subnets,
      domain: this.domain,
      image: this.image(props.image, props.repositoryDir),
      stampInstanceArn: props.stampContacts ? props.instanceArn : undefined,
      profileEventStreamArn: this.profileEvents?.streamArn,
      environment: props.serviceEnvironment,
      tls: props.certificateArn && props.hostName ? { certificateArn: props.certificateArn, hostName: props.hostName, hostedZoneId: props.hostedZoneId } : undefined,
      metricsScraperSecurityGroupId: props.metricsScraperSecurityGroupId,
    });
    const timeoutSeconds = props.lambdaTimeoutSeconds ?? 3;
    this.lambda = new ContactFlowLambda(this, 'ContactFlowLambda', {
      bundleDir: props.lambdaBundleDir ?? join(props.repositoryDir, 'dist/lambda'),
      resolverUrl: this.resolver.url,
      token: this.resolver.token,
      instanceArn: props.instanceArn,
      timeoutSeconds,
      vpc,
      vpcSubnets: subnets,
      securityGroups: [this.resolver.callers],
    });
    if (props.createVpcEndpoints) {
      this.endpoints = new AwsEndpoints(this, 'Endpoints', {
        vpc,
        subnets,
        clients: [this.resolver.securityGroup, this.resolver.callers],
        s3Gateway: (props.routeTableIds?.length ?? 0) > 0,
        kinesis: this.profileEvents !== undefined,
      });
      if (!props.routeTableIds?.length) {
        Annotations.of(this.endpoints).addWarningV2(
          'connect-profile-resolver:noS3Gateway',
          'createVpcEndpoints without routeTableIds: no S3 gateway endpoint is added, and ECR image layers come from S3: the subnets need one already, or a NAT gateway',
        );
      }
      if (props.stampContacts) {
        Annotations.of(this.endpoints).addWarningV2(
          'connect-profile-resolver:noConnectEndpoint',
          "stampContacts with createVpcEndpoints: no Connect endpoint is created (not every region offers one): UpdateContactAttributes needs a NAT gateway, or a com.amazonaws.<region>.connect endpoint you add where it exists",
        );
      }
    }
    this.flow = new SampleContactFlow(this, 'SampleFlow', {
      instanceArn: props.instanceArn,
      lambdaArn: this.lambda.fn.functionArn,
      timeLimitSeconds: timeoutSeconds,
      queueArn: props.sampleFlowQueueArn,
    });
    // the flow invokes a function the instance knows: after the association
    this.flow.node.addDependency(this.lambda.association);

    new CfnOutput(this, 'ResolverUrl', {
      value: this.resolver.url,
      description: props.hostName && !props.hostedZoneId ? `the service, inside the VPC: ${props.hostName} must resolve to LoadBalancerDnsName there` : 'the service, inside the VPC',
    });
    new CfnOutput(this, 'LoadBalancerDnsName', { value: this.resolver.loadBalancer.loadBalancerDnsName });
    new CfnOutput(this, 'LambdaArn', { value: this.lambda.fn.functionArn });
    new CfnOutput(this, 'SampleFlowArn', { value: this.flow.flow.attrContactFlowArn });
    new CfnOutput(this, 'ServiceTokenSecret', { value: this.resolver.token.secretArn, description: 'the Lambda token (one of AUTH_TOKENS)' });
    if (this.profileEvents) new CfnOutput(this, 'ProfileEventStream', { value: this.profileEvents.streamArn, description: "the domain's event stream (PROFILE_EVENT_STREAM_ARN)" });
    if (this.domain.deadLetterQueue) new CfnOutput(this, 'DomainDeadLetterQueue', { value: this.domain.deadLetterQueue.queueUrl });
  }

  /** An image in ECR gets the pull permission on its repository; one elsewhere must be public. */
  private image(uri: string | undefined, repositoryDir: string): ecs.ContainerImage {
    // no image: the Dockerfile is built when deploying (Docker on the deploying machine)
    // built for the tasks' CPU (the Fargate default, x86-64), whatever the deploying machine's
    if (!uri) return ecs.ContainerImage.fromAsset(repositoryDir, { platform: Platform.LINUX_AMD64 });
    // <account>.dkr.ecr.<region>.amazonaws.com/<name>[:<tag>][@sha256:<digest>]
    const inEcr = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([^:@]+)(?::([^@]+))?(?:@(sha256:[0-9a-f]{64}))?$/.exec(uri);
    if (!inEcr) return ecs.ContainerImage.fromRegistry(uri);
    const [, account, region, name, tag, digest] = inEcr;
    const repository = ecr.Repository.fromRepositoryAttributes(this, 'ImageRepository', {
      repositoryArn: `arn:aws:ecr:${region}:${account}:repository/${name}`,
      repositoryName: name!,
    });
    return ecs.ContainerImage.fromEcrRepository(repository, digest ?? tag ?? 'latest');
  }
}
