import { Logger } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { NotifyListener } from '../db/notify.listener';
import { endedRuns, Queryable, runStatus } from '../db/queries';
import { EndedRuns } from './ended-runs';
import { errorMessage, StepInvoker } from './step.invoker';

/**
 * What a worker does about runs cancelled, failed or resumed elsewhere: aborts their
 * running handlers (control NOTIFY, or by asking where no NOTIFY arrives) and keeps
 * handlers of a run it just heard end from starting for nothing.
 */
export class RunControl {
  private readonly logger = new Logger('Pgflow');
  private readonly endedRuns = new EndedRuns();
  private checking = false;

  constructor(
    private readonly db: Queryable,
    private readonly listener: NotifyListener,
    private readonly invoker: StepInvoker,
  ) {}

  /** Aborts running handlers of runs cancelled or failed elsewhere (control NOTIFY). */
  follow(): Subscription {
    return this.listener.control$.subscribe(({ runId, status }) => {
      if (status === 'cancelled' || status === 'failed' || status === 'compensation_failed') {
        this.endedRuns.markEnded(runId);
        this.invoker.abortRun(runId, status);
      } else if (status === 'started') {
        this.endedRuns.markResumed(runId);
      }
    });
  }

  /** This process heard the run end a moment ago: ask `runWantsTask` before running its task. */
  recentlyEnded(runId: string): boolean {
    return this.endedRuns.has(runId);
  }

  /**
   * A task of a run we just heard end was claimed right before the end committed; its
   * handler would run for nothing. Only a run resumed since (whose NOTIFY we missed)
   * still wants it. If this cannot be checked the task waits for its lease to expire.
   */
  async runWantsTask(runId: string): Promise<boolean> {
    const status = await runStatus(this.db, runId).catch(() => undefined);
    // a compensating run wants its compensation tasks (the only ones it still hands out)
    const live = status === 'started' || status === 'queued' || status === 'compensating';
    if (live) this.endedRuns.markResumed(runId);
    return live;
  }

  /**
   * Where no control NOTIFY arrives (LISTEN/NOTIFY unavailable, or its connection lost)
   * nothing tells running handlers that their run was cancelled or failed: ask (the
   * worker calls this every poll interval).
   */
  async checkRunningRuns(): Promise<void> {
    if (this.listener.available || this.checking) return;
    const runIds = [...new Set(this.invoker.tasks().map((t) => t.run_id))];
    if (!runIds.length) return;
    this.checking = true;
    try {
      for (const { run_id: runId, status } of await endedRuns(this.db, runIds)) {
        this.endedRuns.markEnded(runId);
        this.invoker.abortRun(runId, status);
      }
    } catch (err) {
      this.logger.warn(`checking the runs of running tasks failed: ${errorMessage(err)}`);
    } finally {
      this.checking = false;
    }
  }
}
