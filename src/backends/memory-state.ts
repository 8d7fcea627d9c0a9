// The state backend without Redis: everything in this process; replicas share nothing.
import { MemoryAttempts } from '../cache/attempts.js';
import { MemoryContactLegs, NO_CONTACT_LEGS } from '../cache/contact-legs.js';
import { LocalCreateOnce } from '../cache/create-once.js';
import { MemoryDuplicateSets } from '../cache/duplicates.js';
import { MemoryIdempotencyStore } from '../cache/idempotency.js';
import type { SharedState } from '../cache/index.js';
import { StateKeys } from '../cache/keys.js';
import { MemoryPendingUpdates } from '../cache/pending-updates.js';
import { MemoryProfileCache } from '../cache/profile-cache.js';
import { MemoryRecentContacts } from '../cache/recent-contacts.js';
import type { ErasureReport } from '../contact/erase.js';
import { LocalRecordQueue } from '../records/local-queue.js';
import { MemoryStreamStore } from '../stream/store.js';
import { cacheKeepMs, queueHooks, queueOptions, recordWriter, type StateBackend, type StateOptions } from './state.js';

export function memoryState({ config, logger, metrics, profiles, quota }: StateOptions): StateBackend {
  logger.warn('NO REDIS: cache, idempotency and creation locks are in-process; replicas do not share them.');
  const cache = new MemoryProfileCache(cacheKeepMs(config));
  const idempotency = new MemoryIdempotencyStore(config.idempotencyTtlMs);
  const recentContacts = new MemoryRecentContacts(config.repeatWindowMs);
  const pendingUpdates = new MemoryPendingUpdates();
  const legs = config.contactLegWindowMs > 0 ? new MemoryContactLegs(config.contactLegWindowMs) : undefined;
  const keys = new StateKeys(config.keyNamespace, config.identityHashSecret, config.attributeMapping);
  const duplicates = new MemoryDuplicateSets(config.duplicates);
  const shared: SharedState = {
    keys,
    cache,
    idempotency,
    recentContacts,
    legs: legs ?? NO_CONTACT_LEGS,
    attempts: new MemoryAttempts(config.idvAttempts),
    pendingUpdates,
    createOnce: new LocalCreateOnce(cache),
    // this replica is the whole fleet: the quota's book stays in this process
    budget: quota,
    duplicates,
    readContact: async (tag, variant, contactId) => ({ earlier: await idempotency.get(tag, contactId, variant), cached: await cache.get(tag, variant) }),
  };
  const writer = recordWriter(config, profiles.recordTarget, undefined, pendingUpdates);
  const records = new LocalRecordQueue(writer, queueOptions(config, logger, queueHooks(metrics)));
  let running = false;
  return {
    shared,
    records,
    streamStore: new MemoryStreamStore(),
    eraser: {
      // everything of the caller and of the profiles their lookups and answers named
      erase: async (callerKeys): Promise<ErasureReport> => {
        const { tag } = keys.lookupKey(callerKeys);
        const fromCache = cache.forget(tag);
        const answers = idempotency.forget(tag);
        const profileIds = [...new Set([...fromCache.profileIds, ...answers.profileIds])];
        pendingUpdates.forget(profileIds);
        legs?.forget(profileIds);
        // the duplicate sets the caller's key found (their keyed hash is the caller's tag)
        const sets = await duplicates.forget(tag);
        return {
          callerEntries: fromCache.removed + answers.removed + sets,
          contactHistories: recentContacts.forget(profileIds),
          records: records.forget(tag),
          recordsInProgress: 0,
        };
      },
    },
    readiness: () => ({ redis: { mode: 'none' }, records: { queue: records.kind, worker: config.records.worker ? (running ? 'running' : 'stopped') : 'off' } }),
    start: () => {
      if (config.records.worker) {
        records.start();
        running = true;
      }
      return Promise.resolve();
    },
    close: async () => {
      await records.close();
      running = false;
    },
  };
}
