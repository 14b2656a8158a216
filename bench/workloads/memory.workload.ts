import { WorkerGroup } from '../support/worker.process';
import { pollUntil, WorkloadContext } from './workload.context';

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
 * W5: one worker process handles `memorySecond` single-step units, fed in chunks so
 * the backlog never runs dry; memory is sampled (after a GC) once `memoryFirst` and
 * once `memorySecond` units were handled. Past the cap the second sample is taken
 * where the worker got to.
 */
export async function measureMemory(ctx: WorkloadContext): Promise<MemoryResult> {
  const { engine, config } = ctx;
  const { memoryFirst, memorySecond } = config.counts;
  const chunk = Math.max(1000, Math.round(memoryFirst / 2));
  await engine.reset();
  let enqueued = 0;
  const feed = async (upTo: number) => {
    while (enqueued < upTo) {
      const n = Math.min(chunk, memorySecond - enqueued);
      await engine.enqueueSingles(n);
      enqueued += n;
    }
  };
  await feed(Math.min(memorySecond, 2 * chunk));
  const group = await WorkerGroup.start(1, ctx.spawn);
  const worker = group.procs[0];
  const deadline = Date.now() + config.counts.memoryCapMs;
  try {
    await group.go();
    let first: MemorySample | undefined;
    await pollUntil(async () => {
      if (worker.failed) throw worker.failed;
      const handled = worker.handled;
      if (!first && handled >= memoryFirst) first = { tasks: handled, ...(await worker.memory()) };
      if (enqueued < memorySecond && handled > enqueued - chunk) await feed(Math.min(memorySecond, enqueued + chunk));
      return handled >= memorySecond;
    }, deadline, 20);
    const second = { tasks: worker.handled, ...(await worker.memory()) };
    first ??= second;
    return {
      first,
      second,
      rssGrowthPct: (100 * (second.rss - first.rss)) / first.rss,
      heapGrowthPct: (100 * (second.heapUsed - first.heapUsed)) / first.heapUsed,
    };
  } finally {
    await group.stop();
  }
}
