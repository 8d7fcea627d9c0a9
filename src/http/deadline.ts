/**
 * The budget for one resolve: the smaller of the caller's `X-Deadline-Ms` (its remaining time) and
 * RESOLVE_DEADLINE_MS. A header that is not a positive integer is ignored.
 */
export function deadlineBudget(header: string | string[] | undefined, configuredMs: number): number {
  if (typeof header !== 'string' || !/^\d{1,9}$/.test(header.trim())) return configuredMs;
  const ms = Number(header.trim());
  return ms > 0 ? Math.min(ms, configuredMs) : configuredMs;
}

/** Answer this long before the deadline, so the fallback leaves the process in time. */
export function safetyMargin(budgetMs: number): number {
  return Math.min(20, Math.floor(budgetMs / 10));
}
