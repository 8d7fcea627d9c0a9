import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface AwsEndpointsProps {
  vpc: ec2.IVpc;
  /** the private subnets the tasks and the Lambda run in: an endpoint's network interface in each */
  subnets: ec2.SubnetSelection;
  /** who calls AWS through them (the tasks, the Lambda): HTTPS from these groups only */
  clients: ec2.ISecurityGroup[];
  /** with their route tables known, the subnets get the S3 gateway endpoint ECR's image layers come through */
  s3Gateway: boolean;
  /** the tasks read the domain's event stream: Kinesis Data Streams too */
  kinesis?: boolean;
}

/**
 * What the tasks and the Lambda reach AWS through in private subnets without a NAT gateway:
 * ECR (`ecr.api`, `ecr.dkr`) for the image, CloudWatch Logs for the tasks' logs, Secrets Manager for
 * the tasks' secrets and the Lambda's token, Customer Profiles (`profile`), and with the event stream
 * Kinesis Data Streams (`kinesis-streams`: the service names its stream by name, so the SDK calls the
 * regional `kinesis.<region>` name this endpoint's private DNS answers; see src/stream/kinesis.ts); S3
 * as a gateway endpoint (free) for ECR's image layers. Not here: Connect (stamping), whose endpoint
 * not every region offers, and STS and KMS, which neither calls (ECS and Lambda hand out the
 * credentials; Customer Profiles uses the domain's key on its side, Kinesis the aws/kinesis key).
 */
export class AwsEndpoints extends Construct {
  readonly securityGroup: ec2.SecurityGroup;
  readonly interfaces: Record<string, ec2.InterfaceVpcEndpoint> = {};

  constructor(scope: Construct, id: string, props: AwsEndpointsProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'connect-profile-resolver: AWS interface endpoints',
      allowAllOutbound: false,
    });
    for (const client of props.clients) this.securityGroup.addIngressRule(client, ec2.Port.tcp(443), 'HTTPS from connect-profile-resolver');
    const services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      CustomerProfiles: ec2.InterfaceVpcEndpointAwsService.CONNECT_PROFILE,
      ...(props.kinesis ? { KinesisStreams: ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS } : {}),
    };
    for (const [name, service] of Object.entries(services)) {
      this.interfaces[name] = new ec2.InterfaceVpcEndpoint(this, name, {
        vpc: props.vpc,
        service,
        subnets: props.subnets,
        securityGroups: [this.securityGroup],
        // the SDKs' default names (profile.<region>.amazonaws.com, ...) resolve to the endpoint
        privateDnsEnabled: true,
        open: false,
      });
    }
    if (props.s3Gateway) {
      new ec2.GatewayVpcEndpoint(this, 'S3', { vpc: props.vpc, service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [props.subnets] });
    }
  }
}
