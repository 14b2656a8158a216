import type { RunStatus } from '../interfaces/run-info.interface';

/** Injection token of the resolved module options (`ResolvedPgflowOptions`). */
export const PGFLOW_OPTIONS = Symbol('PGFLOW_OPTIONS');

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

/** Every status a run can have, for checking filters (CLI, dashboard). */
export const RUN_STATUSES: readonly RunStatus[] = ['queued', 'started', 'completed', 'failed', 'cancelled',
  'compensating', 'compensation_failed'];

/**
 * The statuses a run keeps until resumed by retryRun: waitForRun settles on them.
 * `'compensating'` is not one: the run is still doing its compensations.
 */
export const FINISHED_RUN_STATUSES: ReadonlySet<string> = new Set<RunStatus>(['completed', 'failed', 'cancelled',
  'compensation_failed']);
