/**
 * Idempotency key of the run started by the cron tick scheduled at `tickAt`. Every
 * instance derives the same key from the same tick, so the unique index on
 * (flow_slug, idempotency_key) lets exactly one of them create the run.
 */
export function cronRunKey(tickAt: Date): string {
  return `cron:${tickAt.toISOString()}`;
}

/**
 * The scheduled time of the tick firing now. `due` is the time the job reported as
 * its next tick before this one; cron fires at or after it, so it names the tick even
 * when the event loop delayed the callback. Without a usable `due`, the current
 * second (cron's resolution) stands in.
 */
export function tickTime(due: Date | undefined, now: Date): Date {
  if (due && due.getTime() <= now.getTime()) return due;
  return new Date(Math.floor(now.getTime() / 1000) * 1000);
}
