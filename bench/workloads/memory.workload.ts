import { bootWhileEnqueueing, pollUntil, WorkloadContext } from './workload.context';

/** Memory of one worker process after a garbage collection. */
export interface MemorySample {
  tasks: number;
  rss: number;
  heapUsed: number;
}

/** W5 leak check. */
export interface MemoryResult {
  first: MemorySample;
  second: MemorySample;
  /** (second.rss - first.rss) / first.rss, percent */
  rssGrowthPct: number;
  heapGrowthPct: number;
}

/**
 * W5: one worker process handles `memorySecond` single-step units, all enqueued
 * before it starts (writing them meanwhile slowed ours so much, enqueue and worker
 * sharing two cores, that it never reached the second sample); memory is sampled
 * (after a GC) once `memoryFirst` and once `memorySecond` units were handled. Past
 * the cap the second sample is taken where the worker got to; if it never reached
 * `memoryFirst`, the growth is NaN.
 */
export async function measureMemory(ctx: WorkloadContext): Promise<MemoryResult> {
  const { engine, config } = ctx;
  const { memoryFirst, memorySecond } = config.counts;
  await engine.reset();
  const group = await bootWhileEnqueueing(ctx, 1, memorySecond);
  const worker = group.procs[0];
  const deadline = Date.now() + config.counts.memoryCapMs;
  try {
    await group.go();
    let first: MemorySample | undefined;
    await pollUntil(async () => {
      if (worker.failed) throw worker.failed;
      const handled = worker.handled;
      if (!first && handled >= memoryFirst) first = { tasks: handled, ...(await worker.memory()) };
      return handled >= memorySecond;
    }, deadline, 20);
    const second = { tasks: worker.handled, ...(await worker.memory()) };
    const base = first ?? { tasks: 0, rss: NaN, heapUsed: NaN };
    return {
      first: base,
      second,
      rssGrowthPct: (100 * (second.rss - base.rss)) / base.rss,
      heapGrowthPct: (100 * (second.heapUsed - base.heapUsed)) / base.heapUsed,
    };
  } finally {
    await group.stop();
  }
}
