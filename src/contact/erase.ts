import type { SharedState } from '../cache/index.js';
import type { MemoryIdempotencyStore } from '../cache/idempotency.js';
import type { MemoryPendingUpdates } from '../cache/pending-updates.js';
import { lookupMember, type MemoryProfileCache } from '../cache/profile-cache.js';
import type { MemoryRecentContacts } from '../cache/recent-contacts.js';
import type { RedisClient } from '../cache/redis.js';
import type { Sealer } from '../cache/seal.js';
import type { LocalRecordQueue } from '../records/local-queue.js';
import type { RedisRecordQueue } from '../records/redis-queue.js';
import type { CallerKeys } from '../domain/keys.js';

export interface ErasureReport {
  /** keys (Redis) or entries (in-process) removed: cache, answers per contact, locks */
  callerEntries: number;
  /** recent-contact histories of the caller's profiles */
  contactHistories: number;
  /** contact records queued, kept or dead-lettered for the caller */
  records: number;
  /** records a worker held at that moment (written within seconds; erase again afterwards) */
  recordsInProgress: number;
}

type Stores =
  | { kind: 'redis'; redis: RedisClient; sealer: Sealer; records: RedisRecordQueue }
  | {
      kind: 'memory';
      cache: MemoryProfileCache;
      idempotency: MemoryIdempotencyStore;
      recent: MemoryRecentContacts;
      pending: MemoryPendingUpdates;
      records: LocalRecordQueue;
    };

/**
 * Forgets one caller (a phone number, an e-mail address, or an account number) in everything this service keeps: the
 * cached lookup, the answers kept per ContactId, the creation lock and marker, the recent-contact
 * history and the pending updates of the profiles those named, and contact records and updates not yet
 * written or dead-lettered.
 * Nothing of other callers is touched. Customer Profiles itself is not changed (see the README).
 */
export class Eraser {
  constructor(
    private readonly state: Pick<SharedState, 'keys'>,
    private readonly stores: Stores,
  ) {}

  /**
   * `keys`: a phone number or e-mail address, or, for a caller who was looked up without one (a
   * withheld caller found by the account number typed), that first key. Everything tagged by it goes,
   * whatever other keys the lookups had (they are variants of the same tag).
   */
  async erase(keys: CallerKeys): Promise<ErasureReport> {
    const { tag } = this.state.keys.lookupKey(keys);
    return this.stores.kind === 'redis' ? this.eraseRedis(tag, this.stores) : this.eraseMemory(tag, this.stores);
  }

  private eraseMemory(tag: string, s: Extract<Stores, { kind: 'memory' }>): Promise<ErasureReport> {
    const fromCache = s.cache.forget(tag);
    const answers = s.idempotency.forget(tag);
    const profileIds = [...new Set([...fromCache.profileIds, ...answers.profileIds])];
    s.pending.forget(profileIds);
    return Promise.resolve({
      callerEntries: fromCache.removed + answers.removed,
      contactHistories: s.recent.forget(profileIds),
      records: s.records.forget(tag),
      recordsInProgress: 0,
    });
  }

  // Any Redis failure fails the erasure, an error reply as much as a lost one: either way it cannot say
  // that everything of the caller is gone, and running it again (it is idempotent) is the answer. A full
  // Redis still takes the DELs; it refuses the record mover's lease (a SET), so the records part fails.
  private async eraseRedis(tag: string, s: Extract<Stores, { kind: 'redis' }>): Promise<ErasureReport> {
    // every key of the caller shares the hash tag, so on a cluster they all live on one node
    const pattern = this.state.keys.callerKeys(tag);
    const nodes = 'nodes' in s.redis ? s.redis.nodes('master') : [s.redis];
    const keys: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
    }
    // the profiles named by the cached lookup and the kept answers: their contact history goes too
    const profileIds = new Set<string>();
    for (const key of keys) {
      if (!/:(profile|contact):[^:]+(:[^:]+)?$/.test(key)) continue;
      const raw = await s.redis.get(key);
      // a kept answer stored by reference (JSON) names its profile in clear; any other value is sealed
      const value = !raw ? undefined : raw.startsWith('{') ? parsed(raw) : s.sealer.open<{ summary?: { profileId?: string }; profileId?: string }>(raw, key);
      const id = value?.summary?.profileId ?? value?.profileId;
      if (id) profileIds.add(id);
    }
    let callerEntries = 0;
    for (const key of keys) callerEntries += await s.redis.del(key);
    let contactHistories = 0;
    for (const id of profileIds) {
      contactHistories += await s.redis.del(this.state.keys.recentContacts(id));
      // the profile's pending updates hold its new values (sealed): they go with its history (the
      // caller's queued updates go below; one still queued of another caller shows once it is written)
      await s.redis.del(this.state.keys.pendingUpdates(id));
      // the profile's index of its cached lookups no longer names this caller's (other callers' stay)
      const index = this.state.keys.profileLookups(id);
      const members = (await s.redis.smembers(index)).filter((m) => m.startsWith(lookupMember(tag, '')));
      if (members.length > 0) await s.redis.srem(index, ...members);
    }
    const records = await s.records.forget(tag);
    return { callerEntries, contactHistories, records: records.removed, recordsInProgress: records.inProgress };
  }
}

/** A kept answer stored by reference: its profile id, given in clear. */
function parsed(raw: string): { summary?: undefined; profileId?: string } | undefined {
  try {
    const value = JSON.parse(raw) as { profileId?: unknown } | null;
    return typeof value?.profileId === 'string' ? { profileId: value.profileId } : undefined;
  } catch {
    return undefined;
  }
}
