import type { SharedState } from '../../src/cache/index.js';
import { memoryState } from '../../src/backends/memory-state.js';
import { AccountQuota } from '../../src/cache/quota.js';
import { embeddedBackend } from '../../src/backends/profiles.js';
import { loadConfig } from '../../src/config/index.js';
import type { AttributeMapping } from '../../src/domain/mapping.js';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import type { LocalRecordQueue } from '../../src/records/local-queue.js';
import { REPO_ROOT } from './service.js';

/**
 * The in-process state backend (no Redis) as the service builds it, with the service's default cache
 * TTLs, for a use case under test (a ContactResolver over a store of the test's choosing). Its record
 * queue is never started: like a replica with RECORD_WORKER=false, it queues records (contactRecordStatus
 * QUEUED) and writes none. The record pipeline has tests of its own.
 */
export function localState(
  mapping: AttributeMapping,
  repeatWindowMs = 86_400_000,
): SharedState & { cacheTtl: { ttlMs: number; notFoundTtlMs: number; staleMaxAgeMs: number; enrichmentTtlMs: number }; records: LocalRecordQueue; recordAttributes: string[]; legWindowMs: number; riskChangeWindowDays: number } {
  const logger = createLogger('silent');
  const config = { ...loadConfig({ LOG_LEVEL: 'silent' }, REPO_ROOT), attributeMapping: mapping, repeatWindowMs };
  const state = memoryState({ config, logger, metrics: createMetrics(), profiles: embeddedBackend(config, logger), quota: new AccountQuota(config.quota.shares) });
  return { ...state.shared, cacheTtl: config.cache, records: state.records as LocalRecordQueue, recordAttributes: [], legWindowMs: config.contactLegWindowMs, riskChangeWindowDays: config.riskChangeWindowDays };
}
