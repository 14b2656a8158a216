/** The part of graphile-worker 0.18's API the bench uses (typed here; see support/peer.loader.ts). */
export interface GraphileQueryResult {
  rows: Array<Record<string, unknown>>;
}

export interface GraphileJobHelpers {
  addJob(identifier: string, payload?: unknown): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<GraphileQueryResult>;
}

export type GraphileTask = (payload: unknown, helpers: GraphileJobHelpers) => Promise<void> | void;

export interface GraphileLogger {
  error(message: string): void;
}

export type GraphileLogFactory = (scope: object) => (level: string, message: string) => void;

/** preset.worker options the bench sets (graphile-config preset; see its performance docs). */
export interface GraphilePresetWorkerOptions {
  concurrentJobs?: number;
  maxPoolSize?: number;
  localQueue?: { size: number };
  completeJobBatchDelay?: number;
  failJobBatchDelay?: number;
}

export interface GraphileRunnerOptions {
  connectionString: string;
  concurrency?: number;
  maxPoolSize?: number;
  noHandleSignals?: boolean;
  pollInterval?: number;
  taskList?: Record<string, GraphileTask>;
  logger?: GraphileLogger;
  preset?: { worker?: GraphilePresetWorkerOptions };
}

export interface GraphileRunner {
  stop(): Promise<void>;
  promise: Promise<void>;
}

export interface GraphileWorkerUtils {
  addJobs(specs: Array<{ identifier: string; payload?: unknown }>): Promise<unknown>;
  release(): Promise<void>;
}

export interface GraphileWorkerModule {
  run(options: GraphileRunnerOptions): Promise<GraphileRunner>;
  runMigrations(options: { connectionString: string; logger?: GraphileLogger }): Promise<void>;
  makeWorkerUtils(options: { connectionString: string; logger?: GraphileLogger }): Promise<GraphileWorkerUtils>;
  Logger: new (factory: GraphileLogFactory) => GraphileLogger;
}

export const GRAPHILE_VERSION = '0.18.0';

/**
 * What a configuration passes to run() as preset.worker: nothing (its defaults:
 * concurrentJobs 1, maxPoolSize 10, no local queue, each completion its own
 * statement), or the configuration of its performance docs
 * (https://worker.graphile.org/docs/performance).
 */
export type GraphileSettings = GraphilePresetWorkerOptions;

export const GRAPHILE_DEFAULTS: GraphileSettings = {};

export const GRAPHILE_TUNED: GraphileSettings = {
  concurrentJobs: 24,
  maxPoolSize: 25,
  localQueue: { size: 500 },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
};

/** Task identifiers used by the bench. */
export const GRAPHILE_TASKS = {
  single: 'bench_single',
  chain: ['bench_chain_1', 'bench_chain_2', 'bench_chain_3'],
  item: 'bench_fanout_item',
  total: 'bench_fanout_total',
} as const;

/** A logger that keeps warnings and errors only (as the other engines are run). */
export function quietLogger(mod: GraphileWorkerModule): GraphileLogger {
  return new mod.Logger(() => (level, message) => {
    if (level === 'error' || level === 'warning') console.error(`[graphile-worker] ${message}`);
  });
}
