/**
 * Delay before retry number `failures` (1-based) of something that keeps failing:
 * `baseMs` doubled per failure, at most `capMs`. For the poller, the result flusher
 * and the notification connection; task retries back off in SQL (pgflow.fail_task).
 */
export function backoffMs(failures: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(failures, 0), 20));
}
