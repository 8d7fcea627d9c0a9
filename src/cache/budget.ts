import type { StateKeys } from './keys.js';
import { RedisScript, type RedisClient, type RedisHealth } from '../redis/client.js';

/**
 * A fleet-wide per-second allowance of calls for each Customer Profiles operation that enrichment
 * uses. Customer Profiles allows about 100 requests a second per operation per account, shared by
 * everything in the account (the built-in flow block, other integrations): enrichment takes at most
 * its share and is skipped, not throttled, when the share is spent. Lookups (SearchProfiles,
 * CreateProfile) never ask it: they are never held back for enrichment.
 */
export interface CallBudget {
  /** Takes `count` calls of each operation for the current second; returns the operations granted (all or none of each). */
  take(wanted: ReadonlyMap<string, number>): Promise<Set<string>>;
}

/** One replica alone (no Redis): it is the whole fleet. */
export class MemoryCallBudget implements CallBudget {
  private second = 0;
  private readonly used = new Map<string, number>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(wanted: ReadonlyMap<string, number>): Promise<Set<string>> {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      this.used.clear();
    }
    const granted = new Set<string>();
    for (const [operation, count] of wanted) {
      const used = this.used.get(operation) ?? 0;
      if (used + count <= this.perSecond) {
        this.used.set(operation, used + count);
        granted.add(operation);
      }
    }
    return Promise.resolve(granted);
  }
}

// TAKE (KEYS one counter per operation for this second; ARGV perSecond, then one count per key): a
// count that would pass the allowance is not taken. Counters live 2 s. The keys share a hash tag.
const TAKE = new RedisScript(`
local granted = {}
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i + 1])
  local used = tonumber(redis.call('GET', key) or '0')
  if used + count <= tonumber(ARGV[1]) then
    redis.call('INCRBY', key, count)
    if used == 0 then redis.call('PEXPIRE', key, 2000) end
    granted[#granted + 1] = i
  end
end
return granted
`);

/** The fleet's allowance in Redis: one script call per lookup for all its operations. */
export class RedisCallBudget implements CallBudget {
  private readonly alone: MemoryCallBudget;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.alone = new MemoryCallBudget(perSecond, now);
  }

  async take(wanted: ReadonlyMap<string, number>): Promise<Set<string>> {
    const operations = [...wanted.keys()];
    const second = Math.floor(this.now() / 1000);
    try {
      const keys = operations.map((op) => this.keys.callBudget(op, second));
      const granted = (await TAKE.run(this.redis, keys, [this.perSecond, ...operations.map((op) => wanted.get(op)!)])) as number[];
      return new Set(granted.map((i) => operations[i - 1]!));
    } catch (err) {
      this.health.failed('budget.take', err);
      // Redis failing: this replica keeps to the allowance as if it were the whole fleet (the fleet then
      // makes at most one allowance per replica), and the lookup is not held back. An error reply and a
      // lost one end alike here: a full or read-only Redis, which may last hours, counted nothing, and
      // going ahead unbounded for that long would spend the account's share that other integrations
      // and the built-in flow block rely on; a lost reply may have counted the calls in Redis, and
      // counting them here too holds enrichment back, never a lookup.
      return this.alone.take(wanted);
    }
  }
}
