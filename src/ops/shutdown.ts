import type { Server } from 'node:http';
import type { Logger } from './logger.js';

/**
 * SIGTERM / SIGINT: readiness 503 at once (`draining`), stop accepting, let in-flight requests finish,
 * close the metrics listener, then `close` (the record worker's job in hand finishes or goes back to the
 * queue; Redis and the SDK clients are released) and exit 0; all within `graceMs`, else exit 1. A second
 * signal exits at once.
 */
export function drainOnSignals(o: { server: Server; metricsServer: Server; logger: Logger; graceMs: number; draining(): void; close(): Promise<void> }): void {
  const { server, metricsServer, logger, graceMs } = o;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    o.draining();
    logger.info({ signal, graceMs }, 'draining');
    setTimeout(() => {
      logger.error({ graceMs }, 'grace period over before the drain finished: exiting');
      process.exit(1);
    }, graceMs).unref();
    server.close(() => {
      clearInterval(idle);
      // scrapes go on during the drain; the metrics listener closes once the requests are answered
      metricsServer.close();
      metricsServer.closeAllConnections();
      o.close().then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'error while closing');
          process.exit(1);
        },
      );
    });
    // keep-alive connections close as soon as their request is answered
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
