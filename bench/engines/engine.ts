import { BenchConfig } from '../support/bench.config';

/** Workloads an engine can take part in. */
export type Workload = 'throughput' | 'latency' | 'fanout' | 'memory';

/**
 * Orchestrator-side driver of one engine: owns its database (or Redis keyspace),
 * enqueues work in the engine's own bulk API and observes completion. Handlers run
 * in worker processes (bench/workers/<key>.worker.ts).
 */
export interface Engine {
  /** Worker file name and JSON key. */
  readonly key: string;
  /** Column title. */
  readonly label: string;
  readonly workloads: ReadonlySet<Workload>;
  /** Version and settings, shown under the table. */
  readonly notes: string[];
  setup(config: BenchConfig): Promise<void>;
  teardown(): Promise<void>;
  /** Environment for this engine's worker processes. */
  workerEnv(): Record<string, string>;
  /** Removes every job/run left by the previous measurement. */
  reset(): Promise<void>;
  /** Enqueues `n` single-step units in bulk. */
  enqueueSingles(n: number): Promise<void>;
  /** Single-step units whose completion is persisted. */
  countCompleted(): Promise<number>;
  /** Runs one 3-step chain; resolves when the client sees it completed. */
  chain?(): Promise<void>;
  /** One fan-out over `n` elements followed by an aggregate; resolves at completion. */
  fanout?(n: number, timeoutMs: number): Promise<void>;
}
