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
  await once(server, 'listening');
  await service.start();
  service.setState('ready');
  logger.info({ port: (server.address() as AddressInfo).port, store: service.store.kind, domain: config.domain }, 'listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    service.setState('draining');
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'draining');
    setTimeout(() => {
      logger.error('grace period over with requests still open: exiting');
      process.exit(1);
    }, config.shutdownGraceMs).unref();
    server.close(() => {
      void service.close().then(() => {
        logger.info('stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
