import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { REFUSAL_CODES } from '../errors.js';

// Seconds, with buckets up to Connect's 8 s limit for a Lambda (3 s by default): a p99 near the
// flow's budget must be visible, not folded into +Inf.
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8];

const HTTP = ['route', 'method', 'status'] as const;
const OUTCOME = ['customer_status', 'channel', 'source'] as const;
const AWS = ['service', 'operation', 'outcome'] as const;

/**
 * Every metric the service exports, on a private registry. No label ever carries a phone number,
 * an e-mail address, a ContactId or a profile id: every label value comes from a short closed set.
 */
export function createMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'cpr_' });
  /** read at scrape time; set once the record queue exists */
  const queue: { depth?: () => Promise<number>; deadLetters?: () => Promise<number> } = {};
  /** read at scrape time; set when the profile event stream is read */
  const profileEvents: { lag?: () => Array<{ shard: string; seconds: number }> } = {};
  const m = {
    queue,
    profileEvents,
    registry,
    httpRequests: new Counter({ name: 'cpr_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: HTTP, registers: [registry] }),
    httpDuration: new Histogram({
      name: 'cpr_http_request_duration_seconds',
      help: 'HTTP request latency by route, method and status',
      labelNames: HTTP,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'cpr_refusals_total',
      help: `4xx answers by error code (${REFUSAL_CODES.join(', ')}): a burst of INVALID_EVENT is a flow sending what the service cannot read, UNAUTHORIZED a caller with a wrong token`,
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    resolveOutcomes: new Counter({
      name: 'cpr_resolve_outcomes_total',
      help: 'Resolve answers by customerStatus, channel and where the answer came from (customer-profiles, cache, stale-cache, idempotent, earlier-leg, none)',
      labelNames: OUTCOME,
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'cpr_resolve_fallbacks_total',
      help: 'Answers given without Customer Profiles (UNAVAILABLE or a stale cache entry), by reason: timeout, throttled, unavailable, denied, misconfigured',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    awsRequests: new Counter({
      name: 'cpr_aws_requests_total',
      help: 'AWS API calls by service, operation and outcome (success, throttled, client_error, server_error, timeout, network_error)',
      labelNames: AWS,
      registers: [registry],
    }),
    quotaCalls: new Counter({
      name: 'cpr_quota_calls_total',
      help: "Calls that asked the fleet's share of the account's Customer Profiles quota, by operation, priority (live, enrich, background) and result: granted (a slot was free), waited (granted after waiting for a slot), refused (no slot in time: a live caller answered UNAVAILABLE with fallbackReason QUOTA, an enrichment skipped, a background write put back), missed (the process stalled past its slot: the call booked again)",
      labelNames: ['operation', 'priority', 'result'] as const,
      registers: [registry],
    }),
    quotaWait: new Histogram({
      name: 'cpr_quota_wait_seconds',
      help: "How long granted calls waited for their slot in the fleet's share, by operation and priority",
      labelNames: ['operation', 'priority'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8],
      registers: [registry],
    }),
    quotaAwsThrottled: new Counter({
      name: 'cpr_quota_aws_throttled_total',
      help: 'Customer Profiles calls AWS answered with 429 (someone else in the account is using the quota): each one backs the fleet off',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    quotaRate: new Gauge({
      name: 'cpr_quota_rate_per_second',
      help: "The fleet's rate for an operation as last seen: its share, less any back-off after AWS throttled it",
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    quotaShare: new Gauge({
      name: 'cpr_quota_share_per_second',
      help: "The fleet's configured share of the account quota for an operation, in calls a second",
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    awsDuration: new Histogram({
      name: 'cpr_aws_request_duration_seconds',
      help: 'AWS API call latency (all SDK attempts) by service, operation and outcome',
      labelNames: AWS,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'cpr_cache_lookups_total',
      help: 'Profile cache lookups by result: hit (fresh), stale (refreshed from Customer Profiles), miss',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    verificationChecks: new Counter({
      name: 'cpr_verification_checks_total',
      help: 'ID&V checks (contacts with claimed keys: account number, profile id, custom key) by result: verified, not_checked (one key found a profile), failed (the keys disagree or found nobody), locked (the caller or a key was locked: not checked)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    verificationLockouts: new Counter({
      name: 'cpr_verification_lockouts_total',
      help: 'ID&V lockouts by subject: caller (too many failed checks by one caller) or key (too many failed checks claiming one key value, from any callers)',
      labelNames: ['subject'] as const,
      registers: [registry],
    }),
    profileUpdates: new Counter({
      name: 'cpr_profile_updates_total',
      help: 'Profile updates asked for by flows, by status: QUEUED (written in the background, paced with the records), FAILED (could not be queued), NO_PROFILE (the contact was resolved to no profile), NOT_VERIFIED (its ID&V failed)',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    enrichmentCalls: new Counter({
      name: 'cpr_enrichment_calls_total',
      help:
        'Enrichment calls by source (calculated-attributes, object:<type>, segment:<name>) and outcome: success, failed, throttled, timeout, or skipped (the fleet allowance was spent, or the operation was throttled a moment ago)',
      labelNames: ['source', 'outcome'] as const,
      registers: [registry],
    }),
    redisErrors: new Counter({
      name: 'cpr_redis_errors_total',
      help: 'Redis commands that failed or timed out (the service answered without Redis), by operation',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    lockWaits: new Histogram({
      name: 'cpr_create_lock_wait_seconds',
      help: 'Time a contact waited for another replica to create the same new caller’s profile',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    recordJobs: new Counter({
      name: 'cpr_record_jobs_total',
      help: 'Contact-record job events: enqueued, enqueue_failed, written, paced, throttled, retried, dead_lettered',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({ name: 'cpr_record_dead_letters_total', help: 'Contact records that became dead letters', registers: [registry] }),
    queueDepth: new Gauge({
      name: 'cpr_record_queue_depth',
      help: 'Contact records waiting, delayed or in progress',
      registers: [registry],
      async collect() {
        // a Redis outage shows as NaN rather than failing the scrape
        if (queue.depth) this.set(await queue.depth().catch(() => NaN));
      },
    }),
    profileEventsRead: new Counter({
      name: 'cpr_profile_events_total',
      help:
        'Records of the profile event stream read, by EventType (CREATED, UPDATED, MERGED, DELETED, OTHER) and outcome: applied (the cached lookups of the profile were dropped), unchanged (the profile as the last record showed it: nothing dropped), ignored (an object\'s record, another domain\'s), malformed (not an event), failed (the cache could not be reached: read again)',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    profileEventAge: new Histogram({
      name: 'cpr_profile_event_age_seconds',
      help: 'Time from a profile change (the record\'s EventTimestamp) to its record being applied to the cache',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    }),
    profileEventErrors: new Counter({
      name: 'cpr_profile_event_stream_errors_total',
      help: 'Failed calls of the profile event stream reader, by operation (ListShards, GetShardIterator, GetRecords, apply, store) and kind (throttled, expired-iterator, bad-position, not-found, failed)',
      labelNames: ['operation', 'kind'] as const,
      registers: [registry],
    }),
    profileEventLag: new Gauge({
      name: 'cpr_profile_event_stream_lag_seconds',
      help:
        'Per shard this replica reads: how far behind the stream\'s tip the cache may be (the last read\'s MillisBehindLatest plus the time since it). Rises while the stream cannot be read',
      labelNames: ['shard'] as const,
      registers: [registry],
      collect() {
        if (!profileEvents.lag) return;
        this.reset();
        for (const { shard, seconds } of profileEvents.lag()) this.set({ shard }, seconds);
      },
    }),
    deadLetterBacklog: new Gauge({
      name: 'cpr_record_dead_letter_backlog',
      help: 'Dead letters kept, awaiting replay or purge',
      registers: [registry],
      async collect() {
        if (queue.deadLetters) this.set(await queue.deadLetters().catch(() => NaN));
      },
    }),
  };
  // every code has its series from the start, so a first refusal is an increase from 0
  for (const code of REFUSAL_CODES) m.refusals.inc({ code }, 0);
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The profile event stream reader's reports as metrics (the shape of stream/consumer.ts' StreamObserver). */
export function profileEventObserver(m: Metrics) {
  return {
    event: (type: string, outcome: string, ageSeconds: number | undefined): void => {
      m.profileEventsRead.inc({ type, outcome });
      if (ageSeconds !== undefined && (outcome === 'applied' || outcome === 'unchanged')) m.profileEventAge.observe(Math.max(0, ageSeconds));
    },
    error: (operation: string, kind: string): void => void m.profileEventErrors.inc({ operation, kind }),
  };
}

/** Every metric name the service exports (for the dashboard and alert tests). */
export async function exportedMetricNames(metrics: Metrics): Promise<string[]> {
  const all = await metrics.registry.getMetricsAsJSON();
  const names = new Set<string>();
  for (const metric of all) {
    names.add(metric.name);
    // at run time `type` is the exposition format's word ('histogram'), whatever prom-client's typings say
    const type = String(metric.type);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(metric.name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(metric.name + s);
  }
  return [...names].sort();
}

/** The quota allowance's events as metrics (the shape of cache/quota.ts' QuotaObserver). */
export function quotaObserver(m: Metrics) {
  return {
    booked: (operation: string, priority: string, result: string, waitedMs: number, calls: number): void => {
      m.quotaCalls.inc({ operation, priority, result }, calls);
      if (result === 'granted' || result === 'waited') m.quotaWait.observe({ operation, priority }, waitedMs / 1000);
    },
    rate: (operation: string, perSecond: number): void => void m.quotaRate.set({ operation }, perSecond),
    throttled: (operation: string): void => void m.quotaAwsThrottled.inc({ operation }),
  };
}
