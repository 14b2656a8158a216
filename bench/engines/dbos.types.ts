import { ClientBase } from 'pg';

/** The part of DBOS Transact 5's API the bench uses (typed here; see support/peer.loader.ts). */
export interface DBOSHandle<R> {
  workflowID: string;
  getResult(options?: { pollingIntervalMs?: number }): Promise<R>;
}

export interface DBOSStatic {
  setConfig(config: { name: string; systemDatabaseUrl: string; logLevel?: string }): void;
  launch(): Promise<void>;
  shutdown(): Promise<void>;
  migrate(systemDatabaseUrl: string): Promise<void>;
  registerWorkflow<A extends unknown[], R>(fn: (...args: A) => Promise<R>, config: { name: string }): (...args: A) => Promise<R>;
  runStep<R>(fn: () => Promise<R>, config?: { name?: string }): Promise<R>;
  startWorkflow<A extends unknown[], R>(fn: (...args: A) => Promise<R>, params?: { queueName?: string }):
    (...args: A) => Promise<DBOSHandle<R>>;
  waitAll<R>(handles: Array<DBOSHandle<R>>, options?: { pollingIntervalMs?: number }): Promise<Array<DBOSHandle<R>>>;
}

export interface DBOSEnqueueOptions {
  queueName: string;
  workflowName: string;
  applicationName?: string;
}

export interface DBOSClient {
  enqueue<R>(options: DBOSEnqueueOptions, ...args: unknown[]): Promise<DBOSHandle<R>>;
  enqueueInTransaction<R>(client: ClientBase, options: DBOSEnqueueOptions, ...args: unknown[]): Promise<DBOSHandle<R>>;
  registerQueue(name: string, options: {
    workerConcurrency?: number; minPollingIntervalMs?: number; applicationName?: string; onConflict?: 'always_update';
  }): Promise<unknown>;
  destroy(): Promise<void>;
}

export interface DBOSModule {
  DBOS: DBOSStatic;
  DBOSClient: { create(options: { systemDatabaseUrl: string; applicationName?: string }): Promise<DBOSClient> };
}

export const DBOS_VERSION = '5.3.0';
export const DBOS_APP = 'pgflow_bench';
export const DBOS_QUEUE = 'bench_queue';

/**
 * What a configuration sets: the queue's parameters and how often clients and parent
 * workflows poll for a result. Defaults: a queue registered with no parameters (no
 * concurrency limit, minPollingIntervalMs 1000) and results polled every 1000 ms.
 */
export interface DBOSSettings {
  queue: { workerConcurrency?: number; minPollingIntervalMs?: number };
  resultPollMs?: number;
}

export const DBOS_DEFAULTS: DBOSSettings = { queue: {} };

/**
 * Tuned: fast polling — the queue's minPollingIntervalMs and getResult/waitAll's
 * pollingIntervalMs (docs.dbos.dev/typescript/reference/queues) — and a worker
 * concurrency limit. Without one (the default) a poll dequeues every ready workflow
 * and starts them all at once: with 20,000 queued, none had completed after 8 s here.
 * Of 30, 100, 200 and 400, workerConcurrency 100 drained fastest (~330/s, 1 process).
 */
export const DBOS_TUNED: DBOSSettings = { queue: { workerConcurrency: 100, minPollingIntervalMs: 10 }, resultPollMs: 10 };

export const DBOS_WORKFLOWS = { single: 'bench_single', chain: 'bench_chain', fanout: 'bench_fanout', item: 'bench_item' } as const;
