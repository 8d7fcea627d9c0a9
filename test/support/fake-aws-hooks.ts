import { FakeAws, type FakeAwsOptions } from './fake-aws.js';
import { setUpFakeDomain, useTestAwsCredentials } from './service.js';

export interface FakeAwsSuiteOptions extends FakeAwsOptions {
  /** the region the domains are set up through (default us-east-1) */
  region?: string;
  /** the contact-record object type created in each domain (default ResolvedContact); false: none */
  objectType?: string | false;
}

/**
 * The AWS fake for a suite that runs the real SDK against it: test credentials for the SDK's default
 * chain, the fake started before the suite and stopped after it, and in each of its domains the
 * contact-record object type, as `npm run setup-domain` creates it. Call it in the describe() body;
 * the fake's url exists from the suite's first before() hook on.
 */
export function useFakeAws(options: FakeAwsSuiteOptions = {}): FakeAws {
  const { region = 'us-east-1', objectType = 'ResolvedContact', ...fakeOptions } = options;
  useTestAwsCredentials();
  const fake = new FakeAws(fakeOptions);
  before(async () => {
    await fake.start();
    if (objectType === false) return;
    for (const domain of fakeOptions.domains ?? []) await setUpFakeDomain(fake.url, domain, objectType, region);
  });
  after(() => fake.stop());
  return fake;
}
