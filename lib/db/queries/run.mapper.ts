import { RunError, RunInfo, RunStatus, StepInfo } from '../../interfaces/run-info.interface';

/** A row of find_run / list_runs (lib/db/queries/sql/run-info.fragment.sql). */
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
  parent_run_id: string | null;
  steps: Array<StepInfo & { output: unknown; error: string | null }>;
}

export function toRunInfo(row: RunRow): RunInfo {
  const steps: StepInfo[] = row.steps.map((s) => {
    const step: StepInfo = {
      stepSlug: s.stepSlug, status: s.status, totalTasks: s.totalTasks, remainingTasks: s.remainingTasks,
    };
    if (s.status === 'completed') step.output = s.output;
    if (s.error !== null && s.error !== undefined) step.error = s.error;
    if (s.childRunIds) step.childRunIds = s.childRunIds;
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
    parentRunId: row.parent_run_id ?? null,
    progress: {
      totalSteps: steps.length,
      completedSteps,
      percentage: steps.length ? Math.round((completedSteps / steps.length) * 100) : 0,
    },
    steps,
  };
}
