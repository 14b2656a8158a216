import { RunInfo, StepInfo } from '../../interfaces/run-info.interface';
import { cell, time } from '../cli.output';

/** `done/total` tasks of a step, `-` before it has tasks. */
export function taskProgress(step: StepInfo): string {
  if (step.totalTasks === null) return '-';
  return `${step.totalTasks - (step.remainingTasks ?? 0)}/${step.totalTasks}`;
}

/** Why the run failed, on one line. */
export function runError(run: RunInfo): string {
  return run.error ? `step "${run.error.stepSlug}" task ${run.error.taskIndex}: ${run.error.message}` : '-';
}

/** A row of the `runs` table. */
export const RUN_COLUMNS = ['RUN', 'FLOW', 'STATUS', 'STEPS', 'CREATED', 'ERROR'];
export function runRow(run: RunInfo): string[] {
  return [run.runId, run.flowSlug, run.status, `${run.progress.completedSteps}/${run.progress.totalSteps}`,
    time(run.createdAt), cell(run.error ? runError(run) : null)];
}
