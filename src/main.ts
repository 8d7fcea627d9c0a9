import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from './config/index.js';
import { ConfigError } from './errors.js';
import { createLogger } from './ops/logger.js';
import { drainOnSignals } from './ops/shutdown.js';
import { createService } from './service.js';

function readConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

/** The process: configuration, the service, its two listeners, the signals. */
const config = readConfig();
const logger = createLogger(config.logLevel);
const service = createService(config, logger);
const server = service.app.listen(config.port);
// A load balancer keeps idle connections to its targets and reuses them (an AWS ALB for 60 s by default);
// one the server closes first can meet the next request on its way (a 502). Node's default is 5 s.
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
drainOnSignals({ server, metricsServer, logger, graceMs: config.shutdownGraceMs, draining: () => service.setState('draining'), close: () => service.close() });
