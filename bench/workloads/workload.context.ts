import { Engine } from '../engines/engine';
import { BenchConfig } from '../support/bench.config';
import { SpawnOptions, WorkerGroup } from '../support/worker.process';

/** What a workload needs to drive one engine. */
export interface WorkloadContext {
  engine: Engine;
  config: BenchConfig;
  /** Spawn options of this engine's worker processes. */
  spawn: SpawnOptions;
}

/** Polls `fn` until it returns true or `deadline` (epoch ms) passes; returns the last answer. */
export async function pollUntil(fn: () => Promise<boolean>, deadline: number, everyMs = 5): Promise<boolean> {
  for (;;) {
    if (await fn()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Writes a backlog of `n` single-step units while `processes` workers boot (connect,
 * no claiming yet): both are outside the timed part, and doing them at once keeps the
 * default run short. Resolves with the booted workers; stops them if the write fails.
 */
export async function bootWhileEnqueueing(ctx: WorkloadContext, processes: number, n: number): Promise<WorkerGroup> {
  const starting = WorkerGroup.start(processes, ctx.spawn);
  try {
    await ctx.engine.enqueueSingles(n);
  } catch (err) {
    await starting.then((g) => g.stop(), () => undefined);
    throw err;
  }
  return starting;
}
