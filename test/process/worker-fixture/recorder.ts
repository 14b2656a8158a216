import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { StepContext } from '../../../lib';
import { Knobs, KNOBS_TOKEN } from './knobs';

interface Pending {
  row: [string, string, number, number, number];
  done: (err?: Error) => void;
}

const CONNECTION_LOST = /terminat|connection|ECONNRESET|ECONNREFUSED|EPIPE|shutdown/i;

/**
 * Writes one row per handler execution into the test's `executions` table, so a
 * test can count duplicates. Rows that arrive while an insert is in flight go
 * together in the next one. Uses its own small pool, not pgflow's, so that
 * recording never competes with the library for connections.
 */
@Injectable()
export class ExecutionRecorder implements OnApplicationShutdown {
  private readonly logger = new Logger('Recorder');
  private readonly pool: Pool;
  private queue: Pending[] = [];
  private flushing = false;
  private seq = 0;

  constructor(@Inject(KNOBS_TOKEN) private readonly knobs: Knobs) {
    this.pool = new Pool({ connectionString: knobs.databaseUrl, max: 2 });
    // an idle client killed by the server must not crash the process
    this.pool.on('error', (err) => this.logger.warn(`idle recorder connection lost: ${err.message}`));
  }

  /** Resolves once the execution of this task attempt is stored. */
  record(ctx: StepContext): Promise<void> {
    return new Promise((resolve, reject) => {
      // (worker, seq) is unique: an insert retried after a lost connection cannot
      // store the same execution twice even if the first attempt had committed
      const row: Pending['row'] = [ctx.runId, ctx.stepSlug, ctx.taskIndex, ctx.attempt, ++this.seq];
      this.queue.push({ row, done: (err) => (err ? reject(err) : resolve()) });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, 500);
        const params: unknown[] = [];
        const values = batch.map((p, i) => {
          params.push(...p.row, this.knobs.workerId);
          const b = i * 6;
          return `($${b + 1}::uuid, $${b + 2}, $${b + 3}::int, $${b + 4}::int, $${b + 5}::int, $${b + 6})`;
        });
        try {
          await this.insert(`insert into executions (run_id, step, idx, attempt, seq, worker)
            values ${values.join(',')} on conflict (worker, seq) do nothing`, params);
        } catch (err) {
          for (const p of batch) p.done(err as Error);
          continue;
        }
        for (const p of batch) p.done();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Retries while the server is unreachable (the outage test terminates every connection). */
  private async insert(sql: string, params: unknown[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.pool.query(sql, params);
        return;
      } catch (err) {
        const message = (err as Error).message;
        if (attempt >= 50 || !CONNECTION_LOST.test(message)) throw err;
        this.logger.warn(`recording failed (${message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(1000, 20 * attempt)));
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
