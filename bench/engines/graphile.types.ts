/** The part of graphile-worker 0.17's API the bench uses (typed here; see support/peer.loader.ts). */
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

export interface GraphileRunnerOptions {
  connectionString: string;
  concurrency?: number;
  noHandleSignals?: boolean;
  pollInterval?: number;
  taskList?: Record<string, GraphileTask>;
  logger?: GraphileLogger;
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

export const GRAPHILE_VERSION = '0.17.3';

/** Same handler concurrency as nestjs-pgflow's default maxConcurrency. */
export const GRAPHILE_CONCURRENCY = 10;

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
