/** The part of pg-boss 12's API the bench uses (typed here; see support/peer.loader.ts). */
export interface PgBossJob<T> {
  id: string;
  name: string;
  data: T;
}

export interface PgBossOptions {
  connectionString: string;
  max?: number;
  supervise?: boolean;
  schedule?: boolean;
  migrate?: boolean;
  /** v12: a dedicated LISTEN connection wakes workers of `notify` queues when a job is created. */
  useListenNotify?: boolean;
}

export interface PgBossQueueOptions {
  /** v12: creating a job emits a NOTIFY (acted on by instances with useListenNotify). */
  notify?: boolean;
}

export interface PgBossWorkOptions {
  batchSize?: number;
  pollingIntervalSeconds?: number;
  /** v12: workers (each its own fetch loop) this work() call spawns in this process. */
  localConcurrency?: number;
  /** v12: fetch again at once while fetches come back full. */
  burstWhenBatchFull?: boolean;
}

export interface PgBoss {
  start(): Promise<unknown>;
  stop(options?: { graceful?: boolean; close?: boolean; timeout?: number }): Promise<void>;
  on(event: 'error' | 'warning', handler: (error: Error) => void): unknown;
  createQueue(name: string, options?: PgBossQueueOptions): Promise<void>;
  /** v12: insert(name, jobs) (v10 took one array of { name, data }). */
  insert(name: string, jobs: Array<{ data?: object }>): Promise<unknown>;
  send(name: string, data: object): Promise<string | null>;
  work<T>(name: string, options: PgBossWorkOptions, handler: (jobs: Array<PgBossJob<T>>) => Promise<unknown>): Promise<string>;
  work<T>(name: string, handler: (jobs: Array<PgBossJob<T>>) => Promise<unknown>): Promise<string>;
  getDb(): { executeSql(text: string, values: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> };
}

export type PgBossConstructor = new (options: PgBossOptions | string) => PgBoss;

/** v12 is an ES module with a named export (v10: `module.exports = PgBoss`). */
export interface PgBossModule {
  PgBoss: PgBossConstructor;
}

export const PGBOSS_VERSION = '12.38.0';

/** Queue names used by the bench. */
export const PGBOSS_QUEUES = {
  single: 'bench_single',
  chain: ['bench_chain_1', 'bench_chain_2', 'bench_chain_3'],
  item: 'bench_fanout_item',
  total: 'bench_fanout_total',
} as const;

/**
 * What a pg-boss configuration sets: the constructor's useListenNotify, the queues'
 * notify, and work()'s options (none: its defaults, batchSize 1 every 2 s, one worker).
 */
export interface PgBossSettings {
  useListenNotify: boolean;
  notify: boolean;
  work: PgBossWorkOptions | null;
}

export const PGBOSS_DEFAULTS: PgBossSettings = { useListenNotify: false, notify: false, work: null };

/**
 * The tuned setup, from pg-boss's workers docs (docs/api/workers.md): large batches
 * (batchSize), several fetch loops in the process (localConcurrency), no pause
 * between full fetches (burstWhenBatchFull), LISTEN/NOTIFY (useListenNotify on the
 * instance plus notify on each queue) and the shortest allowed base poll (0.5 s).
 * Batches of 2,000 drained fastest of 100, 500, 1,000, 2,000 and 5,000 here;
 * localConcurrency 1, 2 and 4 were within the noise of each other.
 */
export const PGBOSS_TUNED: PgBossSettings = {
  useListenNotify: true,
  notify: true,
  work: { batchSize: 2000, localConcurrency: 2, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
};
