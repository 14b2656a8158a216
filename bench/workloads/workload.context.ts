import { Engine } from '../engines/engine';
import { BenchConfig } from '../support/bench.config';
import { SpawnOptions } from '../support/worker.process';

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
