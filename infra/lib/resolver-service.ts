import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53targets from 'aws-cdk-lib/aws-route53-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge, nagProfileArn } from './nag.js';
import type { ProfilesDomain } from './profiles-domain.js';
import { serviceStatements } from './permissions.js';

export interface ResolverServiceProps {
  vpc: ec2.IVpc;
  /** private subnets with a route to AWS APIs (a NAT gateway or VPC endpoints) */
  subnets: ec2.SubnetSelection;
  domain: ProfilesDomain;
  image: ecs.ContainerImage;
  /** the instance whose contacts the service stamps (CONNECT_STAMP); unset: no stamping, no Connect permission */
  stampInstanceArn?: string | undefined;
  /** the domain's event stream, read to drop cached lookups (PROFILE_EVENT_STREAM_ARN); unset: not read, no Kinesis permission */
  profileEventStreamArn?: string | undefined;
  /** tasks: at least, at most (autoscaling on CPU between them) */
  minTasks?: number;
  maxTasks?: number;
  /** Fargate task size */
  cpu?: number;
  memoryMiB?: number;
  cpuArchitecture?: ecs.CpuArchitecture;
  /** ElastiCache node type of each of the two nodes */
  cacheNodeType?: string;
  /** the most a SIGTERM drain may take (SHUTDOWN_GRACE_MS) */
  drainSeconds?: number;
  /** more settings for the service (names: docs/configuration.md) */
  environment?: Record<string, string>;
  /**
   * HTTPS between the Lambda and the load balancer: an ACM certificate (in the stack's region) for
   * `hostName`, the name the Lambda calls; without it the listener is plain HTTP on port 80.
   */
  tls?: { certificateArn: string; hostName: string; hostedZoneId?: string | undefined } | undefined;
  /** a security group (Prometheus, an ADOT collector) allowed to the tasks' metrics port, METRICS_PORT */
  metricsScraperSecurityGroupId?: string | undefined;
}

/** Redis on a port other than the default (cdk-nag AwsSolutions-AEC5) */
const REDIS_PORT = 6380;
const SERVICE_PORT = 8080;
/** the service's own listener for /metrics (METRICS_PORT): never behind the load balancer */
export const METRICS_PORT = 9464;

/** A generated random string (Secrets Manager's generator): nothing secret is in the template or the repository. */
function generated(scope: Construct, id: string, description: string, generate: secretsmanager.SecretStringGenerator = {}): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, id, {
    description,
    generateSecretString: { passwordLength: 64, excludePunctuation: true, ...generate },
    removalPolicy: RemovalPolicy.DESTROY,
  });
  acknowledge(
    secret,
    'AwsSolutions-SMG4',
    'Rotating it is a roll of the whole fleet, not a Lambda: tokens and data keys take a new value beside the old one until every replica has it (docs/security.md gives the steps).',
  );
  return secret;
}

/**
 * The resolver service on ECS Fargate behind an internal Application Load Balancer, with its shared
 * state in ElastiCache (Redis OSS, cluster mode, TLS, AUTH) and its secrets in Secrets Manager.
 */
