import { performance } from 'perf_hooks';
import { WorkerGroup } from '../support/worker.process';
import { pollUntil, WorkloadContext } from './workload.context';

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
  // the workers boot (connect, no claiming) while the backlog is written: both are
  // outside the timed part, and doing them at once keeps the default run short
  const starting = WorkerGroup.start(processes, ctx.spawn);
  try {
    await engine.enqueueSingles(n);
  } catch (err) {
    await starting.then((g) => g.stop(), () => undefined);
    throw err;
  }
  const group = await starting;
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
