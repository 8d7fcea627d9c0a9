// The reader of the domain's profile event stream, when PROFILE_EVENT_STREAM_ARN is set: Kinesis, the state
// backend's cache and stream store (Redis for a fleet, this process without), metrics. Without the setting: none,
// and nothing changes.
import { createKinesisClient } from '../aws/clients.js';
import type { Config } from '../config/index.js';
import { awsObserver, instrumentAwsClient } from '../ops/aws-instrumentation.js';
import type { Logger } from '../ops/logger.js';
import { profileEventObserver, type Metrics } from '../ops/metrics.js';
import { ProfileEventApplier } from '../stream/apply.js';
import { ProfileEventConsumer } from '../stream/consumer.js';
import { KinesisEventSource } from '../stream/kinesis.js';
import type { StateBackend } from './state.js';

export interface ProfileEvents {
  start(): void;
  /** stops reading and lets its shards go */
  close(): Promise<void>;
  readiness(): Record<string, unknown>;
}

export function profileEvents(config: Config, state: Pick<StateBackend, 'shared' | 'streamStore'>, metrics: Metrics, logger: Logger): ProfileEvents | undefined {
  const o = config.profileEvents;
  if (!o || !config.domain) return undefined;
  const client = createKinesisClient({ region: config.aws.region!, endpoint: config.aws.kinesisEndpoint, requestTimeoutMs: 5000 });
  // counted in the AWS metrics; not in Customer Profiles' reachability (/readyz): the stream failing costs no answer
  instrumentAwsClient(client, 'kinesis', awsObserver(metrics));
  const applier = new ProfileEventApplier({
    cache: state.shared.cache,
    keys: state.shared.keys,
    store: state.streamStore,
    domain: config.domain,
    defaultCountry: config.defaultCountry,
    settleMs: config.resolveDeadlineMs,
  });
  const consumer = new ProfileEventConsumer({
    source: new KinesisEventSource(client, o.streamArn),
    store: state.streamStore,
    applier,
    pollMs: o.pollMs,
    leaseMs: o.leaseMs,
    logger,
    observer: profileEventObserver(metrics),
  });
  metrics.profileEvents.lag = () => consumer.lag();
  return {
    start: () => consumer.start(),
    close: async () => {
      await consumer.stop();
      client.destroy();
    },
    readiness: () => ({ stream: o.streamArn, ...consumer.readiness() }),
  };
}
