import { createSharedState, type SharedState } from '../../src/cache/index.js';
import type { AttributeMapping } from '../../src/domain/mapping.js';
import { createLogger } from '../../src/ops/logger.js';
import { EmbeddedProfileStore } from '../../src/profiles/embedded.js';
import { LocalRecordQueue } from '../../src/records/local-queue.js';
import { Pacer } from '../../src/records/pacer.js';
import { RecordWriter } from '../../src/records/writer.js';

export const TEST_CACHE_TTL = { ttlMs: 900_000, notFoundTtlMs: 60_000, staleMaxAgeMs: 86_400_000, enrichmentTtlMs: 60_000 };

/**
 * In-process shared state (no Redis) and cache TTLs, with the service's defaults, and an in-process
 * record queue that is never started: like a replica with RECORD_WORKER=false, it queues records
 * (contactRecordStatus QUEUED) and writes none. The record pipeline has tests of its own.
 */
export function localState(
  mapping: AttributeMapping,
  repeatWindowMs = 86_400_000,
): Omit<SharedState, 'health'> & { cacheTtl: typeof TEST_CACHE_TTL; records: LocalRecordQueue; recordAttributes: string[] } {
  const logger = createLogger('silent');
  const records = new LocalRecordQueue(new RecordWriter(new EmbeddedProfileStore(), new Pacer({ keyPrefix: 'test', connectPerSecond: 5 })), {
    ratePerSecond: 40,
    maxAttempts: 3,
    logger,
  });
  const { health: _health, ...state } = createSharedState({
    logger,
    keyPrefix: 'test',
    domain: 'test',
    identityHashSecret: 'test-identity-hash-secret',
    dataKeys: [{ id: 'test', key: Buffer.alloc(32, 7) }],
    mapping,
    idempotencyTtlMs: 300_000,
    repeatWindowMs,
    cacheKeepMs: TEST_CACHE_TTL.staleMaxAgeMs,
    createLockTtlMs: 2500,
    enrichmentCallsPerSecond: 50,
  });
  return { ...state, cacheTtl: TEST_CACHE_TTL, records, recordAttributes: [] };
}
