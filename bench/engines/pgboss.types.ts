/** The part of pg-boss 10's API the bench uses (typed here; see support/peer.loader.ts). */
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
}

export interface PgBossWorkOptions {
  batchSize?: number;
  pollingIntervalSeconds?: number;
}

export interface PgBoss {
  start(): Promise<unknown>;
  stop(options?: { graceful?: boolean; wait?: boolean; close?: boolean; timeout?: number }): Promise<void>;
  on(event: 'error', handler: (error: Error) => void): unknown;
  createQueue(name: string): Promise<void>;
  insert(jobs: Array<{ name: string; data?: object }>): Promise<void>;
  send(name: string, data: object): Promise<string | null>;
  work<T>(name: string, options: PgBossWorkOptions, handler: (jobs: Array<PgBossJob<T>>) => Promise<unknown>): Promise<string>;
  getDb(): { executeSql(text: string, values: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }> };
}

export type PgBossConstructor = new (options: PgBossOptions) => PgBoss;

export const PGBOSS_VERSION = '10.4.2';

/** Queue names used by the bench. */
export const PGBOSS_QUEUES = {
  single: 'bench_single',
  chain: ['bench_chain_1', 'bench_chain_2', 'bench_chain_3'],
  item: 'bench_fanout_item',
  total: 'bench_fanout_total',
} as const;

/**
 * pg-boss 10 has no concurrency option: each work() call is one loop that fetches
 * up to batchSize jobs, runs them, completes them and then waits out the polling
 * interval (0.5 s is the minimum allowed). Ten loops with batches of ten is the
 * closest to the others' "claim 10 at a time, 10 in flight" (and generous: up to
 * 100 jobs in flight).
 */
export const PGBOSS_WORK = { loops: 10, batchSize: 10, pollingIntervalSeconds: 0.5 };
