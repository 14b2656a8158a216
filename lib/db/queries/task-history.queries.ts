import { TaskAttemptInfo, TaskInfo, TaskStatus } from '../../interfaces/run-info.interface';
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

interface TaskInfoRow {
  step_slug: string; task_index: number; status: Exclude<TaskStatus, 'waiting'>; attempt: number; output: unknown;
  error_message: string | null; progress: unknown; claimed_by: string | null; started_at: Date | null;
  ended_at: Date | null; completed_at: Date | null; step_status: string;
  attempt_history: { attempt: number; error: string | null; startedAt: string | null; endedAt: string | null;
    workerId: string | null }[] | null;
}

/** Kept attempts per task: the stored history holds 20 failed ones, plus the current. */
const MAX_ATTEMPTS = 20;

function toTaskInfo(r: TaskInfoRow): TaskInfo {
  const attempts: TaskAttemptInfo[] = (r.attempt_history ?? []).map((a) => ({
    attempt: a.attempt, error: a.error, workerId: a.workerId,
    startedAt: a.startedAt ? new Date(a.startedAt) : null, endedAt: a.endedAt ? new Date(a.endedAt) : null,
  }));
  // the history holds failed attempts; the running or completed one (or one a cancel
  // cut short) is read from the task itself
  const last = attempts[attempts.length - 1];
  if (r.status !== 'queued' && r.attempt > 0 && r.started_at && (!last || last.attempt !== r.attempt
      || last.startedAt?.getTime() !== r.started_at.getTime())) {
    attempts.push({
      attempt: r.attempt, error: r.status === 'cancelled' ? 'cancelled' : null, workerId: r.claimed_by,
      startedAt: r.started_at, endedAt: r.status === 'started' ? null : r.ended_at,
    });
  }
  const info: TaskInfo = {
    stepSlug: r.step_slug, taskIndex: r.task_index,
    status: r.status === 'queued' && r.step_status === 'waiting' ? 'waiting' : r.status,
    attempt: r.attempt, error: r.error_message, workerId: r.claimed_by, startedAt: r.started_at,
    completedAt: r.completed_at, attempts: attempts.slice(-MAX_ATTEMPTS),
  };
  if (r.status === 'completed') info.output = r.output;
  if (r.progress !== null && r.progress !== undefined) info.progress = r.progress;
  return info;
}

/** The run's tasks (of one step when `stepSlug` is given) with their progress and attempts. */
export async function taskInfos(db: Queryable, runId: string, stepSlug?: string): Promise<TaskInfo[]> {
  const rows = await db.run<TaskInfoRow>(SQL.task_infos, [runId, stepSlug ?? null]);
  return rows.map(toTaskInfo);
}

/** The latest progress of the run's tasks that reported any (for watchRun). */
export function taskProgress(db: Queryable, runId: string): Promise<{ step_slug: string; task_index: number;
  progress: unknown }[]> {
  return db.run(SQL.task_progress, [runId]);
}
