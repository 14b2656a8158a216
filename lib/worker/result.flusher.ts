import { Logger } from '@nestjs/common';
import { PgflowDatabase } from '../database/pgflow.database';
import { TaskAttempt } from './worker.types';

interface Completion extends TaskAttempt {
  output: string;
}
interface Failure extends TaskAttempt {
  error: string;
  nonRetryable: boolean;
}

const MAX_BATCH = 500;

/**
 * Reports results. Completions that arrive while a flush is in flight wait and go
 * together in the next `complete_tasks` call, so batching costs no latency when
 * idle and saves round trips (and hot-row updates) under load. Transient errors
 * (lost connection, deadlock) are retried with backoff; results stay queued.
 */
export class ResultFlusher {
  private readonly logger = new Logger('Pgflow');
  private completions: Completion[] = [];
  private failures: Failure[] = [];
  private flushing?: Promise<void>;
  private errors = 0;

  constructor(private readonly db: PgflowDatabase) {}

  complete(attempt: TaskAttempt, outputJson: string): void {
    this.completions.push({ ...attempt, output: outputJson });
    this.schedule();
  }

  fail(attempt: TaskAttempt, error: string, nonRetryable: boolean): void {
    this.failures.push({ ...attempt, error, nonRetryable });
    this.schedule();
  }

  /** Resolves when everything reported so far is persisted. */
  async drain(): Promise<void> {
    while (this.flushing || this.completions.length || this.failures.length) {
      await (this.flushing ?? this.schedule());
    }
  }

  get pending(): number {
    return this.completions.length + this.failures.length;
  }

  private schedule(): Promise<void> {
    this.flushing ??= this.run().finally(() => {
      this.flushing = undefined;
      if (this.pending) void this.schedule();
    });
    return this.flushing;
  }

  private async run(): Promise<void> {
    // let results produced in the same tick join this flush
    await new Promise((r) => setImmediate(r));
    while (this.completions.length || this.failures.length) {
      const completions = this.completions.splice(0, MAX_BATCH);
      const failures = this.failures.splice(0, MAX_BATCH);
      try {
        if (completions.length) await this.flushCompletions(completions);
        this.errors = 0;
      } catch (err) {
        this.completions.unshift(...completions);
        this.failures.unshift(...failures);
        await this.backoff(err as Error);
        continue;
      }
      for (let i = 0; i < failures.length; i++) {
        try {
          const f = failures[i];
          await this.db.query('select pgflow.fail_task($1, $2, $3, $4, $5, $6)', [
            f.run_id, f.step_slug, f.task_index, f.attempt, f.error, f.nonRetryable,
          ]);
          this.errors = 0;
        } catch (err) {
          this.failures.unshift(...failures.slice(i));
          await this.backoff(err as Error);
          break;
        }
      }
    }
  }

  private async flushCompletions(batch: Completion[]): Promise<void> {
    // outputs are already JSON text: splice them in without re-serializing
    const body = batch
      .map((c) => `{"run_id":${JSON.stringify(c.run_id)},"step_slug":${JSON.stringify(c.step_slug)},` +
        `"task_index":${c.task_index},"attempt":${c.attempt},"output":${c.output}}`)
      .join(',');
    await this.db.query('select 1 from pgflow.complete_tasks($1::jsonb)', [`[${body}]`]);
  }

  private async backoff(err: Error): Promise<void> {
    this.errors++;
    const delay = Math.min(10_000, 50 * 2 ** Math.min(this.errors, 8));
    this.logger.warn(`reporting results failed (${err.message}); retrying in ${delay} ms`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
