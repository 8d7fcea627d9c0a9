// npm run setup-domain [-- --verbose]: creates (or brings up to date) the contact-record object type in the domain.
import { explainFailure, setUpDomain } from '../profiles/object-type-setup.js';
import { adminClient, commandConfig, fail, out, runCommand } from './common.js';

await runCommand('setup-domain', async () => {
  const config = commandConfig();
  const { client, domain } = adminClient(config);
  try {
    const result = await setUpDomain(client, domain, config.records.objectType);
    const said = { created: 'created', updated: 'updated to the definition this service needs', unchanged: 'already right, nothing to do' }[result];
    out(`Object type "${config.records.objectType}" in domain "${domain}": ${said}.`);
  } catch (err) {
    const { detail, fix } = explainFailure('setup-domain', err, 'profile:GetProfileObjectType and profile:PutProfileObjectType');
    fail(`${detail}; fix: ${fix}`, err);
  } finally {
    client.destroy();
  }
});
