import type { RedisClient } from '../redis/client.js';
import { RedisScript } from '../redis/client.js';

/**
 * Fleet-wide pacing of the writes that have per-key limits:
 * - Customer Profiles rejects several objects ingested on one profile in the same second
 *   ("Too many objects ingested on the profile per second"): one object write per profile every
 *   1.05 s (5% kept back for network jitter between the writer and AWS);
 * - Connect's contact-attribute APIs allow 10 requests per second per account: at most
 *   `connectPerSecond` stamps a second.
 *
 * Each call reserves the next free slot for its key and answers how long to wait for it (0: now).
 * A limiter that only answers "may I go now?" makes every waiting record poll until it wins; with
 * a reservation each record is delayed once, to exactly its turn, so a burst of N contacts on one
 * profile costs N writes, not N² checks. The slot book lives in Redis (Redis' clock, so replicas'
 * clocks do not matter); while Redis fails, an in-process book stands in.
 *
 * A delayed job runs a little after its slot, by however late its worker gets to it (tens of ms,
 * more on a busy machine), and the one after may run on time: right before an object write, the
 * writer also checks the profile's last actual write (confirmProfileObject) and waits out the rest
 * of the gap if needed.
 */
export class Pacer {
  private readonly local = new Map<string, number>();
  private readonly fieldTimes = new Map<string, Map<string, number>>();
  private readonly profileGapMs = 1050;
  private readonly connectGapMs: number;

  constructor(private readonly o: { redis?: RedisClient | undefined; keyPrefix: string; connectPerSecond: number }) {
    this.connectGapMs = Math.ceil(1000 / o.connectPerSecond);
  }

  reserveProfileObject(profileId: string): Promise<number> {
    return this.reserve(`${this.o.keyPrefix}:pace:{p:${profileId}}`, this.profileGapMs);
  }

  /** Right before an object write: 0 (and this write is the profile's last) or how long to wait still. */
  confirmProfileObject(profileId: string): Promise<number> {
    return this.run(CONFIRM, this.lastWriteKey(profileId), this.profileGapMs, (last, now) =>
      now - last < this.profileGapMs ? { wait: this.profileGapMs - (now - last), next: last } : { wait: 0, next: now },
    );
  }

  /**
   * Right after an object write has come back (written or not): the profile's last write is now. The
   * gap then runs from when Customer Profiles had surely taken the write, not from when it was sent: a
   * write slow to leave this process (or slow to be read at the other end) cannot bring the next one
   * within the second on arrival.
   */
  async settleProfileObject(profileId: string): Promise<void> {
    await this.run(SETTLE, this.lastWriteKey(profileId), this.profileGapMs, (last, now) => ({ wait: 0, next: Math.max(last, now) }));
  }

  private lastWriteKey(profileId: string): string {
    return `${this.o.keyPrefix}:pace:{p:${profileId}}:last`;
  }

  /**
   * Of an update's fields, those no later update of the profile has written: each field remembers the
   * time of the newest update that wrote it, so an older update retried late (or replayed) never
   * overwrites a newer value. Marks the fields it returns.
   */
  async newestFields(profileId: string, fields: readonly string[], at: number): Promise<string[]> {
    const key = `${this.o.keyPrefix}:pace:{p:${profileId}}:fields`;
    if (this.o.redis) {
      try {
        return (await NEWEST.run(this.o.redis, [key], [at, FIELD_MEMORY_MS, ...fields])) as string[];
      } catch {
        // Redis failing: this replica's own book
      }
    }
    const book = this.fieldTimes.get(key) ?? new Map<string, number>();
    const newest = fields.filter((f) => (book.get(f) ?? 0) <= at);
    for (const f of newest) book.set(f, at);
    this.fieldTimes.set(key, book);
    if (this.fieldTimes.size > 10_000) this.fieldTimes.delete(this.fieldTimes.keys().next().value!);
    return newest;
  }

  reserveConnectStamp(): Promise<number> {
    return this.reserve(`${this.o.keyPrefix}:pace:connect`, this.connectGapMs);
  }

  private reserve(key: string, gapMs: number): Promise<number> {
    return this.run(RESERVE, key, gapMs, (free, now) => {
      const slot = Math.max(now, free);
      return { wait: slot - now, next: slot + gapMs };
    });
  }

  /**
   * The script on Redis, or while Redis fails this replica's own book (pacing per replica only,
   * until Redis is back), where `local` does what the script does with the key's value. An error reply
   * (a full Redis refuses the slot's SET) and a lost one end alike: a slot reserved in Redis by a command
   * whose reply was lost only makes a later record wait one gap more, never two writes in one second.
   */
  private async run(script: RedisScript, key: string, gapMs: number, local: (value: number, now: number) => { wait: number; next: number }): Promise<number> {
    if (this.o.redis) {
      try {
        return Number(await script.run(this.o.redis, [key], [gapMs]));
      } catch {
        // Redis failing: the in-process book below
      }
    }
    const now = Date.now();
    const { wait, next } = local(this.local.get(key) ?? 0, now);
    this.local.set(key, next);
    if (this.local.size > 10_000) for (const [k, v] of this.local) if (v + gapMs < now) this.local.delete(k);
    return wait;
  }
}

// How long a profile remembers when each field was last updated: longer than any retry or replay window.
const FIELD_MEMORY_MS = 30 * 24 * 3600 * 1000;
// NEWEST (KEYS the profile's field times; ARGV at, memoryMs, field...): the fields whose last update is not
// newer than `at`, marked with `at`. -> the fields
const NEWEST = new RedisScript(`
local out = {}
for i = 3, #ARGV do
  local last = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if last <= tonumber(ARGV[1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[1])
    out[#out + 1] = ARGV[i]
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return out
`);

// next free slot for the key, in Redis' own clock; the key expires soon after its last slot
const RESERVE = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gap = tonumber(ARGV[1])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], slot + gap, 'PX', slot + gap - now + 1000)
return slot - now
`);

// a write has come back: the profile's last object write is now, in Redis' clock (never moved back)
const SETTLE = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now > last then redis.call('SET', KEYS[1], now, 'PX', tonumber(ARGV[1]) + 1000) end
return 0
`);

// the profile's last object write, in Redis' clock: how long to wait still, or 0 and this write is the last
const CONFIRM = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gap = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if now - last < gap then return gap - (now - last) end
redis.call('SET', KEYS[1], now, 'PX', gap + 1000)
return 0
`);
