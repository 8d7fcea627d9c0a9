import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { AttemptLimits } from '../config/index.js';
import { RedisScript, type RedisClient, type RedisHealth } from '../redis/client.js';
import type { StateKeys } from './keys.js';

/**
 * What an ID&V check is counted against: the caller (the keyed hash of their phone number or e-mail
 * address, or of the contact's InitialContactId for a withheld caller) and each key they claimed (the
 * keyed hash of the key's name and the value typed). Keyed hashes only: nothing in clear.
 */
export interface AttemptSubject {
  kind: 'caller' | 'key';
  id: string;
}

/**
 * Failed ID&V checks within a window, per subject; at the subject's limit (AttemptLimits) it is locked for
 * the cooling-off period: its further checks are not sent to Customer Profiles (OWASP API4: an IVR is an
 * anonymous, automatable interface). Times are the service's clock (epoch ms), passed in.
 */
export interface VerificationAttempts {
  /** Until when (epoch ms) a check of these subjects is locked; 0: not locked. */
  lockedUntil(subjects: readonly AttemptSubject[], now: number): Promise<number>;
  /** Counts a failed check of these subjects; resolves to the subjects this failure locked. */
  failed(subjects: readonly AttemptSubject[], now: number): Promise<AttemptSubject[]>;
  /** How many failed checks these subjects took within the window (a lockout starts a subject's count again). */
  failures(subjects: readonly AttemptSubject[], now: number): Promise<number>;
}

/** IDV_MAX_FAILURES_PER_CALLER and _PER_KEY both 0: nothing counted, nothing locked. */
export const NO_ATTEMPT_LIMITS: VerificationAttempts = {
  lockedUntil: () => Promise.resolve(0),
  failed: () => Promise.resolve([]),
  failures: () => Promise.resolve(0),
};

const maxOf = (limits: AttemptLimits, s: AttemptSubject) => (s.kind === 'caller' ? limits.perCaller : limits.perKey);

/** In this process (no Redis): the same rules, per replica. */
export class MemoryAttempts implements VerificationAttempts {
  private readonly times: LRUCache<string, number[]>;
  private readonly locks: LRUCache<string, number>;

  constructor(private readonly limits: AttemptLimits, max = 100_000) {
    this.times = new LRUCache({ max });
    this.locks = new LRUCache({ max });
  }

  lockedUntil(subjects: readonly AttemptSubject[], now: number): Promise<number> {
    const until = Math.max(0, ...subjects.map((s) => this.locks.get(`${s.kind}:${s.id}`) ?? 0));
    return Promise.resolve(until > now ? until : 0);
  }

  failures(subjects: readonly AttemptSubject[], now: number): Promise<number> {
    const since = now - this.limits.windowMs;
    return Promise.resolve(subjects.reduce((n, s) => n + (this.times.get(`${s.kind}:${s.id}`) ?? []).filter((t) => t > since).length, 0));
  }

  failed(subjects: readonly AttemptSubject[], now: number): Promise<AttemptSubject[]> {
    const locked: AttemptSubject[] = [];
    for (const s of subjects) {
      const max = maxOf(this.limits, s);
      if (max <= 0) continue;
      const key = `${s.kind}:${s.id}`;
      const times = (this.times.get(key) ?? []).filter((t) => t > now - this.limits.windowMs);
      times.push(now);
      if (times.length >= max) {
        this.locks.set(key, now + this.limits.lockoutMs);
        this.times.delete(key);
        locked.push(s);
      } else this.times.set(key, times);
    }
    return Promise.resolve(locked);
  }
}

// FAIL (KEYS the subject's failures, its lock; ARGV now, window start, max, lockout ms, window ms, a member
// unique to this failure): drops the failures before the window, adds this one; at `max`, locks the subject
// until now + lockout (the value, read against the service's clock; the key outlives it by a window) and
// starts its count again. -> 1 locked now | 0
const FAIL = new RedisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[4]), 'PX', tonumber(ARGV[4]) + tonumber(ARGV[5]))
redis.call('DEL', KEYS[1])
return 1
`);

/**
 * Fleet-wide, in Redis: per subject a sorted set of its failures' times and a lock key holding until when.
 * Each subject is its own hash tag (a caller's and a key's counts are in different cluster slots), so the
 * subjects of one check are read and counted side by side. A Redis failure never locks anyone and never
 * costs an answer: the check goes on uncounted (RedisHealth counts the error).
 */
export class RedisAttempts implements VerificationAttempts {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
    private readonly health: RedisHealth,
    private readonly limits: AttemptLimits,
  ) {}

  lockedUntil(subjects: readonly AttemptSubject[], now: number): Promise<number> {
    return this.health.safely(
      'attempts.locked',
      async () => {
        const values = await Promise.all(subjects.map((s) => this.redis.get(this.keys.attemptLock(s.kind, s.id))));
        const until = Math.max(0, ...values.map((v) => Number(v ?? 0) || 0));
        return until > now ? until : 0;
      },
      0,
    );
  }

  failures(subjects: readonly AttemptSubject[], now: number): Promise<number> {
    const since = now - this.limits.windowMs;
    return Promise.all(subjects.map((s) => this.redis.zcount(this.keys.attemptFailures(s.kind, s.id), since, '+inf'))).then((n) => n.reduce((a, b) => a + b, 0));
  }

  failed(subjects: readonly AttemptSubject[], now: number): Promise<AttemptSubject[]> {
    const { windowMs, lockoutMs } = this.limits;
    return this.health.safely(
      'attempts.failed',
      async () => {
        const counted = subjects.filter((s) => maxOf(this.limits, s) > 0);
        const locked = await Promise.all(
          counted.map((s) =>
            FAIL.run(
              this.redis,
              [this.keys.attemptFailures(s.kind, s.id), this.keys.attemptLock(s.kind, s.id)],
              // the member: random, so two failures in the same millisecond (two replicas, both pid 1 in their containers) are two
              [now, now - windowMs, maxOf(this.limits, s), lockoutMs, windowMs, randomBytes(9).toString('base64url')],
            ),
          ),
        );
        return counted.filter((_, i) => locked[i] === 1);
      },
      [],
    );
  }
}
