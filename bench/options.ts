// The benchmark's options (the command line) and the settings every run shares.
//   npm run bench                            every scenario, a markdown table, bench/results/<time>.json
//   npm run bench -- --soak [--minutes N]    the cache-hit path for N minutes (default 3), RSS over time
// Options: --seconds S (measured part of each main scenario, default 15; the secondary ones get half), --warmup S
// (default 3), --connections N (default 32), --latency MS (the fake's latency per AWS call, default 50), --only
// id,id (the ids of bench/scenarios.ts: floor, hit-low, hit, hit-open-25, hit-open-50, floor-open-25,
// floor-open-50, hit-pool-low, hit-pool, known, known-load, records, new, new-load, naive-known, naive-known-load,
// naive-new, naive-new-load, naive-repeat-low, naive-repeat, outage, outage-burst, known-enrich, hit-enrich,
// association, surge; an open-loop row needs `hit`, whose rate sets it), --keep-logs (the service's logs), --strict (exit 1 when a
// target fails), --quiet-wait S (the most time, over the whole run, spent waiting for other work on the machine
// to calm down and measuring disturbed scenarios again; default 90), --low-connections N (the concurrency of the
// latency comparisons, default 4), --cpu-prof (V8 CPU profiles of the service's threads in
// bench/results/profiles/<service>/).
import { parseArgs } from 'node:util';

export interface Options {
  soak: boolean;
  minutes: number;
  /** the measured part of each main scenario */
  seconds: number;
  warmup: number;
  connections: number;
  /** the fake's latency per AWS call, ms */
  latency: number;
  /** the scenarios to run (undefined: all) */
  only: ReadonlySet<string> | undefined;
  keepLogs: boolean;
  strict: boolean;
  quietWaitSeconds: number;
  cpuProf: boolean;
  lowConnections: number;
}

export function parseOptions(argv: string[] = process.argv.slice(2)): Options {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      soak: { type: 'boolean', default: false },
      minutes: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '32' },
      latency: { type: 'string', default: '50' },
      only: { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      'quiet-wait': { type: 'string', default: '90' },
      'cpu-prof': { type: 'boolean', default: false },
      'low-connections': { type: 'string', default: '4' },
    },
  });
  const positive = (name: 'minutes' | 'seconds' | 'warmup' | 'connections' | 'latency' | 'low-connections'): number => {
    const v = Number(args[name]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number`);
    return v;
  };
  const quietWaitSeconds = Number(args['quiet-wait']);
  if (!Number.isFinite(quietWaitSeconds) || quietWaitSeconds < 0) throw new Error('--quiet-wait: expected a number of seconds, 0 or more');
  return {
    soak: args.soak,
    minutes: positive('minutes'),
    seconds: positive('seconds'),
    warmup: positive('warmup'),
    connections: positive('connections'),
    latency: positive('latency'),
    only: args.only ? new Set(args.only.split(',').filter((id) => id !== '')) : undefined,
    keepLogs: args['keep-logs'],
    strict: args.strict,
    quietWaitSeconds,
    cpuProf: args['cpu-prof'],
    lowConnections: positive('low-connections'),
  };
}

// ---- fixed settings ------------------------------------------------------------------------------------------

/** the service's RESOLVE_DEADLINE_MS */
export const DEADLINE_MS = 2000;
export const DOMAIN = 'bench-domain';
/** callers in the repeat-caller pools */
export const REPEAT_POOL = 2000;
/** callers of the outage scenarios */
export const OUTAGE_CONNECTIONS = 16;
/** the open-loop rates, in % of the service's own closed-loop maximum (the cache hit at --connections) */
export const OPEN_PCTS = [25, 50] as const;
/** the single-service rows' CUSTOMER_PROFILES_ACCOUNT_QUOTA: their fleet share (60% of it) above what they send (bench/servers.ts) */
export const UNPACED_ACCOUNT_QUOTA = 1000;
/** the hit-stream scenario: edits of other profiles a second during its measured run (agents at work), and how many profiles they go round */
export const EDITS_PER_SECOND = 20;
export const EDITED_PROFILES = 200;
/** the fake's latency for the record writes in the records probe, ms: an answer that waited for one takes longer */
export const SLOW_RECORD_WRITE_MS = 1000;
/** CPU used by processes that are not the benchmark's, in % of one core, above which a run is measured again */
export const BUSY_PCT = 20;
/** the same for the hypervisor's steal (this VM wanted to run and did not) */
export const STEAL_PCT = 30;
/** the enrichment sources of config/attributes.json, one AWS operation each */
export const ENRICH_OPS = ['ListCalculatedAttributesForProfile', 'ListProfileObjects', 'GetSegmentMembership'] as const;
