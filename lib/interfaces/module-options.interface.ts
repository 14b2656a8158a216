import { DataSource, DataSourceOptions } from 'typeorm';

/** Worker settings of one process. */
export interface PgflowWorkerOptions {
  /**
   * Run a worker in this process. Default `true`; `false` makes a client-only process,
   * which neither claims tasks nor ticks `@Workflow({ cron })` schedules.
   */
  enabled?: boolean;
  /** Flow slugs this process executes (and ticks the cron of). Default: every flow it has handlers for. */
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
  /**
   * A claimed task's lease in seconds. Default `30`. Renewed with the heartbeat (at least
   * three times per lease) while its handler runs, so a dead worker's tasks are claimable
   * again within about this long whatever their step `timeout`.
   */
  leaseSeconds?: number;
  /** Time in ms running handlers get to finish on shutdown. Default `30000`. */
  shutdownTimeoutMs?: number;
  /** Start polling at application bootstrap. Default `true`; `false`: call `PgflowWorker.start()`. */
  autoStart?: boolean;
}

/** Periodic pruning of finished runs (see `PgflowClient.pruneRuns`). */
export interface PgflowRetentionOptions {
  /** Delete completed, failed and cancelled runs that ended more than this many seconds ago. Required. */
  olderThanSeconds: number;
  /** Pause in ms between the end of one sweep and the next; the first runs at bootstrap. Default `60000`. */
  intervalMs?: number;
}

/** Options of `PgflowModule.forRoot`. */
export interface PgflowModuleOptions {
  /** A DataSource instance (used, not owned) or options (the module creates, owns and destroys it). */
  dataSource: DataSource | DataSourceOptions;
  /** Apply pgflow's own pending migrations at boot. Default `false`. */
  migrationsRun?: boolean;
  /** Named prepared statements for hot queries. Default `true`; `false` behind a transaction-mode pooler without them (PgBouncer 1.18). */
  preparedStatements?: boolean;
  /** Worker settings. */
  worker?: PgflowWorkerOptions;
  /** Delete finished runs periodically from this process. Default: off (runs are kept until `pruneRuns`). */
  retention?: PgflowRetentionOptions;
}
