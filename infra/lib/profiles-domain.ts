import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as customerprofiles from 'aws-cdk-lib/aws-customerprofiles';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { recordObjectType } from '../../src/records/job.js';
import { acknowledge } from './nag.js';
import { domainArn } from './permissions.js';

export interface ProfilesDomainProps {
  domainName: string;
  /** true: the domain exists already (created in the console or another stack); only the object type is added */
  existing?: boolean;
  /** a new domain's DefaultExpirationDays: how long profile data is kept (1-1098; the console's default is 366) */
  expirationDays?: number;
  /** an existing domain's customer managed key, if it has one: the service needs to use it (see grantUse) */
  existingKeyArn?: string | undefined;
  /** the contact-record object type (the service's RECORD_OBJECT_TYPE) */
  objectTypeName?: string;
  /**
   * A new domain only: link this Amazon Connect instance to it, as the console's "Enable Customer
   * Profiles" does: Connect's contact records (object type CTR, template CTR-NoInferred) flow into it.
   */
  connectInstanceArn?: string | undefined;
}

/** The CloudFormation shape of the object type the service writes, from the definition `npm run setup-domain` uses. */
export function recordObjectTypeProperties(): Pick<customerprofiles.CfnObjectTypeProps, 'description' | 'allowProfileCreation' | 'fields' | 'keys'> {
  const t = recordObjectType();
  return {
    description: t.Description,
    allowProfileCreation: t.AllowProfileCreation,
    fields: Object.entries(t.Fields).map(([name, f]) => ({ name, objectTypeField: { source: f.Source, contentType: f.ContentType, target: f.Target } })),
    keys: Object.entries(t.Keys).map(([name, list]) => ({
      name,
      objectTypeKeyList: list.map((k) => ({ standardIdentifiers: k.StandardIdentifiers, fieldNames: k.FieldNames })),
    })),
  };
}

/**
 * A Customer Profiles domain set up as the Amazon Connect Administrator Guide's "Enable Customer
 * Profiles for your Amazon Connect instance" describes (a customer managed KMS key, a dead-letter
 * queue), plus the contact-record object type the service writes.
 */
export class ProfilesDomain extends Construct {
  readonly domainName: string;
  readonly domainArn: string;
  readonly objectTypeName: string;
  readonly key: kms.IKey | undefined;
  readonly deadLetterQueue: sqs.Queue | undefined;
  readonly domain: customerprofiles.CfnDomain | undefined;
  readonly objectType: customerprofiles.CfnObjectType;

  constructor(scope: Construct, id: string, props: ProfilesDomainProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.domainName = props.domainName;
    this.domainArn = domainArn(this, props.domainName);
    this.objectTypeName = props.objectTypeName ?? 'ResolvedContact';
    // Confused-deputy conditions (Administrator Guide, "Cross-service confused deputy prevention",
    // Customer Profiles): Customer Profiles acts for this account and this domain only.
    const sourceAccount = { 'aws:SourceAccount': stack.account };

    if (props.existing) {
      this.key = props.existingKeyArn ? kms.Key.fromKeyArn(this, 'Key', props.existingKeyArn) : undefined;
    } else {
      const key = new kms.Key(this, 'Key', {
        description: `Customer Profiles domain ${props.domainName}`,
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // "it must have a policy that allows kms:GenerateDataKey, kms:CreateGrant, and kms:Decrypt
      // permissions to the Customer Profiles service principal" (Administrator Guide, "Enable Customer
      // Profiles": "Create a KMS key to be used by Customer Profiles"), with the conditions of the guide's
      // "Example ... policy to create Customer Profile domains": ArnEquals aws:SourceArn, StringEquals aws:SourceAccount.
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CustomerProfilesDomain',
          principals: [new iam.ServicePrincipal('profile.amazonaws.com')],
          actions: ['kms:GenerateDataKey', 'kms:CreateGrant', 'kms:Decrypt'],
          resources: ['*'], // in a key policy, "*" is this key
          conditions: { ArnEquals: { 'aws:SourceArn': this.domainArn }, StringEquals: sourceAccount },
        }),
      );
      this.key = key;

      // Objects Customer Profiles cannot ingest land here instead of being dropped. SQS-managed
      // encryption: Customer Profiles needs no grant on a key to send to it.
      const dlq = new sqs.Queue(this, 'DeadLetterQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // "You must set up a policy on the DeadLetterQueue for the SendMessage operation to enable Amazon
      // Connect Customer Profiles to send messages to the DeadLetterQueue" (CloudFormation reference,
      // AWS::CustomerProfiles::Domain DeadLetterQueueUrl); conditions from the guide's "Example ...
      // policy to create and update dead-letter queues" (both under StringEquals).
      const { policyDependable } = dlq.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CustomerProfilesDeadLetters',
          principals: [new iam.ServicePrincipal('profile.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [dlq.queueArn],
          conditions: { StringEquals: { ...sourceAccount, 'aws:SourceArn': this.domainArn } },
        }),
      );
      acknowledge(dlq, 'AwsSolutions-SQS3', "This queue is Customer Profiles' dead-letter queue (the domain's DeadLetterQueueUrl): what lands here is already a dead letter, read by an operator.");
      this.deadLetterQueue = dlq;

      this.domain = new customerprofiles.CfnDomain(this, 'Domain', {
        domainName: props.domainName,
        defaultExpirationDays: props.expirationDays ?? 366,
        deadLetterQueueUrl: dlq.queueUrl,
        defaultEncryptionKey: key.keyArn,
      });
      // Customer Profiles checks that it may write to the queue when the domain is created
      this.domain.node.addDependency(policyDependable!);
      this.domain.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }

    this.objectType = new customerprofiles.CfnObjectType(this, 'ContactRecordType', {
      domainName: props.domainName,
      objectTypeName: this.objectTypeName,
      ...recordObjectTypeProperties(),
    });
    // deleting an object type deletes its objects (the contact records): the stack leaves it, as the domain
    this.objectType.applyRemovalPolicy(RemovalPolicy.RETAIN);
    if (this.domain) this.objectType.addResourceDependency(this.domain);

    if (props.connectInstanceArn && this.domain) {
      // Amazon Connect's service-linked role may use domains named amazon-connect-* only
      // (AmazonConnectServiceLinkedRolePolicy: profile:* on arn:aws:profile:*:*:domains/amazon-connect-*)
      if (!props.domainName.startsWith('amazon-connect-')) {
        throw new Error(`a domain linked to a Connect instance must be named amazon-connect-...: "${props.domainName}" is not`);
      }
      // Connect's contact records, mapped without inferred profiles: a contact record that matches no
      // profile does not create one (the service creates profiles, exactly once)
      const ctr = new customerprofiles.CfnObjectType(this, 'ConnectContactRecords', {
        domainName: props.domainName,
        objectTypeName: 'CTR',
        templateId: 'CTR-NoInferred',
        description: 'Amazon Connect contact records',
      });
      ctr.addResourceDependency(this.domain);
      ctr.applyRemovalPolicy(RemovalPolicy.RETAIN);
      const link = new customerprofiles.CfnIntegration(this, 'ConnectInstance', {
        domainName: props.domainName,
        uri: props.connectInstanceArn,
        objectTypeName: 'CTR',
      });
      link.addResourceDependency(ctr);
      // deleting the stack does not unlink the instance from a domain it keeps
      link.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }
  }

  /** What a caller of the domain's APIs needs on its customer managed key (Administrator Guide, "Enable Customer Profiles"). */
  grantUse(grantee: iam.IGrantable): void {
    this.key?.grant(grantee, 'kms:Decrypt', 'kms:GenerateDataKey');
  }
}
