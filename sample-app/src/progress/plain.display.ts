import { RunEvent } from '../../../lib';
import { ProgressDisplay, RunProgress } from './run-progress';

/** Above this many runs, only run-level lines are printed (steps would flood a CI log). */
const STEP_LINES_UP_TO = 5;

/** Line-per-change progress for pipes, files and CI logs (no cursor movement). */
export class PlainDisplay implements ProgressDisplay {
  constructor(
    private readonly total: number,
    private readonly write: (line: string) => void,
  ) {}

  added(run: RunProgress): void {
    this.write(`${this.prefix(run)} ${run.status}`);
  }

  changed(run: RunProgress, event: RunEvent): void {
    const pct = `${Math.round(run.fraction * 100)}%`.padStart(4);
    if (event.type === 'run') {
      this.write(`${this.prefix(run)} ${pct} run ${event.status}`);
    } else if (event.type === 'step' && this.total <= STEP_LINES_UP_TO) {
      const tasks = event.step.totalTasks !== null && event.step.totalTasks !== 1 ? ` (${event.step.totalTasks} tasks)` : '';
      this.write(`${this.prefix(run)} ${pct} ${event.stepSlug} ${event.status}${tasks}`);
    }
  }

  finish(): void {
    // every change is already printed
  }

  private prefix(run: RunProgress): string {
    return `[run ${String(run.index).padStart(String(this.total).length)}/${this.total}]`;
  }
}
