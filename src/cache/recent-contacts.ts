import type { StateKeys } from './keys.js';
import { RedisScript, type RedisClient, type RedisHealth } from '../redis/client.js';

export interface RepeatInfo {
  isRepeat: boolean;
  lastContactAt: string;
}

/** What the service remembers of a customer's recent contacts, per profile. */
export interface RecentContacts {
  /**
   * Records this contact for the profile and tells whether the customer made another contact within
   * the window. Contacts are keyed by their InitialContactId, so a transfer of the same call or a
   * Connect retry of the same ContactId is not a repeat.
   */
  record(profileId: string, initialContactId: string, at: number): Promise<RepeatInfo>;
}

export const NO_REPEAT: RepeatInfo = Object.freeze({ isRepeat: false, lastContactAt: '' });
/** the most contacts a profile's history keeps */
export const MAX_PER_PROFILE = 20;

/** The repeat flag from the time of the newest other contact (0: none). */
export const repeatInfo = (last: number): RepeatInfo =>
  last > 0 ? { isRepeat: true, lastContactAt: new Date(last).toISOString() } : NO_REPEAT;

/** In-process recent contacts: bounded per profile and in profiles, entries expire with the window. */
export class MemoryRecentContacts implements RecentContacts {
  private readonly byProfile = new Map<string, Map<string, number>>();

  constructor(
    private readonly windowMs: number,
    private readonly maxProfiles = 100_000,
  ) {}

  record(profileId: string, initialContactId: string, at: number): Promise<RepeatInfo> {
    const contacts = this.byProfile.get(profileId) ?? new Map<string, number>();
    let last = 0;
    for (const [id, when] of contacts) {
      if (when < at - this.windowMs) contacts.delete(id);
      else if (id !== initialContactId && when > last) last = when;
    }
    if (!contacts.has(initialContactId)) contacts.set(initialContactId, at);
    while (contacts.size > MAX_PER_PROFILE) contacts.delete(contacts.keys().next().value!);
    // re-insert to keep the map in least-recently-used order, then bound it
    this.byProfile.delete(profileId);
    this.byProfile.set(profileId, contacts);
    if (this.byProfile.size > this.maxProfiles) this.byProfile.delete(this.byProfile.keys().next().value!);
    return Promise.resolve(repeatInfo(last));
  }

  /** erasure: drops the profiles' contact history; returns how many lists */
  forget(profileIds: readonly string[]): number {
    return profileIds.filter((id) => this.byProfile.delete(id)).length;
  }
}

// The history's update, atomic: drop contacts older than the window, add this one (keeping its first
// time), keep the newest `keep`, let the key expire with the window, and return the time of the newest
// other contact (false: none). A Lua function, shared with the cache hit's script (contact-hit.ts).
export const RECENT_LUA = `
local function recent(key, id, at, since, keep, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. since)
  redis.call('ZADD', key, 'NX', at, id)
  local n = redis.call('ZCARD', key)
  if n > keep then redis.call('ZREMRANGEBYRANK', key, 0, n - keep - 1) end
  redis.call('PEXPIRE', key, window)
  local top = redis.call('ZREVRANGE', key, 0, 1, 'WITHSCORES')
  for i = 1, #top, 2 do
    if top[i] ~= id then return top[i + 1] end
  end
  return false
end
`;
// One round trip (KEYS history; ARGV InitialContactId, at, window start, keep, window ms).
const RECORD_SCRIPT = new RedisScript(`${RECENT_LUA}
return recent(KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5])
`);

export class RedisRecentContacts implements RecentContacts {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly windowMs: number,
  ) {}

  // Any failure answers "no repeat", an error reply as much as a lost one: the flag is a hint to the flow,
  // never worth a wait. A Redis out of memory still runs the script whole: it refuses a script memory only
  // while it has written nothing, and the trim is its first write.
  record(profileId: string, initialContactId: string, at: number): Promise<RepeatInfo> {
    return this.health.safely(
      'recent.record',
      async () => {
        const last = (await RECORD_SCRIPT.run(
          this.redis,
          [this.keys.recentContacts(profileId)],
          [initialContactId, at, at - this.windowMs, MAX_PER_PROFILE, this.windowMs],
        )) as string | null;
        return repeatInfo(last ? Number(last) : 0);
      },
      NO_REPEAT,
    );
  }
}