export class ResolverService extends Construct {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly url: string;
  /** one of the service's AUTH_TOKENS: the Lambda's */
  readonly token: secretsmanager.Secret;
  readonly redis: elasticache.CfnReplicationGroup;
  readonly taskRole: ecs.TaskDefinition['taskRole'];
  /** who may call the service (the Lambda's security group is added here) */
  readonly callers: ec2.SecurityGroup;
  /** the tasks' own security group */
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ResolverServiceProps) {
    super(scope, id);
    const drainSeconds = props.drainSeconds ?? 10;
    const listenerPort = props.tls ? 443 : 80;

    // --- secrets: generated in Secrets Manager, read by ECS into the container's environment
    this.token = generated(this, 'ServiceToken', 'connect-profile-resolver: bearer token of the contact-flow Lambda (AUTH_TOKENS)');
    const identitySecret = generated(this, 'IdentityHashSecret', 'connect-profile-resolver: IDENTITY_HASH_SECRET (HMAC key of Redis key names)');
    // DATA_KEYS in its JSON form {"<key id>": "<random>"}: the service derives each AES-256 key with HKDF
    const dataKeys = generated(this, 'DataKeys', 'connect-profile-resolver: DATA_KEYS (AES-256-GCM keys of personal data in Redis), {"id": "secret"}, newest first', {
      secretStringTemplate: '{}',
      generateStringKey: 'k1',
    });
    // ElastiCache AUTH: 16-128 printable characters, without punctuation to stay clear of the forbidden / " @
    const redisAuth = generated(this, 'RedisAuthToken', 'connect-profile-resolver: ElastiCache AUTH token');

    // --- network
    const serviceSg = new ec2.SecurityGroup(this, 'ServiceSecurityGroup', { vpc: props.vpc, description: 'connect-profile-resolver tasks', allowAllOutbound: true });
    const redisSg = new ec2.SecurityGroup(this, 'RedisSecurityGroup', { vpc: props.vpc, description: 'connect-profile-resolver Redis', allowAllOutbound: false });
    redisSg.addIngressRule(serviceSg, ec2.Port.tcp(REDIS_PORT), 'the service');
    const lbSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', { vpc: props.vpc, description: 'connect-profile-resolver internal load balancer', allowAllOutbound: false });
    this.callers = new ec2.SecurityGroup(this, 'CallerSecurityGroup', { vpc: props.vpc, description: 'callers of connect-profile-resolver (the contact-flow Lambda)', allowAllOutbound: false });
    lbSg.addIngressRule(this.callers, ec2.Port.tcp(listenerPort), 'the contact-flow Lambda');
    this.callers.addEgressRule(lbSg, ec2.Port.tcp(listenerPort), 'the service');
    // the Lambda reads its token from Secrets Manager (HTTPS, through the subnets' NAT gateway or endpoint)
    this.callers.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs (Secrets Manager)');
    lbSg.addEgressRule(serviceSg, ec2.Port.tcp(SERVICE_PORT), 'the tasks');
    serviceSg.addIngressRule(lbSg, ec2.Port.tcp(SERVICE_PORT), 'the load balancer');
    // /metrics is on its own port, open to the scraper only (not to the load balancer or the Lambda)
    if (props.metricsScraperSecurityGroupId) {
      serviceSg.addIngressRule(ec2.Peer.securityGroupId(props.metricsScraperSecurityGroupId), ec2.Port.tcp(METRICS_PORT), 'the metrics scraper (/metrics)');
    }
    this.securityGroup = serviceSg;

    // --- Redis: the cache, the locks, and the durable record queue
    const subnetIds = props.vpc.selectSubnets(props.subnets).subnetIds;
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'RedisSubnets', { description: 'connect-profile-resolver Redis', subnetIds });
    const parameters = new elasticache.CfnParameterGroup(this, 'RedisParameters', {
      cacheParameterGroupFamily: 'redis7',
      description: 'connect-profile-resolver: cluster mode, never evict (the record queue lives in Redis)',
      properties: { 'cluster-enabled': 'yes', 'maxmemory-policy': 'noeviction' },
    });
    // L1: aws-cdk-lib has no L2 for ElastiCache
    this.redis = new elasticache.CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'connect-profile-resolver shared state',
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: props.cacheNodeType ?? 'cache.t4g.small',
      cacheParameterGroupName: parameters.ref,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [redisSg.securityGroupId],
      port: REDIS_PORT,
      // one shard, a primary and a replica in another zone that takes over on failure
      numNodeGroups: 1,
      replicasPerNodeGroup: 1,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      authToken: redisAuth.secretValue.unsafeUnwrap(), // a {{resolve:secretsmanager:...}} reference, not the value
      snapshotRetentionLimit: 1,
    });

    // --- the service
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const memoryMiB = props.memoryMiB ?? 1024;
    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu ?? 512,
      memoryLimitMiB: memoryMiB,
      runtimePlatform: { cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const statements = serviceStatements(this, {
      domainName: props.domain.domainName,
      stamping: props.stampInstanceArn ? { instanceArn: props.stampInstanceArn } : undefined,
      profileEventStreamArn: props.profileEventStreamArn,
    });
    for (const s of statements) {
      task.addToTaskRolePolicy(s);
    }
    props.domain.grantUse(task.taskRole);
    for (const kind of ['object-types', 'segment-definitions']) {
      acknowledge(
        task,
        `AwsSolutions-IAM5[Resource::${nagProfileArn(this, `domains/${props.domain.domainName}/${kind}/*`)}]`,
        `The attribute mapping (config/attributes.json, read at start) names the ${kind} it reads (Objects.<Type>, Segments.<name>): any of this domain's, never another domain's.`,
      );
    }
    this.taskRole = task.taskRole;

    if (props.stampInstanceArn) {
      acknowledge(
        task,
        `AwsSolutions-IAM5[Resource::${props.stampInstanceArn}/contact/*]`,
        'UpdateContactAttributes is authorised per contact, and contacts are not known in advance: any contact of this one instance.',
      );
    }
    acknowledge(task, 'AwsSolutions-ECS2', 'Only non-secret settings are environment values; the tokens, keys and Redis AUTH come from Secrets Manager (`secrets`).');
    task.addContainer('resolver', {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: true,
      // the load balancer's port first; the metrics port for a scraper inside the VPC
      portMappings: [
        { containerPort: SERVICE_PORT, name: 'http' },
        { containerPort: METRICS_PORT, name: 'metrics' },
      ],
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'resolver' }),
      // ECS sends SIGTERM once the load balancer has drained the task, then SIGKILL after stopTimeout:
      // the drain (SHUTDOWN_GRACE_MS) ends first, with a few seconds to spare
      stopTimeout: Duration.seconds(drainSeconds + 5),
      environment: {
        NODE_ENV: 'production',
        PORT: String(SERVICE_PORT),
        METRICS_PORT: String(METRICS_PORT),
        NODE_OPTIONS: `--max-old-space-size=${Math.floor(memoryMiB * 0.6)}`,
        AWS_REGION: Stack.of(this).region,
        CUSTOMER_PROFILES_DOMAIN: props.domain.domainName,
        RECORD_OBJECT_TYPE: props.domain.objectTypeName,
        REDIS_CLUSTER_NODES: `${this.redis.attrConfigurationEndPointAddress}:${this.redis.attrConfigurationEndPointPort}`,
        REDIS_CLUSTER_TLS: 'true',
        SHUTDOWN_GRACE_MS: String(drainSeconds * 1000),
        CONNECT_STAMP: props.stampInstanceArn ? 'true' : 'false',
        ...(props.profileEventStreamArn ? { PROFILE_EVENT_STREAM_ARN: props.profileEventStreamArn } : {}),
        LOG_LEVEL: 'info',
        ...props.environment,
      },
      secrets: {
        AUTH_TOKENS: ecs.Secret.fromSecretsManager(this.token),
        DATA_KEYS: ecs.Secret.fromSecretsManager(dataKeys),
        IDENTITY_HASH_SECRET: ecs.Secret.fromSecretsManager(identitySecret),
        REDIS_CLUSTER_PASSWORD: ecs.Secret.fromSecretsManager(redisAuth),
      },
    });

    if (props.image instanceof ecs.EcrImage || props.image instanceof ecs.AssetImage) {
      acknowledge(
        task,
        'AwsSolutions-IAM5[Resource::*]',
        "The execution role's ecr:GetAuthorizationToken, which ECR authorises on no resource (\"*\" is the only form); the image pull itself is on the one repository.",
      );
    }
    const minTasks = props.minTasks ?? 2;
    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      desiredCount: minTasks,
      vpcSubnets: props.subnets,
      securityGroups: [serviceSg],
      assignPublicIp: false,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
    });
    // its first records need their object type: the tasks start once it exists
    this.service.node.addDependency(props.domain.objectType);
    const scaling = this.service.autoScaleTaskCount({ minCapacity: minTasks, maxCapacity: props.maxTasks ?? 10 });
    // a cache hit costs about half a millisecond of CPU: CPU is what fills up first
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60, scaleInCooldown: Duration.minutes(5), scaleOutCooldown: Duration.minutes(1) });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: false,
      vpcSubnets: props.subnets,
      securityGroup: lbSg,
      dropInvalidHeaderFields: true,
    });
    acknowledge(
      this.loadBalancer,
      'AwsSolutions-ELB2',
      'An internal load balancer with one caller (the Lambda): the service logs every call with its ContactId, status and time to CloudWatch Logs.',
    );
    const listener = props.tls
      ? this.loadBalancer.addListener('Https', {
          port: listenerPort,
          protocol: elbv2.ApplicationProtocol.HTTPS,
          certificates: [elbv2.ListenerCertificate.fromArn(props.tls.certificateArn)],
          sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
          open: false,
        })
      : this.loadBalancer.addListener('Http', { port: listenerPort, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    listener.addTargets('Tasks', {
      port: SERVICE_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      // the service port, named: the first port mapping would do today, the metrics port never may
      targets: [this.service.loadBalancerTarget({ containerName: 'resolver', containerPort: SERVICE_PORT })],
      healthCheck: { path: '/healthz', interval: Duration.seconds(10), timeout: Duration.seconds(2), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
      // Connect waits at most 8 s for the Lambda: no call in flight is older than that
      deregistrationDelay: Duration.seconds(10),
    });
    if (props.tls?.hostedZoneId) {
      // the name the certificate is for, in the VPC's private hosted zone (a trailing dot: the zone's name need not be known)
      new route53.ARecord(this, 'HostName', {
        zone: route53.HostedZone.fromHostedZoneId(this, 'Zone', props.tls.hostedZoneId),
        recordName: `${props.tls.hostName}.`,
        target: route53.RecordTarget.fromAlias(new route53targets.LoadBalancerTarget(this.loadBalancer)),
      });
    }
    this.url = props.tls ? `https://${props.tls.hostName}` : `http://${this.loadBalancer.loadBalancerDnsName}`;
  }
}
