import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readSettings, SettingError } from '../lib/settings.js';
import { ResolverStack } from '../lib/stack.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const app = new App();
let settings;
try {
  // the account and region are the instance's, never the CLI's defaults
  settings = readSettings((key) => app.node.tryGetContext(key), process.env);
} catch (err) {
  if (!(err instanceof SettingError)) throw err;
  // one line, no stack trace: the setting to fix is the whole message
  console.error(err.message);
  process.exit(1);
}
const { stackName, ...props } = settings;
new ResolverStack(app, stackName, { ...props, repositoryDir: REPO });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
