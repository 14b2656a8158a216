import { RunError, RunInfo, RunStatus, StepInfo } from '../../interfaces/run-info.interface';

/** Selects runs with their step states as one JSON column (one round trip per call). */
export const RUN_SELECT = `
  select r.run_id, r.flow_slug, r.status, r.input, r.output, r.error, r.created_at, r.started_at,
         r.completed_at, r.failed_at,
         coalesce((select json_agg(json_build_object(
                    'stepSlug', ss.step_slug, 'status', ss.status, 'totalTasks', ss.total_tasks,
                    'remainingTasks', ss.remaining_tasks, 'output', ss.output, 'error', ss.error_message)
                    order by s.step_index)
                   from pgflow.step_states ss
                   join pgflow.steps s on s.flow_slug = ss.flow_slug and s.step_slug = ss.step_slug
                  where ss.run_id = r.run_id), '[]'::json) as steps
    from pgflow.runs r`;

export interface RunRow {
  run_id: string;
  flow_slug: string;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: RunError | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  steps: Array<StepInfo & { output: unknown; error: string | null }>;
}

export function toRunInfo(row: RunRow): RunInfo {
  const steps: StepInfo[] = row.steps.map((s) => {
    const step: StepInfo = {
      stepSlug: s.stepSlug, status: s.status, totalTasks: s.totalTasks, remainingTasks: s.remainingTasks,
    };
    if (s.status === 'completed') step.output = s.output;
    if (s.error !== null && s.error !== undefined) step.error = s.error;
    return step;
  });
  const completedSteps = steps.filter((s) => s.status === 'completed' || s.status === 'skipped').length;
  return {
    runId: row.run_id,
    flowSlug: row.flow_slug,
    status: row.status,
    input: row.input,
    output: row.output ?? null,
    error: row.error ?? null,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    failedAt: row.failed_at,
    progress: {
      totalSteps: steps.length,
      completedSteps,
      percentage: steps.length ? Math.round((completedSteps / steps.length) * 100) : 0,
    },
    steps,
  };
}
