import { Logger } from '@nestjs/common';
import { backoffMs } from '../core/backoff';
import { isDataError } from '../core/errors/sql-error.mapper';
import { FailOutcome, failTask, Queryable, startChildRuns, TaskAttempt } from '../db/queries';

/** What the worker's events need about an attempt beyond its identity. */
export interface AttemptMeta {
  flowSlug: string;
  /** 1-based (`ctx.attempt`). */
  attemptNumber: number;
  durationMs: number;
}

interface Completion extends TaskAttempt {
  output: string;
  meta?: AttemptMeta;
}
/** A failed attempt as reported. */
export interface Failure extends TaskAttempt {
  error: string;
  nonRetryable: boolean;
  meta?: AttemptMeta;
}

/** Told what became of reported results (for events). */
export interface FlushObserver {
  /** A batch of completions was stored. */
  completed(results: readonly TaskAttempt[]): void;
  /** A failure was recorded with this outcome. */
  failed(failure: Failure, outcome: FailOutcome): void;
}

const MAX_BATCH = 500;
/**
 * Results that may wait unstored before they take slots from the claims: one batch
 * being sent and the next filling up. Big batches are what makes storing results
 * cheap (one statement and one synchronous commit each), so claims do not wait for
 * every result; past this they do, and memory stays bounded.
 */
export const UNSTORED_ALLOWANCE = 2 * MAX_BATCH;
/** Longest error message kept on a task; handlers sometimes throw whole documents. */
const MAX_ERROR_CHARS = 8_000;

/** An error message Postgres text can hold: no NUL characters, bounded length. */
function storableMessage(message: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = message.replace(/\u0000/g, '\uFFFD');
  return clean.length > MAX_ERROR_CHARS ? `${clean.slice(0, MAX_ERROR_CHARS)}… (truncated)` : clean;
}

/**
 * Reports results. Completions that arrive while a flush is in flight wait and go
 * together in the next `complete_tasks` call, so batching costs no latency when
 * idle and saves round trips (and hot-row updates) under load. Transient errors
 * (lost connection, deadlock) are retried with backoff; results stay queued. A result
 * the server refuses as data (e.g. nesting too deep for jsonb) is bisected out of its
 * batch and recorded as a failed attempt, so it can never block the others.
 */
export class ResultFlusher {
  private readonly logger = new Logger('Pgflow');
  private completions: Completion[] = [];
  private failures: Failure[] = [];
  /** Subflow tasks whose handlers returned their child's input (JSON text in `output`). */
  private childStarts: Completion[] = [];
  private flushing?: Promise<void>;
  /** Results taken out of the queues and being sent now. */
  private sending = 0;
  private errors = 0;
  private abandoned = false;
  private wakeBackoff?: () => void;

  /**
   * `send` delivers one batch (a JSON array of `count` results) to `complete_tasks`;
   * the worker's sender also claims tasks in the same round trip when it has free slots.
   */
  constructor(
    private readonly db: Queryable,
    private readonly send: (resultsJson: string, count: number) => Promise<void>,
    private readonly observer?: FlushObserver,
    /** Results left `unsettled` (stored, or given up on): their slots are free. */
    private readonly settled?: () => void,
  ) {}

  complete(attempt: TaskAttempt, outputJson: string, meta?: AttemptMeta): void {
    this.completions.push({ run_id: attempt.run_id, step_slug: attempt.step_slug, task_index: attempt.task_index,
      attempt: attempt.attempt, output: outputJson, meta });
    this.schedule();
  }

  /** A subflow task's handler returned: start its child run with this input (JSON text). */
  startChild(attempt: TaskAttempt, inputJson: string, meta?: AttemptMeta): void {
    this.childStarts.push({ run_id: attempt.run_id, step_slug: attempt.step_slug, task_index: attempt.task_index,
      attempt: attempt.attempt, output: inputJson, meta });
    this.schedule();
  }

  fail(attempt: TaskAttempt, error: string, nonRetryable: boolean, meta?: AttemptMeta): void {
    this.failures.push({ run_id: attempt.run_id, step_slug: attempt.step_slug, task_index: attempt.task_index,
      attempt: attempt.attempt, error: storableMessage(error), nonRetryable, meta });
    this.schedule();
  }

  /** Resolves when everything reported so far is persisted. */
  async drain(): Promise<void> {
    while (this.flushing || this.pending) {
      await (this.flushing ?? this.schedule());
    }
  }

  /**
   * Gives up on what is still unreported (shutdown deadline passed, e.g. the database
   * is down) so no retry timer keeps the process alive; returns how many results were
   * dropped. Their tasks run again when their leases expire.
   */
  abandon(): number {
    this.abandoned = true;
    const dropped = this.pending;
    this.completions = [];
    this.failures = [];
    this.childStarts = [];
    this.wakeBackoff?.();
    this.settled?.();
    return dropped;
  }

  /** Accepts results again after `abandon()` (the worker was restarted). */
  reopen(): void {
    this.abandoned = false;
  }

  get pending(): number {
    return this.completions.length + this.failures.length + this.childStarts.length;
  }

  /** Results reported but not yet stored, queued or being sent. */
  get unsettled(): number {
    return this.pending + this.sending;
  }

