import { LRUCache } from 'lru-cache';
import type { ProfileUpdate } from '../domain/profile-update.js';
import type { StateKeys } from './keys.js';
import type { RedisClient, RedisHealth } from '../redis/client.js';
import type { Sealer } from '../redis/seal.js';

/** A profile update queued and not written yet. */
export interface PendingUpdate {
  /** the job's update id (UpdateJob.updateId): the writer removes it by this */
  updateId: string;
  /** epoch ms the update was asked for (the job's receivedAt): pending updates apply in this order */
  receivedAt: number;
  update: ProfileUpdate;
}

/**
 * How long a pending update is kept at most, whether or not its write is seen to land: 1 hour. The
 * writer removes it once written or dead-lettered (normally within a second or two); this is the
 * backstop for a removal that never came (Redis failing at that moment, a replica killed between the
 * write and the removal, a job that cannot be opened). Long enough for any backlog the queue is built
 * for (at the default 40 writes a second, 144,000 jobs; throttling pauses of minutes); short enough
 * that a lost removal overlays an update already written, over a change made in Customer Profiles
 * since by other means, for an hour at most. The same as completed jobs are kept (Connect retries).
 * An update still queued after it is read as Customer Profiles has it until it lands.
 */
export const PENDING_UPDATE_TTL_MS = 3_600_000;

/**
 * Per profile, the updates queued and not yet written, so that a resolve that reads the profile fresh
 * from Customer Profiles (a key with no cached lookup) shows them too (read your writes). Written when
 * an update is queued, removed when the record writer has written it or dead-lettered it, expiring
 * after PENDING_UPDATE_TTL_MS. Every method is best effort and never throws: a failure is counted.
 */
export interface PendingUpdates {
  add(profileId: string, pending: PendingUpdate): Promise<void>;
  /**
   * The profile's pending updates, oldest first (the order the writer lets them win in: the newest
   * update of a field is what Customer Profiles keeps). One read. `undefined`: they could not be read.
   */
  list(profileId: string): Promise<ProfileUpdate[] | undefined>;
  remove(profileId: string, updateId: string): Promise<void>;
}

const inOrder = (entries: Iterable<PendingUpdate>, now: number): ProfileUpdate[] =>
  [...entries]
    .filter((p) => p.receivedAt > now - PENDING_UPDATE_TTL_MS)
    .sort((a, b) => a.receivedAt - b.receivedAt || (a.updateId < b.updateId ? -1 : a.updateId > b.updateId ? 1 : 0))
    .map((p) => p.update);

/** In-process (no Redis): bounded in profiles, each profile's entries expire together with its last update. */
export class MemoryPendingUpdates implements PendingUpdates {
  private readonly byProfile: LRUCache<string, Map<string, PendingUpdate>>;

  constructor(
    private readonly now: () => number = Date.now,
    max = 100_000,
  ) {
    this.byProfile = new LRUCache({ max, ttl: PENDING_UPDATE_TTL_MS });
  }
  add(profileId: string, pending: PendingUpdate): Promise<void> {
    const entries = this.byProfile.get(profileId) ?? new Map<string, PendingUpdate>();
    entries.set(pending.updateId, pending);
    this.byProfile.set(profileId, entries);
    return Promise.resolve();
  }
  list(profileId: string): Promise<ProfileUpdate[] | undefined> {
    return Promise.resolve(inOrder(this.byProfile.get(profileId)?.values() ?? [], this.now()));
  }
  remove(profileId: string, updateId: string): Promise<void> {
    const entries = this.byProfile.get(profileId);
    entries?.delete(updateId);
    if (entries?.size === 0) this.byProfile.delete(profileId);
    return Promise.resolve();
  }
  /** erasure: drops the profiles' pending updates; returns how many profiles had some */
  forget(profileIds: readonly string[]): number {
    return profileIds.filter((id) => this.byProfile.delete(id)).length;
  }
}

/**
 * In Redis: one hash per profile, `{p:<profileId>}:pending`, a field per update id, each value the
 * update and its time sealed with DATA_KEYS (bound to the key and the field: it opens nowhere else).
 * The key expires PENDING_UPDATE_TTL_MS after its last update; each entry is read only within that
 * long of its own time (an older one, kept alive by newer updates, is skipped).
 */
export class RedisPendingUpdates implements PendingUpdates {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly sealer: Sealer,
    private readonly now: () => number = Date.now,
  ) {}

  add(profileId: string, pending: PendingUpdate): Promise<void> {
    const key = this.keys.pendingUpdates(profileId);
    return this.health.safely(
      'pending.add',
      async () => {
        const sealed = this.sealer.seal(pending, aadOf(key, pending.updateId));
        await this.redis.multi().hset(key, pending.updateId, sealed).pexpire(key, PENDING_UPDATE_TTL_MS).exec();
      },
      undefined,
    );
  }

  async list(profileId: string): Promise<ProfileUpdate[] | undefined> {
    const key = this.keys.pendingUpdates(profileId);
    let raw: Record<string, string>;
    try {
      raw = await this.redis.hgetall(key);
    } catch (err) {
      this.health.failed('pending.read', err);
      return undefined;
    }
    const entries: PendingUpdate[] = [];
    for (const [updateId, sealed] of Object.entries(raw)) {
      const pending = this.sealer.open<PendingUpdate>(sealed, aadOf(key, updateId));
      if (pending?.updateId === updateId) entries.push(pending);
    }
    return inOrder(entries, this.now());
  }

  remove(profileId: string, updateId: string): Promise<void> {
    return this.health.safely(
      'pending.remove',
      async () => {
        await this.redis.hdel(this.keys.pendingUpdates(profileId), updateId);
      },
      undefined,
    );
  }
}

const aadOf = (key: string, updateId: string) => `${key} ${updateId}`;
