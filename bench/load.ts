// One load run with autocannon: a fresh body per request, every latency kept (autocannon's own histogram
// rounds to whole milliseconds), the answers tallied so a run of wrong answers cannot pass for a fast one.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';

export interface LoadOptions {
  url: string;
  path?: string;
  connections: number;
  /** a run of this many seconds (requests in flight at the end are cut off: use for warm-ups) ... */
  seconds?: number;
  /** ... or of exactly this many requests, all answered (measured runs) */
  amount?: number;
  timeoutSeconds?: number;
  headers: Record<string, string>;
  /** the body of the next request */
  nextBody: () => string;
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** requests answered 2xx */
  ok: number;
  non2xx: number;
  /** connection errors and timeouts (autocannon counts timeouts as errors too) */
  errors: number;
  timeouts: number;
  elapsedMs: number;
  /** 2xx answers per second */
  rps: number;
  /** of the 2xx answers, ms */
  latency: Latency;
  /** `customerStatus` of the answers (`-` when the answer has none) */
  customerStatus: Record<string, number>;
  contactRecordStatus: Record<string, number>;
  /** answers per second over the second half of the run (a warm-up's steady rate) */
  lateRps: number;
  /** every 2xx latency, ms */
  raw: Float64Array;
}

const STATUS = /"customerStatus":"([A-Z_]+)"/;
const RECORD = /"contactRecordStatus":"([A-Z]+)"/;

/** Counts a 2xx answer's `customerStatus` (`-` when it has none) and `contactRecordStatus`. */
export function tallyAnswer(body: string, customerStatus: Record<string, number>, contactRecordStatus: Record<string, number>): void {
  const s = STATUS.exec(body)?.[1] ?? '-';
  customerStatus[s] = (customerStatus[s] ?? 0) + 1;
  const r = RECORD.exec(body)?.[1];
  if (r) contactRecordStatus[r] = (contactRecordStatus[r] ?? 0) + 1;
}

export function percentiles(values: Float64Array): Latency {
  const n = values.length;
  if (n === 0) return { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const sorted = values.slice().sort();
  const at = (q: number): number => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] ?? NaN;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted[n - 1] ?? NaN, mean: sum / n };
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const customerStatus: Record<string, number> = {};
  const contactRecordStatus: Record<string, number> = {};
  const started = performance.now();
  const halfway = started + ((o.seconds ?? 0) * 1000) / 2;
  let late = 0;
  const instance = autocannon({
    url: o.url,
    connections: o.connections,
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.seconds ?? 10 }),
    timeout: o.timeoutSeconds ?? 10,
    requests: [
      {
        method: 'POST',
        path: o.path ?? '/v1/resolve',
        headers: o.headers,
        setupRequest: (req) => ({ ...req, body: o.nextBody() }),
        onResponse: (status, body) => {
          if (status >= 200 && status < 300) tallyAnswer(body, customerStatus, contactRecordStatus);
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 200 || status >= 300) return;
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n++] = ms;
    if (performance.now() > halfway) late++;
  });
  const result = await instance;
  const elapsedMs = performance.now() - started;
  return {
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedMs,
    rps: (result['2xx'] / elapsedMs) * 1000,
    latency: percentiles(latencies.subarray(0, n)),
    customerStatus,
    contactRecordStatus,
    lateRps: o.seconds ? (late / Math.max(1, elapsedMs - (halfway - started))) * 1000 : (result['2xx'] / elapsedMs) * 1000,
    raw: latencies.subarray(0, n),
  };
}

/**
 * `callers` clients of one connection each, started `spacingMs` apart, each sending `amount / callers` requests
 * in sequence: arrivals spread out in time, as independent calls arrive, instead of every connection starting
 * (and, when each request takes the same time, staying) in step.
 */
export async function runStaggered(o: LoadOptions & { amount: number; spacingMs: number }): Promise<LoadResult> {
  const started = performance.now();
  const each = Math.max(1, Math.round(o.amount / o.connections));
  const runs = await Promise.all(
    Array.from({ length: o.connections }, (_, i) =>
      new Promise((r) => setTimeout(r, i * o.spacingMs)).then(() => runLoad({ ...o, connections: 1, amount: each })),
    ),
  );
  const elapsedMs = performance.now() - started;
  const raw = new Float64Array(runs.reduce((s, r) => s + r.raw.length, 0));
  let at = 0;
  for (const r of runs) {
    raw.set(r.raw, at);
    at += r.raw.length;
  }
  const sum = (pick: (r: LoadResult) => number): number => runs.reduce((s, r) => s + pick(r), 0);
  const tally = (pick: (r: LoadResult) => Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const r of runs) for (const [k, v] of Object.entries(pick(r))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const ok = sum((r) => r.ok);
  return {
    ok,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    elapsedMs,
    rps: (ok / elapsedMs) * 1000,
    latency: percentiles(raw),
    customerStatus: tally((r) => r.customerStatus),
    contactRecordStatus: tally((r) => r.contactRecordStatus),
    lateRps: (ok / elapsedMs) * 1000,
    raw,
  };
}
