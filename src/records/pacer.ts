import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisClient } from '../cache/redis.js';

/**
 * Fleet-wide pacing of the writes that have per-key limits, on rate-limiter-flexible (on the shared
 * Redis, with an in-process limiter as insurance while Redis fails):
 * - Customer Profiles rejects several objects ingested on one profile in the same second: one
 *   object write per profile per second;
 * - Connect's contact-attribute APIs allow 10 requests per second per account: at most
 *   `connectPerSecond` stamps a second.
 * Each method answers 0 (go now) or how many ms to wait.
 */
export class Pacer {
  private readonly perProfile: RateLimiterAbstract;
  private readonly connect: RateLimiterAbstract;

  constructor(o: { redis?: RedisClient | undefined; keyPrefix: string; connectPerSecond: number }) {
    const profile = { points: 1, duration: 1 };
    const connect = { points: o.connectPerSecond, duration: 1 };
    if (o.redis) {
      this.perProfile = new RateLimiterRedis({
        ...profile,
        storeClient: o.redis,
        keyPrefix: `${o.keyPrefix}:pace:profile`,
        insuranceLimiter: new RateLimiterMemory(profile),
      });
      this.connect = new RateLimiterRedis({
        ...connect,
        storeClient: o.redis,
        keyPrefix: `${o.keyPrefix}:pace:connect`,
        insuranceLimiter: new RateLimiterMemory(connect),
      });
    } else {
      this.perProfile = new RateLimiterMemory(profile);
      this.connect = new RateLimiterMemory(connect);
    }
  }

  profileObject(profileId: string): Promise<number> {
    return waitFor(this.perProfile, profileId);
  }

  connectStamp(): Promise<number> {
    return waitFor(this.connect, 'account');
  }
}

async function waitFor(limiter: RateLimiterAbstract, key: string): Promise<number> {
  try {
    await limiter.consume(key);
    return 0;
  } catch (res) {
    if (res instanceof RateLimiterRes) return Math.max(1, res.msBeforeNext);
    throw res;
  }
}
