import { performance } from 'perf_hooks';
import { bootWhileEnqueueing, pollUntil, WorkloadContext } from './workload.context';

/** One drain of pre-enqueued single-step units. */
export interface DrainResult {
  processes: number;
  enqueued: number;
  completed: number;
  seconds: number;
  /** completed units per second */
  rate: number;
  /** peak RSS (VmHWM) of the first worker process, bytes */
  peakRss: number;
}

/**
 * W1/W4 (and the ceiling): enqueue `singles` units in bulk with no worker claiming
 * yet, boot `processes` workers, then time from "go" until every unit's completion
 * is persisted. A drain that passes the cap is rated over what completed by then.
 */
export async function measureDrain(ctx: WorkloadContext, processes: number, n = ctx.config.counts.singles,
  capMs = ctx.config.counts.drainCapMs): Promise<DrainResult> {
  const { engine } = ctx;
  await engine.reset();
  const group = await bootWhileEnqueueing(ctx, processes, n);
  try {
    const t0 = performance.now();
    const deadline = Date.now() + capMs;
    await group.go();
    await group.waitHandled(n, deadline);
    let completed = 0;
    // handled ≠ persisted: wait (briefly past the cap) for the last results to land;
    // a drain cut off by the cap is rated over what was persisted at the cap
    const capped = group.handled() < n;
    await pollUntil(async () => (completed = await engine.countCompleted()) >= n,
      capped ? 0 : Math.max(deadline, Date.now() + 5000));
    const seconds = (performance.now() - t0) / 1000;
    return { processes, enqueued: n, completed, seconds, rate: completed / seconds, peakRss: group.procs[0].peakRss() };
  } finally {
    await group.stop();
  }
}
