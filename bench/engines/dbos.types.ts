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
 * Same handler concurrency as the others; the queue's polling interval is lowered
 * from its 1 s default (a process dequeues at most `workerConcurrency` workflows
 * per poll, so the default would cap a worker near 10 workflows/s).
 */
export const DBOS_QUEUE_OPTIONS = { workerConcurrency: 10, minPollingIntervalMs: 50 };

/** How often clients and parent workflows poll for results (default 1 s). */
export const DBOS_RESULT_POLL_MS = 10;

export const DBOS_WORKFLOWS = { single: 'bench_single', chain: 'bench_chain', fanout: 'bench_fanout', item: 'bench_item' } as const;
