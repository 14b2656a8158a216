/** A task as returned by `pgflow.start_tasks`. */
export interface ClaimedTask {
  run_id: string;
  flow_slug: string;
  step_slug: string;
  task_index: number;
  attempt: number;
  input: unknown;
  run_input: unknown;
  timeout_seconds: number;
  lease_expires_at: Date;
  /** 1-based number of the attempt since the run was last resumed (`ctx.attempt`); `attempt` identifies it. */
  attempt_number: number;
  /** W3C traceparent of the span that started the run (null: none). */
  traceparent: string | null;
  /** Set when this task runs the step's compensation: why the run compensates. */
  compensation: 'failed' | 'cancelled' | null;
}

/** Identity of one attempt of one task. */
export interface TaskAttempt {
  run_id: string;
  step_slug: string;
  task_index: number;
  attempt: number;
}

export function attemptKey(t: TaskAttempt): string {
  return `${t.run_id}/${t.step_slug}/${t.task_index}`;
}
