import { Logger } from '@nestjs/common';
import { PgflowEvents } from '../core/pgflow.events';
import { completedRuns, FailOutcome, Queryable, TaskAttempt } from '../db/queries';
import { Failure, FlushObserver } from './result.flusher';
import { errorMessage } from './step.invoker';

/** How many completed runs are remembered so a run's completion is emitted once. */
const REMEMBERED_RUNS = 10_000;

/**
 * Turns what the result flusher stored into `PgflowEvents`: task.retrying / task.failed
 * (and run.failed) from the outcome the database recorded for a failure, run.completed
 * from the runs a batch of completions finished — looked up only while someone listens.
 */
export class OutcomeEvents implements FlushObserver {
  private readonly logger = new Logger('Pgflow');
  /** Runs whose run.completed this process emitted lately (two flushes may see one run end). */
  private readonly emittedRuns = new Set<string>();

  constructor(
    private readonly db: Queryable,
    private readonly events: PgflowEvents,
  ) {}

  completed(results: readonly TaskAttempt[]): void {
    if (!this.events.observed) return;
    const runIds = [...new Set(results.map((r) => r.run_id))];
    void completedRuns(this.db, runIds).then((rows) => {
      for (const { run_id: runId, flow_slug: flowSlug } of rows) {
        if (this.emittedRuns.has(runId)) continue;
        this.emittedRuns.add(runId);
        if (this.emittedRuns.size > REMEMBERED_RUNS) this.emittedRuns.delete(this.emittedRuns.values().next().value as string);
        this.events.emit({ type: 'run.completed', runId, flowSlug });
      }
    }).catch((err: unknown) => this.logger.warn(`looking up completed runs failed: ${errorMessage(err)}`));
  }

  failed(f: Failure, outcome: FailOutcome): void {
    if (outcome === 'ignored' || !f.meta) return;
    const { flowSlug, attemptNumber, durationMs } = f.meta;
    this.events.emit({ type: outcome === 'retrying' ? 'task.retrying' : 'task.failed', runId: f.run_id, flowSlug,
      stepSlug: f.step_slug, taskIndex: f.task_index, attempt: attemptNumber, durationMs, error: f.error });
    if (outcome === 'failed') this.events.emit({ type: 'run.failed', runId: f.run_id, flowSlug });
  }
}
