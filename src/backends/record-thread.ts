import { Worker } from 'node:worker_threads';
import type { QuotaObserver } from '../cache/quota.js';
import type { Config } from '../config/index.js';
import type { AwsCallMeasured, AwsObserver } from '../ops/aws-instrumentation.js';
import type { Logger } from '../ops/logger.js';
import type { DeadLetter, QueueHooks } from '../records/queue.js';

/** What the record thread tells the service, for its metrics. */
export type ThreadMessage =
  | { kind: 'outcome'; outcome: Parameters<NonNullable<QueueHooks['onOutcome']>>[0] }
  | { kind: 'dead-letter'; letter: DeadLetter }
  | { kind: 'aws'; call: AwsCallMeasured }
  | { kind: 'quota'; event: QuotaEvent }
  | { kind: 'started' }
  | { kind: 'closed' };

/** One of the quota allowance's events (QuotaObserver), as a message. */
export type QuotaEvent = { [K in keyof QuotaObserver]: { name: K; args: Parameters<QuotaObserver[K]> } }[keyof QuotaObserver];

/** The thread's quota allowance tells the service's metrics through messages. */
export function postingQuotaObserver(post: (event: QuotaEvent) => void): QuotaObserver {
  return {
    booked: (...args) => post({ name: 'booked', args }),
    rate: (...args) => post({ name: 'rate', args }),
    throttled: (...args) => post({ name: 'throttled', args }),
  };
}

function replay(observer: QuotaObserver, event: QuotaEvent): void {
  if (event.name === 'booked') observer.booked(...event.args);
  else if (event.name === 'rate') observer.rate(...event.args);
  else observer.throttled(...event.args);
}

// Under tsx (tests, `npm run` scripts) the service runs from its TypeScript sources, and the thread
// starts from a small module that brings tsx's loader along (record-thread-from-source.mjs).
const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './record-thread-from-source.mjs' : './record-thread-main.js', import.meta.url);
/**
 * The thread's V8 old-generation limit: it holds a few hundred jobs at most (about 80 MB of RSS with its
 * code, in the benchmark). Without it the thread would inherit NODE_OPTIONS' --max-old-space-size, sized
 * for the main thread, and the two heaps together could pass the container's memory limit. A thread that
 * reaches it ends and is started again.
 */
export const RECORD_THREAD_HEAP_MB = 96;
/** The longest a shutdown waits for the thread, whatever its own closes (4 s each at most) still wait for. */
const THREAD_CLOSE_MS = 5000;

/**
 * The record worker (the inbox mover, the BullMQ worker and the AWS writes) in a thread of its own,
 * so that background writes never hold up a live answer on the main event loop: measured, they took
 * 15-30% of the main thread on the cache-hit path. It reads the same configuration, has its own
 * Redis connections and SDK clients, and reports outcomes and AWS calls for the service's metrics. A
 * thread that dies is started again after a second; its jobs in hand go back to the queue like
 * those of a replica that dies.
 */
export class RecordThread {
  private worker: Worker | undefined;
  private closing = false;
  running = false;

  constructor(
    private readonly source: Config['source'],
    private readonly logger: Logger,
    private readonly hooks: QueueHooks,
    private readonly observe: AwsObserver,
    private readonly quota: QuotaObserver,
  ) {}

  /** Resolves once the thread has its worker running (or has failed to start, which is logged). */
  start(): Promise<void> {
    if (this.worker || this.closing) return Promise.resolve();
    const worker = new Worker(ENTRY, { workerData: { source: this.source }, resourceLimits: { maxOldGenerationSizeMb: RECORD_THREAD_HEAP_MB } });
    const started = new Promise<void>((resolve) => {
      worker.on('message', (m: ThreadMessage) => m.kind === 'started' && resolve());
      worker.once('exit', () => resolve());
    });
    worker.on('message', (m: ThreadMessage) => {
      if (m.kind === 'outcome') this.hooks.onOutcome?.(m.outcome);
      else if (m.kind === 'dead-letter') this.hooks.onDeadLetter?.(m.letter);
      else if (m.kind === 'aws') this.observe(m.call);
      else if (m.kind === 'quota') replay(this.quota, m.event);
    });
    worker.on('error', (err) => this.logger.error({ err }, 'record thread failed'));
    worker.on('exit', (code) => {
      this.worker = undefined;
      this.running = false;
      if (this.closing) return;
      this.logger.error({ code }, 'record thread exited: starting it again in 1 s');
      setTimeout(() => void this.start(), 1000).unref();
    });
    this.worker = worker;
    this.running = true;
    return started;
  }

  /**
   * The job in hand finishes (or goes back to the queue), then the thread ends. A thread that has not
   * closed within THREAD_CLOSE_MS is ended anyway: a shutdown never waits on it longer.
   */
  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    if (!worker) return;
    let timer: NodeJS.Timeout | undefined;
    const closed = new Promise<boolean>((resolve) => {
      worker.on('message', (m: ThreadMessage) => m.kind === 'closed' && resolve(true));
      worker.once('exit', () => resolve(true));
      timer = setTimeout(() => resolve(false), THREAD_CLOSE_MS);
    });
    worker.postMessage('close');
    if (!(await closed)) this.logger.warn({ waitedMs: THREAD_CLOSE_MS }, 'record thread did not close in time: ending it');
    clearTimeout(timer);
    await worker.terminate();
  }
}
