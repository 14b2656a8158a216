import { RunEvent } from '../../../lib';
import { ProgressDisplay, RunProgress, stepLabel } from './run-progress';

const BAR_WIDTH = 20;
const REDRAW_MS = 100;
const MARK: Record<string, string> = {
  created: '·', waiting: '⏸', started: '▶', completed: '✔', failed: '✖', skipped: '↷', cancelled: '⊘',
};

/**
 * Bars redrawn in place on a terminal: one line per run (as many as fit), then a
 * totals line. Frames are drawn on a steady tick rather than per event, so a burst
 * of events costs one frame and the clock keeps moving while a retry waits.
 */
export class TtyDisplay implements ProgressDisplay {
  private readonly runs: RunProgress[] = [];
  private readonly startedAt = Date.now();
  private drawnLines = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream,
  ) {}

  added(run: RunProgress): void {
    this.runs.push(run);
    this.timer ??= setInterval(() => this.draw(), REDRAW_MS);
  }

  changed(_run: RunProgress, _event: RunEvent): void {
    // the next tick draws it
  }

  finish(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private draw(): void {
    const rows = Math.max(3, (this.out.rows || 24) - 4);
    const shown = this.runs.slice(0, rows);
    const lines = shown.map((run) => this.runLine(run));
    if (this.runs.length > shown.length) lines.push(`  … and ${this.runs.length - shown.length} more`);
    lines.push(this.totalsLine());
    const width = this.out.columns || 120;
    // move up over the previous frame, then rewrite each line in place
    let frame = this.drawnLines ? `\x1b[${this.drawnLines}A` : '';
    for (const line of lines) frame += `\x1b[2K${line.slice(0, width - 1)}\n`;
    this.out.write(frame);
    this.drawnLines = lines.length;
  }

  private runLine(run: RunProgress): string {
    const steps = [...run.steps.values()].map((s) => `${MARK[s.status] ?? '?'} ${stepLabel(s)}`).join('  ');
    const pad = String(this.total).length;
    return `run ${String(run.index).padStart(pad)} ${bar(run.fraction)} ${pct(run.fraction)} ${run.status.padEnd(9)} ${steps}`;
  }

  private totalsLine(): string {
    const done = this.runs.filter((r) => r.finished).length;
    const seconds = (Date.now() - this.startedAt) / 1000;
    const rate = seconds > 0 ? (done / seconds).toFixed(1) : '0.0';
    return `total  ${bar(done / this.total)} ${pct(done / this.total)} ${done}/${this.total} runs finished, ${rate} runs/s`;
  }
}

function bar(fraction: number): string {
  const filled = Math.round(fraction * BAR_WIDTH);
  return `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`;
}

function pct(fraction: number): string {
  return `${Math.round(fraction * 100)}%`.padStart(4);
}
