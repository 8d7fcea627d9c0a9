// Root hooks: an unhandled rejection anywhere fails the run instead of passing silently.
import nock from 'nock';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

// nock intercepts as soon as it is imported; only contract tests opt in to it (see test/support/nock.ts).
nock.restore();

export const mochaHooks = {
  beforeAll(): void {
    process.on('unhandledRejection', onUnhandled);
  },
  afterEach(): void {
    if (unhandled.length > 0) {
      const reasons = unhandled.splice(0);
      throw new Error(`unhandled rejection during the test: ${reasons.map(String).join('; ')}`);
    }
  },
  afterAll(): void {
    process.off('unhandledRejection', onUnhandled);
  },
};
