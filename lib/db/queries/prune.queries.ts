import { Queryable, SQL } from './statement';

/** Runs deleted per `prune_runs` call: each batch is its own short transaction (sizes
 * compared with bench/profile/history-probe.ts, PROBE_PRUNE_BATCH). */
export const PRUNE_BATCH_SIZE = 5000;

/**
 * Deletes finished runs that ended before `olderThan` (with their step states and
 * tasks), one bounded batch per transaction, until a batch comes back short or
 * `stopping()` turns true. Returns how many runs were deleted.
 */
export async function pruneInBatches(db: Queryable, olderThan: Date, stopping: () => boolean = () => false,
): Promise<number> {
  let total = 0;
  for (;;) {
    const [{ n }] = await db.run<{ n: number }>(SQL.prune_runs, [olderThan, PRUNE_BATCH_SIZE]);
    total += n;
    if (n < PRUNE_BATCH_SIZE || stopping()) return total;
  }
}
