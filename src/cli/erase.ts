// npm run erase -- --url https://resolver.internal <phone number or e-mail address> [--country GB]
// npm run erase -- --url https://resolver.internal --account <account number>   (a caller looked up by it alone)
// Asks a running replica to forget one caller (POST /v1/admin/erase with an ADMIN_TOKENS token).
// Reads the token from ADMIN_TOKEN, never from the command line (shell history, process lists).
import { commandArgs, describeError, fail, out, runCommand } from './common.js';

const USAGE = 'usage: ADMIN_TOKEN=... npm run erase -- --url <service URL> (<phone number | e-mail address> [--country XX] | --account <account number>)';
// the replica's own work (Redis scans) is bounded well below this
const ANSWER_MS = 30_000;
const args = commandArgs();
const option = (name: string) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const url = option('--url');
const countryCode = option('--country');
const account = option('--account');
const [who, ...rest] = args;
const token = process.env.ADMIN_TOKEN;
if (!url || (who === undefined) === (account === undefined) || rest.length > 0) fail(USAGE);
if (!token) fail('ADMIN_TOKEN is not set (one of the service\'s ADMIN_TOKENS)');

await runCommand('erase', async () => {
  const body =
    account !== undefined
      ? { accountNumber: account }
      : who!.includes('@')
        ? { emailAddress: who }
        : { phoneNumber: who, ...(countryCode ? { countryCode } : {}) };
  const res = await fetch(`${url.replace(/\/+$/, '')}/v1/admin/erase`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(ANSWER_MS),
  }).catch((err: unknown) => fail(`erase: cannot reach ${url} (${describeError(err)})`, err));
  const answer = (await res.json().catch(() => ({}))) as { erased?: Record<string, number>; error?: { code: string; message: string } };
  if (!res.ok || !answer.erased) fail(`erase refused (${res.status}): ${answer.error?.code ?? ''} ${answer.error?.message ?? ''}`.trimEnd());
  const e = answer.erased;
  out(`erased: ${e.callerEntries} cache/answer entries, ${e.contactHistories} contact histories, ${e.records} contact records`);
  if (e.recordsInProgress) out(`${e.recordsInProgress} record(s) were being written: run the command again in a minute`);
  out('Customer Profiles still holds the profile, its keys and objects: see docs/security.md, "Erasing a customer".');
});
