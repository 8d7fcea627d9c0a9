// npm run duplicates -- list [--limit N] | show <setId> | matches <setId>
//                      | merge <setId> --keep <profileId> [--from <field>=<profileId> ...] --yes      [--verbose]
// The duplicate sets the service saw live (every MULTIPLE answer notes the profiles a key found together, in
// Redis), and their merge with Customer Profiles' MergeProfiles. `show` prints the profiles' values: an
// operator's tool, on the operator's terminal; nothing of them is logged.
import type { CustomerProfilesClient } from '@aws-sdk/client-customer-profiles';
import { RedisDuplicateSets, type DuplicateSet } from '../cache/duplicates.js';
import { StateKeys } from '../cache/keys.js';
import { dropCachedLookups } from '../cache/profile-cache.js';
import { isMergeField, profileDifferences, type FieldSources } from '../domain/duplicates.js';
import type { Profile } from '../domain/profile.js';
import { matchesOf, mergeProfiles, profilesById } from '../profiles/duplicates.js';
import { explainFailure } from '../profiles/object-type-setup.js';
import { adminClient, commandArgs, commandConfig, connectRedis, describeError, fail, out, runCommand } from './common.js';

const USAGE =
  'usage: npm run duplicates -- list [--limit N] | show <setId> | matches <setId> | merge <setId> --keep <profileId> [--from <field>=<profileId> ...] --yes';
const args = commandArgs();
const [command, ...rest] = args;
if (!command || !['list', 'show', 'matches', 'merge'].includes(command)) fail(USAGE);

/** The values given after each `name` (every occurrence), taken out of `rest`. */
function option(name: string): string[] {
  const values: string[] = [];
  for (let i = rest.indexOf(name); i >= 0; i = rest.indexOf(name)) {
    const value = rest[i + 1];
    if (value === undefined || value.startsWith('--')) fail(`${name} needs a value\n${USAGE}`);
    values.push(value);
    rest.splice(i, 2);
  }
  return values;
}
const flag = (name: string): boolean => {
  const i = rest.indexOf(name);
  if (i >= 0) rest.splice(i, 1);
  return i >= 0;
};

const limitArg = option('--limit');
const keep = option('--keep');
const from = option('--from');
const confirmed = flag('--yes');
const [setId, ...extra] = rest;
if (extra.length > 0 || (command === 'list' ? setId !== undefined : setId === undefined)) fail(USAGE);
const limit = limitArg.length === 0 ? 20 : Number(limitArg[0]);
if (!Number.isInteger(limit) || limit < 1 || limitArg.length > 1) fail(USAGE);
if (command !== 'merge' && (keep.length > 0 || from.length > 0 || confirmed)) fail(USAGE);
if (command === 'merge' && keep.length !== 1) fail(`merge: name the profile that stays with --keep <profileId>\n${USAGE}`);

const iso = (ms: number) => new Date(ms).toISOString();

function printSet(s: DuplicateSet): void {
  out(`  ${s.id}  key ${s.key}  ${s.ids.length} profiles  seen ${s.count} time(s)  first ${iso(s.firstSeen)}  last ${iso(s.lastSeen)}`);
  out(`      ${s.ids.join(' ')}`);
}

/** The fields a merge takes from another profile than the one kept: `--from FirstName=<id>`, checked against the set. */
function fieldSources(set: DuplicateSet): FieldSources {
  const sources: FieldSources = {};
  for (const f of from) {
    const at = f.indexOf('=');
    const [field, id] = at < 0 ? [f, ''] : [f.slice(0, at), f.slice(at + 1)];
    if (!isMergeField(field)) fail(`merge: --from ${field}: not a field MergeProfiles takes a source for (FieldSourceProfileIds: FirstName, Address, Attributes.<name>...)`);
    if (!set.ids.includes(id)) fail(`merge: --from ${field}=${id}: the source must be one of the set's profiles`);
    if (field in sources) fail(`merge: --from ${field} is given twice`);
    sources[field] = id;
  }
  return sources;
}

/** An AWS call of the command: its failure ends the command with one line naming the cause and the fix. */
async function aws<T>(operation: string, permission: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const { detail, fix } = explainFailure(operation, err, permission);
    return fail(`duplicates: ${detail}; fix: ${fix}`, err);
  }
}

async function show(set: DuplicateSet, client: CustomerProfilesClient, domain: string): Promise<void> {
  const profiles = await aws('SearchProfiles', 'profile:SearchProfiles', () => profilesById(client, domain, set.ids));
  printSet(set);
  const gone = set.ids.filter((id) => !profiles.some((p) => p.ProfileId === id));
  if (gone.length > 0) out(`  no longer in "${domain}" (merged or deleted): ${gone.join(' ')}`);
  const differences = profileDifferences(profiles as Array<Profile & Record<string, unknown>>);
  if (profiles.length < 2) {
    out('  nothing left to merge');
    return;
  }
  out(differences.length === 0 ? '  no field differs between them' : `  ${differences.length} field(s) differ:`);
  for (const d of differences) {
    out(`    ${d.field}`);
    for (const id of profiles.map((p) => p.ProfileId!)) out(`      ${id}  ${d.values[id] === undefined ? '(not set)' : JSON.stringify(d.values[id])}`);
  }
  out(`  merge: npm run duplicates -- merge ${set.id} --keep <profileId> [--from <field>=<profileId> ...] --yes`);
}

