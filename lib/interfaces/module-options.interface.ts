import { DataSource, DataSourceOptions } from 'typeorm';

/** Worker settings of one process. */
export interface PgflowWorkerOptions {
  /** Run a worker in this process. Default `true`; `false` makes a client-only process. */
  enabled?: boolean;
  /** Flow slugs this process executes. Default: every flow it has handlers for. */
  flows?: string[];
  /** Most tasks claimed by one poll. Default `10`. */
  batchSize?: number;
  /** Most tasks running at once in this process. Default `10`. */
  maxConcurrency?: number;
  /** Safety poll interval in ms; NOTIFY wakes the poller earlier. Default `1000`. */
  pollIntervalMs?: number;
  /** Identity of this worker. Default `${hostname}-${pid}-${random}`. */
  workerId?: string;
  /** Heartbeat interval in ms. Default `5000`. */
  heartbeatIntervalMs?: number;
  /** Time in ms running handlers get to finish on shutdown. Default `30000`. */
  shutdownTimeoutMs?: number;
  /** Start polling at application bootstrap. Default `true`; `false`: call `PgflowWorker.start()`. */
  autoStart?: boolean;
}

/** Options of `PgflowModule.forRoot`. */
export interface PgflowModuleOptions {
  /** A DataSource instance (used, not owned) or options (the module creates, owns and destroys it). */
  dataSource: DataSource | DataSourceOptions;
  /** Apply pgflow's own pending migrations at boot. Default `false`. */
  migrationsRun?: boolean;
  /** Worker settings. */
  worker?: PgflowWorkerOptions;
  /** Delete finished runs older than this many seconds, checked every `intervalMs` (default 60000). Default: off. */
  retention?: { olderThanSeconds: number; intervalMs?: number };
}
