// npm run setup-domain: creates (or brings up to date) the contact-record object type in the domain.
import { setUpDomain } from '../records/domain.js';
import { adminClient, commandConfig, fail, out } from './common.js';

const config = commandConfig();
const { client, domain } = adminClient(config);
try {
  const result = await setUpDomain(client, domain, config.records.objectType);
  const said = { created: 'created', updated: 'updated to the definition this service needs', unchanged: 'already right, nothing to do' }[result];
  out(`Object type "${config.records.objectType}" in domain "${domain}": ${said}.`);
} catch (err) {
  fail(`setup-domain failed: ${(err as Error).name}: ${(err as Error).message}`);
} finally {
  client.destroy();
}