async function matches(set: DuplicateSet, client: CustomerProfilesClient, domain: string): Promise<void> {
  printSet(set);
  for (const reading of await matchesOf(client, domain, set.ids)) {
    if (reading.unavailable) {
      out(`  ${reading.source}: ${reading.unavailable}`);
      continue;
    }
    const when = reading.generatedAt ? ` (job of ${reading.generatedAt.toISOString()})` : '';
    out(`  ${reading.source}${when}: ${reading.found.length === 0 ? 'no group holds these profiles' : `${reading.found.length} group(s)`}`);
    for (const m of reading.found) out(`    ${m.matchId}${m.score ? `  ${m.score}` : ''}  ${m.profileIds.join(' ')}`);
  }
}

await runCommand('duplicates', async () => {
  const config = commandConfig();
  const admin = command === 'list' ? undefined : adminClient(config);
  const redis = await connectRedis(config, 'duplicates');
  if (!redis) {
    admin?.client.destroy();
    fail('No REDIS_URL or REDIS_CLUSTER_NODES: without Redis, duplicate sets are kept in each service process, where this command cannot read them.');
  }
  const keys = new StateKeys(config.keyNamespace, config.identityHashSecret, config.attributeMapping);
  const sets = new RedisDuplicateSets(redis, keys.duplicates(), config.duplicates);
  const domain = config.domain ?? 'embedded';
  try {
    if (command === 'list') {
      const list = await sets.list(limit);
      const total = await sets.count();
      out(`${total} duplicate set(s) in "${domain}"${total > list.length ? `, showing the ${list.length} seen most often` : ''}:`);
      for (const s of list) printSet(s);
      return;
    }
    const set = await sets.get(setId!);
    if (!set) fail(`duplicates: no set ${setId} in "${domain}" (npm run duplicates -- list)`);
    if (command === 'show') await show(set, admin!.client, admin!.domain);
    else if (command === 'matches') await matches(set, admin!.client, admin!.domain);
    else await merge(set, admin!.client, admin!.domain, redis, keys, sets);
  } finally {
    admin?.client.destroy();
    await redis.quit();
  }
});

async function merge(set: DuplicateSet, client: CustomerProfilesClient, domain: string, redis: Parameters<typeof dropCachedLookups>[0], keys: StateKeys, sets: RedisDuplicateSets): Promise<void> {
  const main = keep[0]!;
  if (!set.ids.includes(main)) fail(`merge: --keep ${main} is not one of the set's profiles (${set.ids.join(' ')})`);
  const sources = fieldSources(set);
  // the profiles as they are now: one merged or deleted since the set was seen is left out (MergeProfiles would refuse it)
  const present = (await aws('SearchProfiles', 'profile:SearchProfiles', () => profilesById(client, domain, set.ids))).map((p) => p.ProfileId!);
  if (!present.includes(main)) fail(`merge: ${main} is no longer in "${domain}" (merged or deleted): choose another with --keep`);
  const others = set.ids.filter((id) => id !== main && present.includes(id));
  for (const [field, id] of Object.entries(sources)) if (!present.includes(id)) fail(`merge: --from ${field}=${id}: that profile is no longer in "${domain}"`);
  // no --yes: what the merge would do, and nothing done (MergeProfiles cannot be undone)
  if (!confirmed) {
    out(`merge of set ${set.id} (key ${set.key}), not done:`);
    out(`  keep   ${main}`);
    for (const id of others) out(`  merge  ${id}  (deleted: its keys and objects move to ${main})`);
    for (const id of set.ids.filter((x) => !present.includes(x))) out(`  gone   ${id}  (merged or deleted already: left out)`);
    const named = Object.entries(sources);
    out(named.length === 0 ? `  fields: on a conflict ${main}'s value stays (--from <field>=<profileId> takes another's)` : `  fields: ${named.map(([field, id]) => `${field} from ${id}`).join(', ')}; on any other conflict ${main}'s value stays`);
    fail(`merge: merged profiles cannot be separated again; add --yes to merge set ${set.id} into ${main} as shown`);
  }
  let message = 'nothing to merge: the other profiles are gone already';
  if (others.length > 0) message = await aws('MergeProfiles', 'profile:MergeProfiles', () => mergeProfiles(client, domain, main, others, sources));
  // every set that names a profile merged away is wrong now (this one among them); the cached lookups that
  // answered them, or answer any profile of the set, go, so the next contact finds the one that stayed
  const gone = set.ids.filter((id) => id !== main);
  const tidied = async () => {
    const removed = await sets.removeNaming(gone);
    return { removed, dropped: await dropCachedLookups(redis, keys, set.ids, [...new Set(removed.flatMap((s) => s.lookups))], main) };
  };
  const { removed, dropped } = await tidied().catch((err: unknown) =>
    // the profiles are merged: say so, and how to finish (run again, it merges nothing more and tidies up)
    fail(`duplicates: merged ${others.length} profile(s) into ${main}, but Redis failed before the set and the cached lookups were removed (${describeError(err)}): run the same merge again`, err),
  );
  out(`merged ${others.length} profile(s) into ${main}${message ? `: ${message}` : ''}`);
  out(`removed ${removed.length} duplicate set(s); dropped ${dropped} cached lookup(s): their callers are looked up afresh and answered ${main}`);
}
