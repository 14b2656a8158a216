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
 * W1/W4 (and the ceiling): enqueue `singles` units in bulk with no worker running,
 * boot `processes` workers, then time from "go" until every unit's completion is
 * persisted. A drain that passes the cap is rated over what completed by then.
 */
export async function measureDrain(ctx: WorkloadContext, processes: number): Promise<DrainResult> {
  const { engine, config } = ctx;
  const n = config.counts.singles;
  await engine.reset();
  await engine.enqueueSingles(n);
  const group = await WorkerGroup.start(processes, ctx.spawn);
  try {
    const t0 = performance.now();
    const deadline = Date.now() + config.counts.drainCapMs;
    await group.go();
    await group.waitHandled(n, deadline);
    let completed = 0;
    // handled ≠ persisted: wait (briefly past the cap) for the last results to land
    await pollUntil(async () => (completed = await engine.countCompleted()) >= n, Math.max(deadline, Date.now() + 5000));
    const seconds = (performance.now() - t0) / 1000;
    return { processes, enqueued: n, completed, seconds, rate: completed / seconds, peakRss: group.procs[0].peakRss() };
  } finally {
    await group.stop();
  }
}
