// An open-loop load: requests sent at times fixed in advance (evenly spaced, or Poisson arrivals), whatever
// the answers to earlier ones, as contacts arrive. Each latency is counted from the time its request was
// due, not from when it went out: a stall of the server (or of this sender) shows as the queue it causes,
// which a closed loop of N connections hides (a slow answer there only delays the next request).
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentiles, tallyAnswer, type LoadResult } from './load.js';

export interface OpenLoopOptions {
  url: string;
  path?: string;
  headers: Record<string, string>;
  nextBody: () => string;
  /** offered requests per second */
  ratePerSecond: number;
  /** requests in the run ... */
  count: number;
  /** ... unless this much time has passed first: the rest are not sent (counted in `unsent`) */
  maxSeconds: number;
  spacing: 'fixed' | 'poisson';
  /** a request not answered in this time counts as a timeout */
  timeoutMs?: number;
  /** of the Poisson arrivals: the same seed, the same schedule */
  seed?: number;
}

export interface OpenLoopResult extends LoadResult {
  offeredRps: number;
  /** requests due but not sent before maxSeconds */
  unsent: number;
  /** how late this sender put requests on the wire, ms (its own lag, included in every latency) */
  sendLag: { p50: number; p99: number; max: number };
}

/** mulberry32: a small seeded PRNG, so two runs offer the same arrival times */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The due times, ms from the start: evenly spaced, or exponential gaps of the same mean (Poisson arrivals). */
export function schedule(o: Pick<OpenLoopOptions, 'ratePerSecond' | 'count' | 'spacing' | 'seed'>): Float64Array {
  const gap = 1000 / o.ratePerSecond;
  const due = new Float64Array(o.count);
  const next = random(o.seed ?? 1);
  let t = 0;
  for (let i = 0; i < o.count; i++) {
    due[i] = t;
    t += o.spacing === 'fixed' ? gap : -Math.log(1 - next()) * gap;
  }
  return due;
}

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const target = new URL(o.path ?? '/v1/resolve', o.url);
  // enough sockets that a request never waits for one: the queue is the server's, not this sender's
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const due = schedule(o);
  const latencies = new Float64Array(o.count);
  const lags = new Float64Array(o.count);
  const customerStatus: Record<string, number> = {};
  const contactRecordStatus: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let sent = 0;
  let settled = 0;
  let dispatched = false;
  const started = performance.now();
  const deadline = started + o.maxSeconds * 1000;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));

  const send = (i: number): void => {
    const dueAt = started + due[i]!;
    lags[i] = performance.now() - dueAt;
    const body = o.nextBody();
    const req = request(target, { method: 'POST', agent, headers: { ...o.headers, 'content-length': Buffer.byteLength(body) }, timeout: o.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          latencies[ok++] = performance.now() - dueAt;
          tallyAnswer(Buffer.concat(chunks).toString(), customerStatus, contactRecordStatus);
        } else non2xx++;
        if (++settled === sent && dispatched) done();
      });
    });
    req.on('timeout', () => {
      timeouts++;
      req.destroy(new Error('timeout'));
    });
    req.on('error', () => {
      errors++;
      if (++settled === sent && dispatched) done();
    });
    req.end(body);
  };

  // the dispatcher: sends everything due, then sleeps until the next due time (timers are ms-coarse:
  // the lag this adds is measured, and counted in the latencies)
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (now > deadline) return resolve();
      while (sent < o.count && started + due[sent]! <= now) send(sent++);
      if (sent === o.count) return resolve();
      setTimeout(tick, Math.max(0, started + due[sent]! - performance.now() - 1));
    };
    tick();
  });
  dispatched = true;
  if (settled < sent) await finished;
  agent.destroy();
  const elapsedMs = performance.now() - started;
  const lag = percentiles(lags.subarray(0, sent));
  return {
    ok,
    non2xx,
    errors,
    timeouts,
    elapsedMs,
    rps: (ok / elapsedMs) * 1000,
    latency: percentiles(latencies.subarray(0, ok)),
    customerStatus,
    contactRecordStatus,
    lateRps: (ok / elapsedMs) * 1000,
    raw: latencies.subarray(0, ok),
    offeredRps: o.ratePerSecond,
    unsent: o.count - sent,
    sendLag: { p50: lag.p50, p99: lag.p99, max: lag.max },
  };
}
