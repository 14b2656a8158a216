import { RunEvent, RunInfo } from '../interfaces/run-info.interface';

/** Events that turn snapshot `prev` into `next` (all of them when there is no `prev`). */
export function diffRun(prev: RunInfo | undefined, next: RunInfo): RunEvent[] {
  const events: RunEvent[] = [];
  const before = new Map(prev?.steps.map((s) => [s.stepSlug, s.status]));
  for (const step of next.steps) {
    if (before.get(step.stepSlug) !== step.status) {
      events.push({ type: 'step', runId: next.runId, stepSlug: step.stepSlug, status: step.status, step });
    }
  }
  if (!prev || prev.status !== next.status) {
    events.push({ type: 'run', runId: next.runId, status: next.status, run: next });
  }
  return events;
}
