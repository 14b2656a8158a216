import { ClaimedTask, TaskAttempt } from './task.types';
import { Queryable, SQL } from './statement';

/** Who claims what: a worker, the flows it executes and how many tasks it wants. */
export interface ClaimRequest {
  flows: readonly string[];
  workerId: string;
  limit: number;
  /** Runs whose input the worker already holds: their tasks come without `run_input`. */
  knownRuns: readonly string[];
  /** The lease each claimed task gets, renewed by the worker's heartbeat (`worker.leaseSeconds`). */
  leaseSeconds: number;
}

function claimParams(r: ClaimRequest): unknown[] {
  return [r.flows, r.workerId, r.limit, r.knownRuns, r.leaseSeconds];
}

/** Claims ready tasks under a lease (`pgflow.start_tasks`), each with its built input. */
export function claimTasks(db: Queryable, request: ClaimRequest): Promise<ClaimedTask[]> {
  return db.run<ClaimedTask>(SQL.start_tasks, claimParams(request));
}

/** Stores a batch of results (`resultsJson`: a JSON array of attempts with their `output`). */
export async function completeTasks(db: Queryable, resultsJson: string): Promise<void> {
  await db.run(SQL.complete_tasks, [resultsJson]);
}

/** Stores results and claims in the same transaction and round trip. */
export function completeTasksAndClaim(db: Queryable, resultsJson: string, request: ClaimRequest): Promise<ClaimedTask[]> {
  return db.run<ClaimedTask>(SQL.complete_tasks_and_claim, [resultsJson, ...claimParams(request)]);
}

/** What `pgflow.fail_task` did with a failed attempt. */
export type FailOutcome = 'retrying' | 'failed' | 'skipped' | 'ignored';

/** Records a failed attempt; `nonRetryable`: no further attempts. */
export async function failTask(db: Queryable, attempt: TaskAttempt, error: string, nonRetryable: boolean,
): Promise<FailOutcome> {
  const rows = await db.run<{ outcome: FailOutcome }>(SQL.fail_task,
    [attempt.run_id, attempt.step_slug, attempt.task_index, attempt.attempt, error, nonRetryable]);
  return rows[0].outcome;
}

/** What became of a subflow task's child start. */
export type ChildStartOutcome = 'started' | 'failed' | 'skipped' | 'ignored';

/**
 * Starts the child runs of subflow tasks whose handlers returned (`resultsJson`: a JSON
 * array of {run_id, step_slug, task_index, attempt, input}); each task then waits for its child.
 */
export function startChildRuns(db: Queryable, resultsJson: string,
): Promise<Array<TaskAttempt & { outcome: ChildStartOutcome }>> {
  return db.run(SQL.start_child_runs, [resultsJson]);
}

/** Which of the runs `runIds` are completed, with their flows. */
export function completedRuns(db: Queryable, runIds: readonly string[]): Promise<{ run_id: string; flow_slug: string }[]> {
  return db.run(SQL.completed_runs, [runIds]);
}

/** Gives a worker's claimed tasks back to the queue, their attempts uncounted. */
export async function releaseTasks(db: Queryable, workerId: string, attempts: readonly TaskAttempt[]): Promise<void> {
  await db.run(SQL.release_tasks, [workerId, JSON.stringify(
    attempts.map((t) => ({ run_id: t.run_id, step_slug: t.step_slug, task_index: t.task_index, attempt: t.attempt })),
  )]);
}

/**
 * Stores a handler's progress (JSON text) for its attempt and extends the lease by
 * `leaseSeconds`; false when the attempt is no longer the task's running one.
 */
export async function setProgress(db: Queryable, attempt: TaskAttempt, valueJson: string, leaseSeconds: number,
): Promise<boolean> {
  const rows = await db.run(SQL.set_progress,
    [attempt.run_id, attempt.step_slug, attempt.task_index, attempt.attempt, valueJson, leaseSeconds]);
  return rows.length > 0;
}

/** Makes the queued tasks of `flows` waiting for a backoff or a startDelay claimable now. */
export async function makeTasksDue(db: Queryable, flows: readonly string[]): Promise<void> {
  await db.run(SQL.make_tasks_due, [flows]);
}

/** Claimable tasks per flow and the age (s) of the oldest. */
export function queueStats(db: Queryable): Promise<{ flow_slug: string; ready: number; oldest_age: number }[]> {
  return db.run(SQL.queue_stats, []);
}
