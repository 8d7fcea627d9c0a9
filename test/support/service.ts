import { UpdateProfileCommand, type UpdateProfileCommandInput } from '@aws-sdk/client-customer-profiles';
import { createCustomerProfilesClient } from '../../src/aws/clients.js';
import { setUpDomain } from '../../src/profiles/object-type-setup.js';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import type { DestinationStream } from 'pino';
import { createLogger } from '../../src/ops/logger.js';
import { createService, type Service, type ServiceOverrides } from '../../src/service.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningService {
  url: string;
  /** the metrics listener (METRICS_PORT), where GET /metrics is served */
  metricsUrl: string;
  service: Service;
  stop(): Promise<void>;
}

/** The real composition (config -> service -> HTTP on port 0, /metrics on another), as main.ts wires it. */
export async function startService(env: Record<string, string | undefined>, logTo?: DestinationStream, overrides?: ServiceOverrides): Promise<RunningService> {
  const config = loadConfig({ LOG_LEVEL: logTo ? 'info' : 'silent', ...env }, REPO_ROOT);
  const service = createService(config, createLogger(config.logLevel, logTo), overrides);
  const server: Server = service.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const metricsServer: Server = service.metricsApp.listen(0, '127.0.0.1');
  await once(metricsServer, 'listening');
  await service.start();
  service.setState('ready');
  const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return {
    url: urlOf(server),
    metricsUrl: urlOf(metricsServer),
    service,
    async stop() {
      for (const s of [server, metricsServer]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      await service.close();
    },
  };
}

/** AWS credentials for the SDK's default chain while a suite runs against the fake. */
export function useTestAwsCredentials(): void {
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  before(() => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDTESTFAKE';
    process.env.AWS_SECRET_ACCESS_KEY = 'fake-secret';
  });
  after(() => {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  });
}

export async function postEvent(
  url: string,
  event: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, string>; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/resolve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(event),
  });
  const body = (await res.json()) as Record<string, string>;
  return { status: res.status, body, ms: performance.now() - started };
}

/** Creates the contact-record object type in a domain of the AWS fake, as `npm run setup-domain` does. */
export async function setUpFakeDomain(fakeUrl: string, domain: string, objectType = 'ResolvedContact', region = 'us-east-1'): Promise<string> {
  const admin = createCustomerProfilesClient({ region, endpoint: fakeUrl, requestTimeoutMs: 5000 });
  try {
    return await setUpDomain(admin, domain, objectType);
  } finally {
    admin.destroy();
  }
}

/**
 * Edits a profile in the AWS fake as an agent does in the agent workspace's profile page: one UpdateProfile through
 * the real SDK, from outside the service (the service hears of it only through the domain's event stream).
 */
export async function editAsAgent(fakeUrl: string, domain: string, profileId: string, fields: Omit<UpdateProfileCommandInput, 'DomainName' | 'ProfileId'>, region = 'us-east-1'): Promise<void> {
  const agent = createCustomerProfilesClient({ region, endpoint: fakeUrl, requestTimeoutMs: 5000 });
  try {
    await agent.send(new UpdateProfileCommand({ DomainName: domain, ProfileId: profileId, ...fields }));
  } finally {
    agent.destroy();
  }
}
