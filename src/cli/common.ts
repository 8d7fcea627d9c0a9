// Shared by the operator commands: they read the same configuration as the service.
import { loadConfig, type Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { createCustomerProfilesClient } from '../profiles/customer-profiles.js';

export function commandConfig(): Config {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A Customer Profiles client for one-off admin calls (generous timeout, the SDK's retries). */
export function adminClient(config: Config) {
  if (!config.domain) fail('CUSTOMER_PROFILES_DOMAIN is not set: this command works on a Customer Profiles domain.');
  return {
    domain: config.domain,
    client: createCustomerProfilesClient({
      region: config.aws.region!,
      endpoint: config.aws.customerProfilesEndpoint,
      requestTimeoutMs: 15_000,
      maxAttempts: 3,
    }),
  };
}
