import { BenchConfig } from '../support/bench.config';

/** Workloads an engine can take part in. */
export type Workload = 'throughput' | 'latency' | 'fanout' | 'memory';

/**
 * Which of an engine's configurations a row measures: `defaults` is the engine out of
 * the box (what its README's quick start runs), `tuned` its own documented
 * best-throughput setup, `ceiling` the raw Postgres loops ours is measured against.
 */
export type Setup = 'defaults' | 'tuned' | 'ceiling';

/**
 * Orchestrator-side driver of one engine in one configuration: owns its database (or
 * Redis keyspace), enqueues work in the engine's own bulk API and observes
 * completion. Handlers run in worker processes (bench/workers/<worker>.worker.ts),
 * which get the configuration's settings through workerEnv().
 */
export interface Engine {
  /** JSON key, unique per configuration (e.g. `graphile-tuned`). */
  readonly key: string;
  /** The engine this configures; what BENCH_ENGINES selects (e.g. `graphile`). */
  readonly family: string;
  /** Worker file name: bench/workers/<worker>.worker.ts. */
  readonly worker: string;
  readonly kind: Setup;
  /** Row title, with the settings in short. */
  readonly label: string;
  /**
   * A variant of a configuration (e.g. ours with an OTel SDK registered): compared with
   * that configuration, never taken for it, nor for the engine's best.
   */
  readonly variant?: string;
  /** Workloads this configuration runs. */
  readonly workloads: ReadonlySet<Workload>;
  /** Version and exact settings with their source, shown under the tables. */
  readonly notes: string[];
  setup(config: BenchConfig): Promise<void>;
  teardown(): Promise<void>;
  /** Environment for this configuration's worker processes. */
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

/** Environment variable that carries a configuration's settings (JSON) to its workers. */
export const SETTINGS_ENV = 'BENCH_SETTINGS';

/** The settings a worker process was started with (see Engine.workerEnv). */
export function workerSettings<T>(): T {
  const raw = process.env[SETTINGS_ENV];
  if (!raw) throw new Error(`${SETTINGS_ENV} is not set (worker processes are started by bench/run.ts)`);
  return JSON.parse(raw) as T;
}

/**
 * Workloads of a peer's or our configuration: W1/W4 and W2 in both setups (W2 shows
 * which setup is each engine's best for latency), W3 and W5 in the tuned one.
 */
export function workloadsOf(setup: Setup): Set<Workload> {
  return new Set<Workload>(setup === 'tuned' ? ['throughput', 'latency', 'fanout', 'memory'] : ['throughput', 'latency']);
}

/** `{ a: 1, b: { c: true } }`: settings as they are written in code, for the notes. */
export function settingsText(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(settingsText).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return entries.length ? `{ ${entries.map(([k, v]) => `${k}: ${settingsText(v)}`).join(', ')} }` : '{}';
}