  /**
   * Unstored results past UNSTORED_ALLOWANCE. The worker counts them as running, so
   * claims cannot run ahead of completions without end: no-op handlers made results
   * pile up in memory by the ten thousand (W5's heap growth) while their leases ran.
   */
  get overflow(): number {
    return Math.max(0, this.unsettled - UNSTORED_ALLOWANCE);
  }

  private schedule(): Promise<void> {
    this.flushing ??= this.run().finally(() => {
      this.flushing = undefined;
      if (this.pending && !this.abandoned) void this.schedule();
    });
    return this.flushing;
  }

  private async run(): Promise<void> {
    // let results produced in the same tick join this flush
    await new Promise((r) => setImmediate(r));
    while (!this.abandoned && this.pending) {
      const completions = this.completions.splice(0, MAX_BATCH);
      const failures = this.failures.splice(0, MAX_BATCH);
      const childStarts = this.childStarts.splice(0, MAX_BATCH);
      this.sending = completions.length + failures.length + childStarts.length;
      try {
        if (completions.length) await this.flushCompletions(completions);
        if (childStarts.length) await this.flushChildStarts(childStarts);
        this.errors = 0;
      } catch (err) {
        this.completions.unshift(...completions);
        this.failures.unshift(...failures);
        this.childStarts.unshift(...childStarts);
        this.sending = 0;
        await this.backoff(err as Error);
        continue;
      }
      // the completions are stored; their slots are free for the next claim
      this.sending = failures.length;
      if (completions.length || childStarts.length) this.settled?.();
      for (let i = 0; i < failures.length; i++) {
        try {
          const f = failures[i];
          const outcome = await failTask(this.db, f, f.error, f.nonRetryable);
          this.errors = 0;
          this.observer?.failed(f, outcome);
        } catch (err) {
          if (isDataError(err)) {
            // cannot happen with a storable message; if it does, the lease expiry retries the task
            this.logger.error(`recording failure of ${failures[i].run_id}/${failures[i].step_slug} refused: ` +
              `${(err as Error).message}`);
            this.sending--;
            continue;
          }
          this.failures.unshift(...failures.slice(i));
          this.sending = 0;
          await this.backoff(err as Error);
          break;
        }
        this.sending--;
      }
      if (failures.length) {
        this.sending = 0;
        this.settled?.();
      }
    }
  }

  /** Sends a batch; on a data error splits it until the refused results stand alone. */
  private async flushCompletions(batch: Completion[]): Promise<void> {
    try {
      await this.sendCompletions(batch);
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (batch.length === 1) {
        const [c] = batch;
        this.logger.warn(`output of ${c.run_id}/${c.step_slug}/${c.task_index} refused: ${(err as Error).message}`);
        this.fail(c, `output of step "${c.step_slug}" could not be stored: ${(err as Error).message}`, true, c.meta);
        return;
      }
      // resending an accepted half is harmless: complete_tasks ignores finished tasks
      const mid = batch.length >> 1;
      await this.flushCompletions(batch.slice(0, mid));
      await this.flushCompletions(batch.slice(mid));
    }
  }

  /**
   * Starts child runs; a batch the server refuses as data (an input jsonb cannot hold)
   * is split until the refused one stands alone and fails its task.
   */
  private async flushChildStarts(batch: Completion[]): Promise<void> {
    try {
      const body = batch
        .map((c) => `{"run_id":${JSON.stringify(c.run_id)},"step_slug":${JSON.stringify(c.step_slug)},` +
          `"task_index":${c.task_index},"attempt":${c.attempt},"input":${c.output}}`)
        .join(',');
      const outcomes = await startChildRuns(this.db, `[${body}]`);
      for (const o of outcomes) {
        if (o.outcome !== 'failed' && o.outcome !== 'skipped') continue;
        const c = batch.find((b) => b.run_id === o.run_id && b.step_slug === o.step_slug && b.task_index === o.task_index);
        if (c) this.observer?.failed({ ...c, error: 'the subflow refused its input', nonRetryable: true }, o.outcome);
      }
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (batch.length === 1) {
        const [c] = batch;
        this.fail(c, `input of the subflow of step "${c.step_slug}" could not be stored: ${(err as Error).message}`, true, c.meta);
        return;
      }
      const mid = batch.length >> 1;
      await this.flushChildStarts(batch.slice(0, mid));
      await this.flushChildStarts(batch.slice(mid));
    }
  }

  private async sendCompletions(batch: Completion[]): Promise<void> {
    // outputs are already JSON text: splice them in without re-serializing
    const body = batch
      .map((c) => `{"run_id":${JSON.stringify(c.run_id)},"step_slug":${JSON.stringify(c.step_slug)},` +
        `"task_index":${c.task_index},"attempt":${c.attempt},"output":${c.output}}`)
      .join(',');
    await this.send(`[${body}]`, batch.length);
    this.observer?.completed(batch);
  }

  private async backoff(err: Error): Promise<void> {
    this.errors++;
    const delay = backoffMs(this.errors, 50, 10_000);
    this.logger.warn(`reporting results failed (${err.message}); retrying in ${delay} ms`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeBackoff = undefined;
  }
}
