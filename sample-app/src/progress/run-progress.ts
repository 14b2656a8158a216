import { RunEvent, RunInfo, RunStatus, StepInfo } from '../../../lib';

/** What the display knows about one run, updated from `watchRun` events. */
export class RunProgress {
  status: RunStatus;
  readonly steps = new Map<string, StepInfo>();

  constructor(
    /** 1-based position among the runs this sample started. */
    readonly index: number,
    run: RunInfo,
  ) {
    this.status = run.status;
    for (const step of run.steps) this.steps.set(step.stepSlug, step);
  }

  /** Applies one event; false when it repeats what is already known (e.g. the first snapshot). */
  apply(event: RunEvent): boolean {
    if (event.type === 'step') {
      const known = this.steps.get(event.stepSlug)?.status;
      this.steps.set(event.stepSlug, event.step);
      return known !== event.status;
    }
    if (event.type !== 'run') return false; // handler progress: not shown
    const known = this.status;
    this.status = event.status;
    for (const step of event.run.steps) this.steps.set(step.stepSlug, step);
    return known !== event.status;
  }

  /** The run reached a final status. */
  get finished(): boolean {
    return this.status === 'completed' || this.status === 'failed' || this.status === 'cancelled';
  }

  /** Share of steps done (completed or skipped), 0–1. */
  get fraction(): number {
    const all = [...this.steps.values()];
    if (!all.length) return 0;
    return all.filter((s) => s.status === 'completed' || s.status === 'skipped').length / all.length;
  }
}

/** Renders progress as runs advance; `finish` leaves the final state on screen. */
export interface ProgressDisplay {
  /** A run was started. */
  added(run: RunProgress): void;
  /** `run` just changed by `event`. */
  changed(run: RunProgress, event: RunEvent): void;
  finish(): void;
}

/** `analyse 3/5` for a step with tasks in flight, else just the slug. */
export function stepLabel(step: StepInfo): string {
  if (step.status === 'started' && step.totalTasks !== null && step.totalTasks > 1 && step.remainingTasks !== null) {
    return `${step.stepSlug} ${step.totalTasks - step.remainingTasks}/${step.totalTasks}`;
  }
  return step.stepSlug;
}
