import { Injectable } from '@nestjs/common';
import { timeout } from 'rxjs';
import { PgflowClient, RunInfo } from '../../lib';
import { ProgressDisplay, RunProgress } from './progress/run-progress';
import { DocumentBatchInput } from './workflows/document-batch.input';
import { DocumentPipelineWorkflow } from './workflows/document-pipeline.workflow';

/** Documents per batch, i.e. `analyse` tasks per run. */
export const DOCUMENTS_PER_BATCH = 5;

/** Who approves every batch: the sample plays the reviewer of its `approve` step. */
export const REVIEWER = 'sample reviewer';

// A run that shows no change for this long is reported as stuck rather than awaited forever.
const STALL_MS = 120_000;

/** How a sample session went. */
export interface SampleOutcome {
  /** Final state of every run, in start order. */
  runs: RunInfo[];
  /** From the first startRun to the last run finishing. */
  elapsedMs: number;
}

/** Starts the runs, feeds their `watchRun` events to the display, and collects the final states. */
@Injectable()
export class SampleRunner {
  constructor(private readonly client: PgflowClient) {}

  /** Starts `count` runs (batches `batch-1` … `batch-<count>`) and resolves once every one has finished. */
  async run(count: number, display: ProgressDisplay, signal: AbortSignal): Promise<SampleOutcome> {
    const startedAt = performance.now();
    const watches: Watch[] = [];
    const stopAll = async (reason: unknown): Promise<never> => {
      for (const watch of watches) watch.stop(reason);
      await Promise.allSettled(watches.map((w) => w.final));
      throw reason;
    };
    const interrupted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(new Error('interrupted')), { once: true });
    });
    interrupted.catch(() => undefined);
    try {
      for (let i = 1; i <= count; i++) {
        const input: DocumentBatchInput = { batchId: `batch-${i}`, size: DOCUMENTS_PER_BATCH };
        const run = await Promise.race([this.client.startRun(DocumentPipelineWorkflow, input), interrupted]);
        const progress = new RunProgress(i, run);
        display.added(progress);
        watches.push(this.follow(run, progress, display));
      }
      const runs = await Promise.race([Promise.all(watches.map((w) => w.final)), interrupted]);
      return { runs, elapsedMs: performance.now() - startedAt };
    } catch (err) {
      // no watch may outlive this call: the application closes next
      return await stopAll(err);
    } finally {
      display.finish();
    }
  }

  /** Follows one run; `final` resolves with its final state when the watch completes. */
  private follow(run: RunInfo, progress: RunProgress, display: ProgressDisplay): Watch {
    let stop!: (reason: unknown) => void;
    const final = new Promise<RunInfo>((resolve, reject) => {
      let last = run;
      const sub = this.client.watchRun(run.runId).pipe(timeout({ each: STALL_MS })).subscribe({
        next: (event) => {
          if (event.type === 'run') last = event.run;
          if (event.type === 'step' && event.stepSlug === 'approve' && event.status === 'waiting') {
            // the reviewer answers; the id makes a repeated answer a no-op
            this.client.signal(run.runId, 'approved', { by: REVIEWER }, { id: `review-${run.runId}` })
              .catch((err: unknown) => reject(err));
          }
          if (progress.apply(event)) display.changed(progress, event);
        },
        error: (err: unknown) => reject(err instanceof Error && err.name === 'TimeoutError'
          ? new Error(`run ${progress.index} (${run.runId}) showed no progress for ${STALL_MS / 1000} s`)
          : err),
        complete: () => resolve(last),
      });
      stop = (reason: unknown) => {
        sub.unsubscribe();
        reject(reason);
      };
    });
    // failures are collected by run(); this keeps one that comes early from being unhandled
    final.catch(() => undefined);
    return { final, stop };
  }
}

/** A run being followed. */
interface Watch {
  final: Promise<RunInfo>;
  /** Stops following; `final` rejects with `reason` unless it settled already. */
  stop(reason: unknown): void;
}
