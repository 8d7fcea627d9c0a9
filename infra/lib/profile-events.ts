import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as customerprofiles from 'aws-cdk-lib/aws-customerprofiles';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import type { ProfilesDomain } from './profiles-domain.js';

export interface ProfileEventsProps {
  domain: ProfilesDomain;
  /** the Kinesis stream's shards (provisioned): each takes 1,000 records a second in */
  shards: number;
  /** the event stream's name in the domain (1-64 letters, digits, _ or -) */
  eventStreamName?: string;
}

/**
 * The domain's event stream (docs/profile-events.md): a Kinesis data stream, and the domain's
 * `AWS::CustomerProfiles::EventStream` that writes every profile change to it. The service reads it
 * (PROFILE_EVENT_STREAM_ARN) to drop what it caches of profiles changed elsewhere. Customer Profiles
 * writes through its own service-linked role: CreateEventStream gives that role its permission on
 * the stream, nothing here grants it.
 */
export class ProfileEvents extends Construct {
  readonly stream: kinesis.Stream;
  readonly eventStream: customerprofiles.CfnEventStream;

  constructor(scope: Construct, id: string, props: ProfileEventsProps) {
    super(scope, id);
    const eventStreamName = props.eventStreamName ?? 'connect-profile-resolver';
    // CreateEventStream: EventStreamName "Length Constraints: Minimum length of 1. Maximum length of 64. Pattern: ^[a-zA-Z0-9_-]+$"
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(eventStreamName)) throw new Error(`eventStreamName: 1-64 letters, digits, _ or -, got "${eventStreamName}"`);
    if (!Number.isInteger(props.shards) || props.shards < 1) throw new Error(`shards: a whole number of 1 or more, got ${props.shards}`);

    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode: kinesis.StreamMode.PROVISIONED,
      shardCount: props.shards,
      // the least Kinesis keeps, and plenty: the reader is a poll behind, and a cached lookup lives 15 minutes (CACHE_TTL_SECONDS)
      retentionPeriod: Duration.hours(24),
      // the AWS managed key, aws/kinesis (cdk-nag AwsSolutions-KDS3): Customer Profiles writing and the tasks
      // reading need no grant on a key of the stack's
      encryption: kinesis.StreamEncryption.MANAGED,
      // a day of change events, read only to drop cached lookups: no reason to keep personal data past the stack
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // CreateEventStream: the stream is "in the same region and Amazon Web Services account as the customer profiles domain"
    this.eventStream = new customerprofiles.CfnEventStream(this, 'EventStream', {
      domainName: props.domain.domainName,
      eventStreamName,
      uri: this.stream.streamArn,
    });
    // a domain the stack creates exists first; an existing one already does
    if (props.domain.domain) this.eventStream.addResourceDependency(props.domain.domain);
  }

  get streamArn(): string {
    return this.stream.streamArn;
  }
}
