// Writes infra/flows/sample-flow.json, the sample flow to import by hand (Routing > Flows > Import):
// npx tsx infra/bin/sample-flow.ts
import { writeFileSync } from 'node:fs';
import { PLACEHOLDER_LAMBDA_ARN, sampleFlow } from '../lib/sample-flow.js';

const file = new URL('../flows/sample-flow.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(sampleFlow({ lambdaArn: PLACEHOLDER_LAMBDA_ARN, timeLimitSeconds: 3 }), null, 2)}\n`);
