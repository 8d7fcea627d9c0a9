import { createSharedState, type SharedState } from '../../src/cache/index.js';
import type { AttributeMapping } from '../../src/contact/mapping.js';
import { createLogger } from '../../src/ops/logger.js';

export const TEST_CACHE_TTL = { ttlMs: 900_000, notFoundTtlMs: 60_000, staleMaxAgeMs: 86_400_000 };

/** In-process shared state (no Redis) and cache TTLs, with the service's defaults. */
export function localState(mapping: AttributeMapping, repeatWindowMs = 86_400_000): Omit<SharedState, 'health'> & { cacheTtl: typeof TEST_CACHE_TTL } {
  const { health: _health, ...state } = createSharedState({
    logger: createLogger('silent'),
    keyPrefix: 'test',
    domain: 'test',
    identityHashSecret: 'test-identity-hash-secret',
    mapping,
    idempotencyTtlMs: 300_000,
    repeatWindowMs,
    cacheKeepMs: TEST_CACHE_TTL.staleMaxAgeMs,
    createLockTtlMs: 2500,
  });
  return { ...state, cacheTtl: TEST_CACHE_TTL };
}
