import { Queryable, SQL } from './statement';

/** One task of a run as stored (its latest attempt). */
export interface TaskSummary {
  stepSlug: string;
  taskIndex: number;
  status: 'queued' | 'started' | 'completed' | 'failed' | 'cancelled';
  /** Attempts made so far, including those before the run was last retried. */
  attempts: number;
  /** The worker that claimed it last, if any. */
  workerId: string | null;
  error: string | null;
  queuedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  failedAt: Date | null;
}

/** The run's tasks in step declaration order, then by task index. */
export async function listTasks(db: Queryable, runId: string): Promise<TaskSummary[]> {
  const rows = await db.run<{ step_slug: string; task_index: number; status: TaskSummary['status'];
    attempts_count: number; claimed_by: string | null; error_message: string | null; queued_at: Date;
    started_at: Date | null; completed_at: Date | null; failed_at: Date | null }>(SQL.list_tasks, [runId]);
  return rows.map((r) => ({
    stepSlug: r.step_slug, taskIndex: r.task_index, status: r.status, attempts: r.attempts_count,
    workerId: r.claimed_by, error: r.error_message, queuedAt: r.queued_at, startedAt: r.started_at,
    completedAt: r.completed_at, failedAt: r.failed_at,
  }));
}
