import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from './config/index.js';
import { ConfigError } from './errors.js';
import { createLogger } from './ops/logger.js';
import { createService } from './service.js';

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** The process: configuration, the service, the listener, the signals. */
async function main(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const service = createService(config, logger);

  const server = service.app.listen(config.port);
  // A load balancer keeps idle connections to its targets and reuses them (an AWS ALB for 60 s by
  // default); one the server closes first can meet the next request on its way, which the load
  // balancer answers 502. So the server keeps them longer (Node's default is 5 s). The drain on
  // SIGTERM closes idle connections itself.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await once(server, 'listening');
  // /metrics on a listener of its own, for the scraper: a load balancer forwarding `port` never reaches it
  const metricsServer = service.metricsApp.listen(config.metricsPort);
  await once(metricsServer, 'listening');
  await service.start();
  service.setState('ready');
  const portOf = (s: typeof server) => (s.address() as AddressInfo).port;
  logger.info({ port: portOf(server), metricsPort: portOf(metricsServer), store: service.store.kind, domain: config.domain }, 'listening');

  // SIGTERM / SIGINT: readiness 503 at once, stop accepting, let in-flight requests finish, close the
  // metrics listener, stop the record worker (its job in hand finishes or goes back to the queue),
  // close Redis and the SDK clients, exit 0; all within SHUTDOWN_GRACE_MS. A second signal exits at once.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    stopping = true;
    service.setState('draining');
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'draining');
    setTimeout(() => {
      logger.error({ graceMs: config.shutdownGraceMs }, 'grace period over before the drain finished: exiting');
      process.exit(1);
    }, config.shutdownGraceMs).unref();
    server.close(() => {
      clearInterval(idle);
      // scrapes go on during the drain; the metrics listener closes once the requests are answered
      metricsServer.close();
      metricsServer.closeAllConnections();
      service.close().then(
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

await main();
