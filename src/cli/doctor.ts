// npm run doctor [-- --verbose]: checks a Customer Profiles domain for this service and prints what to fix.
import { checkDomain } from '../profiles/object-type-setup.js';
import { adminClient, commandConfig, out, runCommand } from './common.js';

const MARK = { ok: 'ok   ', warn: 'WARN ', error: 'ERROR' } as const;
await runCommand('doctor', async () => {
  const config = commandConfig();
  const { client, domain } = adminClient(config);
  try {
    // a failed call is a finding naming its cause (network, credentials, permission...): see checkDomain
    const findings = await checkDomain(client, domain, config.records.objectType);
    out(`Customer Profiles domain "${domain}" (${config.aws.region}):`);
    for (const f of findings) {
      out(`  ${MARK[f.level]} ${f.check}: ${f.detail}`);
      if (f.fix) out(`        fix: ${f.fix}`);
    }
    const errors = findings.filter((f) => f.level === 'error').length;
    const warnings = findings.filter((f) => f.level === 'warn').length;
    out(`${errors} error(s), ${warnings} warning(s).`);
    process.exitCode = errors > 0 ? 1 : 0;
  } finally {
    client.destroy();
  }
});
