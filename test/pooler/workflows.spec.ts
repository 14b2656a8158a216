import { Injectable } from '@nestjs/common';
import { lastValueFrom, toArray } from 'rxjs';
import { PgflowClient, PgflowRunCancelledError, RunEvent, Step, StepContext, Workflow } from '../../lib';
import { NotifyListener } from '../../lib/db/notify.listener';
import { POLLING_WARNING, REFUSED_WARNING, until, usePooledDatabase } from './pooler-harness';

/** What the handlers of one app did. */
@Injectable()
class Calls {
  readonly attempts: Array<{ step: string; attempt: number }> = [];
  readonly aborts: string[] = [];
  entered = false;
}

/** Two parallel branches after `split`: a map over its output, and a step that fails its first attempt. */
@Workflow({ slug: 'pooled_dag', maxAttempts: 3, baseDelay: 0 })
class PooledDagFlow {
  constructor(private readonly calls: Calls) {}

  @Step()
  split(input: { run: { n: number } }, ctx: StepContext) {
    this.calls.attempts.push({ step: 'split', attempt: ctx.attempt });
    return Array.from({ length: input.run.n }, (_, i) => i + 1);
  }

  @Step({ dependsOn: ['split'], map: 'split' })
  square(x: number, ctx: StepContext) {
    this.calls.attempts.push({ step: 'square', attempt: ctx.attempt });
    return x * x;
  }

  @Step({ dependsOn: ['split'] })
  flaky(input: { split: number[] }, ctx: StepContext) {
    this.calls.attempts.push({ step: 'flaky', attempt: ctx.attempt });
    if (ctx.attempt === 1) throw new Error('first attempt fails');
    return input.split.length;
  }

  @Step({ dependsOn: ['square', 'flaky'] })
  total(input: { square: number[]; flaky: number }) {
    return { sum: input.square.reduce((a, b) => a + b, 0), count: input.flaky };
  }
}

/** A step that runs until its signal aborts. */
@Workflow({ slug: 'pooled_long', maxAttempts: 1 })
class PooledLongFlow {
  constructor(private readonly calls: Calls) {}

  @Step()
  async wait(_input: unknown, ctx: StepContext) {
    this.calls.entered = true;
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    this.calls.aborts.push((ctx.signal.reason as Error).message);
    return 'late';
  }
}

const sumOfSquares = (n: number) => (n * (n + 1) * (2 * n + 1)) / 6;

describe.each([
  { preparedStatements: undefined, mode: 'the default preparedStatements (refused, so it falls back)' },
  { preparedStatements: false, mode: 'preparedStatements: false' },
])('through PgBouncer in transaction mode, with $mode', ({ preparedStatements }) => {
  const { createApp, query } = usePooledDatabase();
  const pgflow = preparedStatements === undefined ? {} : { preparedStatements };

  it('runs a DAG with parallel branches, a map and a retry, polling since LISTEN/NOTIFY does not work', async () => {
    const pooled = await createApp({ providers: [Calls, PooledDagFlow], pgflow });
    const { app } = pooled;
    const client = app.get(PgflowClient);
    // the probe ran at bootstrap: the worker polls and has said why
    expect(app.get(NotifyListener).available).toBe(false);
    const polling = pooled.warnings().filter((w) => POLLING_WARNING.test(w));
    expect(polling).toHaveLength(1);
    expect(polling[0]).toMatch(/; falling back to polling every 200 ms$/);

    const sizes = [3, 5, 8, 13];
    const runs = await Promise.all(sizes.map((n) => client.startRun(PooledDagFlow, { n })));
    const events = lastValueFrom(client.watchRun(runs[0].runId).pipe(toArray()));
    const done = await Promise.all(runs.map((r) => client.waitForRun(r.runId, { timeoutMs: 60_000 })));
    for (const [i, run] of done.entries()) {
      expect(run).toMatchObject({ status: 'completed', output: { total: { sum: sumOfSquares(sizes[i]), count: sizes[i] } } });
    }
    // watchRun polled its way to the end: every step's completion, then the run's
    const seen = (await events) as RunEvent[];
    expect(seen.at(-1)).toMatchObject({ type: 'run', status: 'completed' });
    const completedSteps = seen.filter((e) => e.type === 'step' && e.status === 'completed')
      .map((e) => (e.type === 'step' ? e.stepSlug : '')).sort();
    expect(completedSteps).toEqual(['flaky', 'split', 'square', 'total']);

    // flaky: attempt 1 failed, attempt 2 completed, its error kept on the task
    const flaky = await query<{ attempts_count: number; error_message: string; status: string }>(
      `select attempts_count, error_message, status from pgflow.step_tasks where step_slug = 'flaky'`);
    expect(flaky).toHaveLength(sizes.length);
    for (const t of flaky) expect(t).toMatchObject({ attempts_count: 2, error_message: 'first attempt fails', status: 'completed' });
    const calls = app.get(Calls).attempts;
    expect(calls.filter((c) => c.step === 'flaky').map((c) => c.attempt).sort()).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    // every map element ran once: nothing was lost or run twice by a retried statement
    expect(calls.filter((c) => c.step === 'square')).toHaveLength(sizes.reduce((a, b) => a + b, 0));
    expect(calls.filter((c) => c.step === 'split')).toHaveLength(sizes.length);

    const refused = pooled.warnings().filter((w) => REFUSED_WARNING.test(w));
    if (preparedStatements === false) {
      expect(refused).toEqual([]);
    } else {
      // once, however many statements were refused before and while it switched
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatch(/\((26000|42P05) prepared statement "pgflow_\w+" (does not exist|already exists)\)/);
    }
  });

  it('cancels a running run: the handler sees its signal abort without any NOTIFY', async () => {
    const pooled = await createApp({ providers: [Calls, PooledDagFlow, PooledLongFlow], pgflow });
    const { app } = pooled;
    const client = app.get(PgflowClient);
    const calls = app.get(Calls);
    const run = await client.startRun(PooledLongFlow, {});
    await until(async () => calls.entered, 20_000, 'the handler to start');

    const cancelledAt = Date.now();
    await client.cancelRun(run.runId);
    await expect(client.waitForRun(run.runId, { timeoutMs: 20_000 })).rejects.toBeInstanceOf(PgflowRunCancelledError);
    // told by the worker's check of its running runs (every poll interval, 200 ms)
    await until(async () => calls.aborts.length > 0, 10_000, 'the handler to see its signal abort');
    expect(calls.aborts).toEqual([`run ${run.runId} was cancelled`]);
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    expect(await query(`select status from pgflow.step_tasks where run_id = $1`, [run.runId])).toEqual([{ status: 'cancelled' }]);
    expect(await query(`select status from pgflow.runs where run_id = $1`, [run.runId])).toEqual([{ status: 'cancelled' }]);

    // the worker goes on with other work
    await expect(client.execute(PooledDagFlow, { n: 2 }, { timeoutMs: 60_000 }))
      .resolves.toEqual({ total: { sum: 5, count: 2 } });
    expect(pooled.warnings().filter((w) => POLLING_WARNING.test(w))).toHaveLength(1);
  });
});
