import { interval, merge, Observable } from 'rxjs';
// rxjs/operators, not rxjs: the root exports operators only from 7.2 on, and the peer range starts at 7.1
import { filter } from 'rxjs/operators';
import { PgflowRunCancelledError, PgflowRunFailedError, PgflowTimeoutError } from '../core/errors/run.errors';
import { PgflowUnknownRunError } from '../core/errors/pgflow.error';
import { FINISHED_RUN_STATUSES } from '../core/pgflow.constants';
import { RunEvent, RunInfo } from '../interfaces/run-info.interface';
import { NotifyListener } from '../db/notify.listener';
import { diffRun } from './run.events';

/**
 * Wraps a read so it never overlaps itself: a call while one is running makes it run
 * once more afterwards, however many calls came, so the latest state is always read
 * after the latest signal. `read` returns true when no further read is wanted.
 */
function coalescing(read: () => Promise<boolean>): () => void {
  let busy = false;
  let again = false;
  let done = false;
  const run = async (): Promise<void> => {
    if (done) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      do {
        again = false;
        done = await read();
      } while (again && !done);
    } finally {
      busy = false;
    }
  };
  return () => void run();
}

/**
 * Follows runs to their end for `waitForRun` and `watchRun`: each subscribes to the
 * run's notifications before its first read, so no change can slip between them,
 * and re-reads the run on every signal (polling only as a backstop, or where
 * LISTEN/NOTIFY is unavailable).
 */
export class RunWatcher {
  constructor(
    private readonly listener: NotifyListener,
    private readonly fetchRun: (runId: string) => Promise<RunInfo | null>,
    private readonly pollMs: number,
    private readonly fetchProgress: (runId: string) => Promise<{ step_slug: string; task_index: number;
      progress: unknown }[]>,
  ) {}

  /** Resolves with the completed run; rejects when it fails, is cancelled, or `timeoutMs` passes. */
  async waitFor(runId: string, timeoutMs?: number): Promise<RunInfo> {
    await this.listener.watchRuns();
    return new Promise<RunInfo>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void): true => {
        if (!settled) {
          settled = true;
          sub.unsubscribe();
          clearTimeout(timer);
          fn();
        }
        return true;
      };
      const check = coalescing(async () => {
        if (settled) return true;
        try {
          const run = await this.fetchRun(runId);
          if (!run) return finish(() => reject(new PgflowUnknownRunError(runId)));
          if (run.status === 'completed') return finish(() => resolve(run));
          if (run.status === 'failed' || run.status === 'compensation_failed') return finish(() => reject(new PgflowRunFailedError(runId, run.error)));
          if (run.status === 'cancelled') return finish(() => reject(new PgflowRunCancelledError(runId)));
          return false;
        } catch (err) {
          return finish(() => reject(err));
        }
      });
      const sub = merge(
        this.listener.runs$.pipe(filter((s) => s.runId === runId && FINISHED_RUN_STATUSES.has(s.status))),
        this.listener.connected$,
        interval(this.listener.available ? Math.max(this.pollMs, 1000) : this.pollMs),
      ).subscribe(check);
      const timer = timeoutMs !== undefined
        ? setTimeout(() => finish(() => reject(new PgflowTimeoutError(runId, timeoutMs))), timeoutMs)
        : undefined;
      check();
    });
  }

  /** Events that take the run from its state at subscription to its end, then completes. */
  watch(runId: string): Observable<RunEvent> {
    return new Observable<RunEvent>((subscriber) => {
      let last: RunInfo | undefined;
      // progress is read only after a progress notification, not on every status change
      let progressDue = true;
      const progress = new Map<string, string>();
      const refresh = coalescing(async () => {
        try {
          const readProgress = progressDue;
          progressDue = false;
          const [run, read] = await Promise.all([this.fetchRun(runId), readProgress ? this.fetchProgress(runId) : []]);
          if (subscriber.closed) return true;
          if (!run) throw new PgflowUnknownRunError(runId);
          // the last progress may share the final transaction (a subflow's last child):
          // a read woken by another notification must not end the watch without it
          const rows = !readProgress && FINISHED_RUN_STATUSES.has(run.status) ? await this.fetchProgress(runId) : read;
          if (subscriber.closed) return true;
          for (const r of rows) {
            const key = `${r.step_slug}/${r.task_index}`;
            const text = JSON.stringify(r.progress);
            if (progress.get(key) === text) continue;
            progress.set(key, text);
            subscriber.next({ type: 'progress', runId, stepSlug: r.step_slug, taskIndex: r.task_index, value: r.progress });
          }
          for (const event of diffRun(last, run)) subscriber.next(event);
          last = run;
          if (!FINISHED_RUN_STATUSES.has(run.status)) return false;
          subscriber.complete();
        } catch (err) {
          subscriber.error(err);
        }
        return true;
      });
      // LISTENing before the first read: a change committed after that read always
      // produces a notification this subscription sees
      const sub = merge(
        this.listener.runs$.pipe(filter((s) => s.runId === runId)),
        this.listener.connected$,
      ).subscribe((s) => {
        // a reconnect may have missed progress notifications: read progress too
        if (typeof s !== 'object' || !s || !('status' in s) || s.status === 'progress') progressDue = true;
        refresh();
      });
      this.listener.watchRuns().then(() => {
        if (subscriber.closed) return;
        if (!this.listener.available) {
          sub.add(interval(this.pollMs).subscribe(() => {
            progressDue = true;
            refresh();
          }));
        }
        refresh();
      }).catch((err: unknown) => subscriber.error(err));
      return () => sub.unsubscribe();
    });
  }
}
