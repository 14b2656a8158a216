import { ClaimedTask, TaskAttempt } from './task.types';
import { Queryable, SQL } from './statement';

/** Who claims what: a worker, the flows it executes and how many tasks it wants. */
export interface ClaimRequest {
  flows: readonly string[];
  workerId: string;
  limit: number;
  /** Runs whose input the worker already holds: their tasks come without `run_input`. */
  knownRuns: readonly string[];
}

function claimParams(r: ClaimRequest): unknown[] {
  return [r.flows, r.workerId, r.limit, r.knownRuns];
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

/** Records a failed attempt; `nonRetryable`: no further attempts. */
export async function failTask(db: Queryable, attempt: TaskAttempt, error: string, nonRetryable: boolean): Promise<void> {
  await db.run(SQL.fail_task, [attempt.run_id, attempt.step_slug, attempt.task_index, attempt.attempt, error, nonRetryable]);
}

/** Gives a worker's claimed tasks back to the queue, their attempts uncounted. */
export async function releaseTasks(db: Queryable, workerId: string, attempts: readonly TaskAttempt[]): Promise<void> {
  await db.run(SQL.release_tasks, [workerId, JSON.stringify(
    attempts.map((t) => ({ run_id: t.run_id, step_slug: t.step_slug, task_index: t.task_index, attempt: t.attempt })),
  )]);
}
