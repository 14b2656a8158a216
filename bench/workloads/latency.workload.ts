import { performance } from 'perf_hooks';
import { percentile } from '../support/stats';
import { WorkerGroup } from '../support/worker.process';
import { WorkloadContext } from './workload.context';

/** W2 result: start → completed of a 3-step chain, in ms. */
export interface LatencyResult {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
}

const WARMUP = 10;

/**
 * W2: one idle worker process; the orchestrator runs chains one after another and
 * times each from before the start call until its own client sees completion.
 * Slow engines stop at the cap with fewer samples (reported).
 */
export async function measureLatency(ctx: WorkloadContext): Promise<LatencyResult> {
  const { engine, config } = ctx;
  const chain = engine.chain?.bind(engine);
  if (!chain) throw new Error(`${engine.key} has no chain workload`);
  await engine.reset();
  const group = await WorkerGroup.start(1, ctx.spawn);
  try {
    await group.go();
    // warm-up takes at most a fifth of the cap, so slow engines keep samples
    const warmupUntil = Date.now() + config.counts.chainCapMs / 5;
    for (let i = 0; i < WARMUP && Date.now() < warmupUntil; i++) await chain();
    const deadline = Date.now() + config.counts.chainCapMs;
    const ms: number[] = [];
    while (ms.length < config.counts.chains && Date.now() < deadline) {
      const t0 = performance.now();
      await chain();
      ms.push(performance.now() - t0);
    }
    return { samples: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99) };
  } finally {
    await group.stop();
  }
}
