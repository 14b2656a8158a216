import { performance } from 'perf_hooks';
import { WorkerGroup } from '../support/worker.process';
import { WorkloadContext } from './workload.context';

/** W3 result. */
export interface FanoutResult {
  processes: number;
  elements: number;
  /** start → aggregate completed; NaN when the cap passed first */
  seconds: number;
}

/** Worker processes for W3: one per core of the reference machine. */
export const FANOUT_PROCESSES = 2;

/** W3: one fan-out over `fanout` elements and an aggregate, timed from the client. */
export async function measureFanout(ctx: WorkloadContext): Promise<FanoutResult> {
  const { engine, config } = ctx;
  const fanout = engine.fanout?.bind(engine);
  if (!fanout) throw new Error(`${engine.key} has no fan-out workload`);
  const n = config.counts.fanout;
  await engine.reset();
  const group = await WorkerGroup.start(FANOUT_PROCESSES, ctx.spawn);
  try {
    await group.go();
    const t0 = performance.now();
    let seconds = NaN;
    try {
      await fanout(n, config.counts.fanoutCapMs);
      seconds = (performance.now() - t0) / 1000;
    } catch (err) {
      console.warn(`[bench] ${engine.key} W3: ${(err as Error).message}`);
    }
    return { processes: FANOUT_PROCESSES, elements: n, seconds };
  } finally {
    await group.stop();
  }
}
