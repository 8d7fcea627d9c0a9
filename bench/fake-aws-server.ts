// The HTTP fake of the AWS APIs (test/support/fake-aws-server.ts, same arguments and control API), with the
// benchmark's lookup index installed first (see fake-index.ts): a benchmark must measure the service, not the
// fake's linear scans.
//   node --import tsx bench/fake-aws-server.ts --port 0 --latency-ms 50 --domain bench-domain
import { installFakeIndex } from './fake-index.js';

installFakeIndex();
await import('../test/support/fake-aws-server.js');
