// npm run dead-letters -- list | replay <ContactId...|--all> | purge <ContactId...|--all>   [--verbose]
import type { Selection } from '../records/queue.js';
import { openRecordQueue, recordQueuePrefix, RedisDeadLetters } from '../records/redis-queue.js';
import { commandArgs, commandConfig, connectRedis, fail, out, runCommand } from './common.js';

const USAGE = 'usage: npm run dead-letters -- list [--limit N] | replay <ContactId ...|--all> | purge <ContactId ...|--all>';
const [command, ...args] = commandArgs();
if (!command || !['list', 'replay', 'purge'].includes(command)) fail(USAGE);

function selection(): Selection {
  if (args.includes('--all')) return { all: true };
  const ids = args.filter((a) => !a.startsWith('--'));
  if (ids.length === 0) fail(`name the ContactIds, or --all\n${USAGE}`);
  return { contactIds: ids };
}

await runCommand('dead-letters', async () => {
  const config = commandConfig();
  const redis = await connectRedis(config, 'dead-letters');
  if (!redis) {
    fail('No REDIS_URL or REDIS_CLUSTER_NODES: without Redis, dead letters live in the service process and are logged there ("contact record dead-lettered").');
  }
  const domain = config.domain ?? 'embedded';
  const queue = openRecordQueue(redis, recordQueuePrefix(config.keyNamespace));
  // BullMQ re-emits the connection's errors; with no listener it prints each one with its stack
  queue.on('error', () => undefined);
  const letters = new RedisDeadLetters(queue);
  try {
    if (command === 'list') {
      const i = args.indexOf('--limit');
      const limit = i >= 0 ? Number(args[i + 1]) : 100;
      if (!Number.isInteger(limit) || limit < 1) fail(USAGE);
      const list = await letters.list(limit);
      const total = await letters.count();
      out(`${total} dead letter(s) in "${domain}"${total > list.length ? `, showing ${list.length}` : ''}:`);
      for (const d of list) {
        out(`  ${d.contactId}  ${d.kind}  profile ${d.profileId}  received ${d.receivedAt}  failed ${d.failedAt}  attempts ${d.attempts}`);
        out(`      ${d.error}`);
      }
    } else if (command === 'replay') {
      out(`replayed ${await letters.replay(selection())} dead letter(s): they are back on the queue with fresh attempts`);
    } else {
      out(`purged ${await letters.purge(selection())} dead letter(s)`);
    }
  } finally {
    await queue.close();
    await redis.quit();
  }
});
