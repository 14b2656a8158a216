/** Injection token of the resolved module options. */
export const PGFLOW_MODULE_OPTIONS = Symbol('PGFLOW_MODULE_OPTIONS');
/** Injection token of the DataSource pgflow talks through. */
export const PGFLOW_DATA_SOURCE = Symbol('PGFLOW_DATA_SOURCE');

export const WORKFLOW_METADATA = 'pgflow:workflow';
export const STEP_METADATA = 'pgflow:step';

/** NOTIFY channel: payload is a flow slug whose tasks just became claimable. */
export const TASKS_CHANNEL = 'pgflow_tasks';
/** NOTIFY channel: payload is `<run_id>:<status>` when a run or its steps change. */
export const RUNS_CHANNEL = 'pgflow_runs';
/** NOTIFY channel for workers: `<run_id>:<status>` when a run is cancelled, failed or resumed. */
export const CONTROL_CHANNEL = 'pgflow_control';

/** Largest JSON payload (input or output) accepted, in bytes. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export const DEFAULTS = {
  maxAttempts: 3,
  baseDelay: 1,
  timeout: 60,
  startDelay: 0,
  batchSize: 10,
  maxConcurrency: 10,
  pollIntervalMs: 1000,
  heartbeatIntervalMs: 5000,
  shutdownTimeoutMs: 30000,
} as const;
