import { Injectable } from '@nestjs/common';
import { TestingModule } from '@nestjs/testing';
import {
  PgflowClient, PgflowRunCancelledError, PgflowRunFailedError, PgflowRunStateError, PgflowUnknownRunError,
  PgflowValidationError, RunInfo, Step, StepContext, Workflow,
} from '../../lib';
import { eventually, useNestApps, appSql } from '../support/nest-harness';

/** A promise with its resolver, for handlers and tests to meet. */
class Latch {
  open!: () => void;
  readonly promise = new Promise<void>((resolve) => (this.open = resolve));
}

/** What the handlers of one app did, and the switches the tests flip. */
@Injectable()
class Probe {
  readonly calls: Array<{ step: string; item?: number; attempt: number }> = [];
  readonly aborts: Array<{ step: string; reason: string; ms: number }> = [];
  entered = new Latch();
  release = new Latch();
  finished = new Latch();
  /** `wait` returns at once instead of blocking until its signal aborts. */
  passThrough = false;
  /** `square` stops failing on element 3. */
  healed = false;

  count(step: string, item?: number): number {
    return this.calls.filter((c) => c.step === step && (item === undefined || c.item === item)).length;
  }
}

@Workflow({ slug: 'long_job', maxAttempts: 1 })
class LongJobFlow {
  constructor(private readonly probe: Probe) {}

  @Step()
  prepare(input: { run: { n: number } }, ctx: StepContext) {
    this.probe.calls.push({ step: 'prepare', attempt: ctx.attempt });
    return input.run.n * 2;
  }

  @Step()
  async wait(input: { prepare: number }, ctx: StepContext) {
    this.probe.calls.push({ step: 'wait', attempt: ctx.attempt });
    if (this.probe.passThrough) return input.prepare + 1;
    const started = Date.now();
    this.probe.entered.open();
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    this.probe.aborts.push({ step: 'wait', reason: (ctx.signal.reason as Error).message, ms: Date.now() - started });
    return 'late';
  }
}

@Workflow({ slug: 'stubborn', maxAttempts: 1 })
class StubbornFlow {
  constructor(private readonly probe: Probe) {}

  // ignores its signal and returns only when the test says so
  @Step()
  async ignore() {
    this.probe.entered.open();
    await this.probe.release.promise;
    this.probe.finished.open();
    return 'late';
  }
}

@Workflow({ slug: 'pipeline', maxAttempts: 2, baseDelay: 0 })
class PipelineFlow {
  constructor(private readonly probe: Probe) {}

  @Step()
  load(input: { run: { n: number } }, ctx: StepContext) {
    this.probe.calls.push({ step: 'load', attempt: ctx.attempt });
    return Array.from({ length: input.run.n }, (_, i) => i + 1);
  }

  @Step({ dependsOn: ['load'], map: 'load' })
  square(x: number, ctx: StepContext) {
    this.probe.calls.push({ step: 'square', item: x, attempt: ctx.attempt });
    if (x === 3 && !this.probe.healed) throw new Error('element 3 broke');
    return x * x;
  }

  @Step({ dependsOn: ['square'] })
  total(input: { square: number[] }, ctx: StepContext) {
    this.probe.calls.push({ step: 'total', attempt: ctx.attempt });
    return input.square.reduce((a, b) => a + b, 0);
  }
}

describe('cancelRun and retryRun through the module', () => {
  const { createApp } = useNestApps();

  async function boot() {
    const app = await createApp({ providers: [Probe, LongJobFlow, StubbornFlow, PipelineFlow] });
    return { app, client: app.get(PgflowClient), probe: app.get(Probe), db: appSql(app) };
  }

  async function tasks(app: TestingModule, runId: string) {
    return appSql(app).query<{ step_slug: string; task_index: number; status: string; output: unknown;
      attempts_count: number }>(
      `select step_slug, task_index, status, output, attempts_count from pgflow.step_tasks
        where run_id = $1 order by step_slug, task_index`, [runId]);
  }

  const statuses = (run: RunInfo | null) => Object.fromEntries((run?.steps ?? []).map((s) => [s.stepSlug, s.status]));

  describe('cancelRun', () => {
    it('cancels a running run: the handler\'s signal aborts at once, steps and tasks end cancelled', async () => {
      const { app, client, probe } = await boot();
      const run = await client.startRun(LongJobFlow, { n: 4 });
      await probe.entered.promise;
      const cancelledAt = Date.now();
      await client.cancelRun(run.runId);

      // NOTIFY on pgflow_runs reaches the worker: the abort comes long before the 60 s step timeout
      await eventually(async () => probe.aborts.length > 0, 5000, 'the handler to see its signal abort');
      expect(probe.aborts[0].reason).toBe(`run ${run.runId} was cancelled`);
      expect(Date.now() - cancelledAt).toBeLessThan(2000);

      await expect(client.waitForRun(run.runId, { timeoutMs: 5000 })).rejects.toBeInstanceOf(PgflowRunCancelledError);
      const info = await client.getRun(run.runId);
      expect(info).toMatchObject({ status: 'cancelled', output: null, error: null });
      expect(statuses(info)).toEqual({ prepare: 'completed', wait: 'cancelled' });
      expect(info?.steps[0].output).toBe(8);
      expect(await tasks(app, run.runId)).toMatchObject([
        { step_slug: 'prepare', status: 'completed', output: 8 },
        { step_slug: 'wait', status: 'cancelled', output: null },
      ]);
    });

    it('ignores the result of a handler that outlives the cancellation', async () => {
      const { app, client, probe, db } = await boot();
      const run = await client.startRun(StubbornFlow, {});
      await probe.entered.promise;
      await client.cancelRun(run.runId);
      probe.release.open();
      await probe.finished.promise;

      expect(await tasks(app, run.runId)).toEqual([
        { step_slug: 'ignore', task_index: 0, status: 'cancelled', output: null, attempts_count: 1 },
      ]);
      // even reported straight to SQL, the late result of attempt 1 is refused
      const [late] = await db.query<{ accepted: boolean }>(
        `select pgflow.complete_task($1, 'ignore', 0, 1, '"late"'::jsonb) as accepted`, [run.runId]);
      expect(late.accepted).toBe(false);
      expect(await client.getRun(run.runId)).toMatchObject({ status: 'cancelled', output: null });
    });

    it('resolves without changing anything for a run that already finished, and is safe to repeat', async () => {
      const { client, probe, db } = await boot();
      probe.passThrough = true;
      const done = await client.startRun(LongJobFlow, { n: 1 });
      const completed = await client.waitForRun(done.runId, { timeoutMs: 10_000 });
      await expect(client.cancelRun(done.runId)).resolves.toBeUndefined();
      expect(await client.getRun(done.runId)).toEqual(completed);

      const failed = await client.startRun(PipelineFlow, { n: 3 });
      await expect(client.waitForRun(failed.runId, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(PgflowRunFailedError);
      const failedInfo = await client.getRun(failed.runId);
      await expect(client.cancelRun(failed.runId)).resolves.toBeUndefined();
      expect(await client.getRun(failed.runId)).toEqual(failedInfo);

      probe.passThrough = false;
      const twice = await client.startRun(LongJobFlow, { n: 1 });
      await probe.entered.promise;
      await client.cancelRun(twice.runId);
      const [first] = await db.query<{ cancelled_at: Date }>('select cancelled_at from pgflow.runs where run_id = $1',
        [twice.runId]);
      await expect(client.cancelRun(twice.runId)).resolves.toBeUndefined();
      expect(await db.query('select cancelled_at from pgflow.runs where run_id = $1', [twice.runId])).toEqual([first]);
    });

    it('cancels a run still waiting for its startAt; its tasks never become claimable', async () => {
      const { app, client, probe } = await boot();
      const run = await client.startRun(LongJobFlow, { n: 1 }, { startAt: new Date(Date.now() + 60_000) });
      expect(run.status).toBe('queued');
      await client.cancelRun(run.runId);
      expect(await client.getRun(run.runId)).toMatchObject({ status: 'cancelled', startedAt: null });
      expect(await tasks(app, run.runId)).toMatchObject([{ step_slug: 'prepare', status: 'cancelled', attempts_count: 0 }]);
      expect(probe.calls).toEqual([]);
    });

    it('rejects an unknown run with PgflowUnknownRunError and a malformed id with PgflowValidationError', async () => {
      const { client } = await boot();
      const unknown = '00000000-0000-4000-8000-000000000042';
      const err = await client.cancelRun(unknown).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgflowUnknownRunError);
      expect(err).toMatchObject({ runId: unknown, message: `unknown run ${unknown}` });
      await expect(client.cancelRun('not-a-uuid')).rejects.toBeInstanceOf(PgflowValidationError);
    });
  });

  describe('retryRun', () => {
    it('re-runs only the failed map element with fresh attempts; completed work keeps its output', async () => {
      const { app, client, probe } = await boot();
      const run = await client.startRun(PipelineFlow, { n: 5 });
      const err = await client.waitForRun(run.runId, { timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgflowRunFailedError);
      expect((err as PgflowRunFailedError).error).toEqual({ stepSlug: 'square', taskIndex: 2, message: 'element 3 broke' });
      expect(probe.count('square', 3)).toBe(2);
      const before = await tasks(app, run.runId);
      const elementsDone = before.filter((t) => t.step_slug === 'square' && t.status === 'completed');
      // elements claimed after the failure were cancelled; those done before it stay done
      expect(elementsDone.length).toBeGreaterThan(0);

      probe.healed = true;
      const callsBefore = probe.calls.length;
      const retried = await client.retryRun(run.runId);
      expect(retried).toMatchObject({ runId: run.runId, error: null, failedAt: null });
      expect(['started', 'completed']).toContain(retried.status);
      const done = await client.waitForRun(run.runId, { timeoutMs: 10_000 });
      expect(done.output).toEqual({ total: 1 + 4 + 9 + 16 + 25 });

      const rerun = probe.calls.slice(callsBefore);
      expect(rerun.filter((c) => c.step === 'load')).toEqual([]);
      const rerunItems = rerun.filter((c) => c.step === 'square').map((c) => c.item).sort();
      const notDone = [1, 2, 3, 4, 5].filter((x) => !elementsDone.some((t) => t.task_index === x - 1));
      expect(rerunItems).toEqual(notDone);
      // a fresh budget: the retried element starts again at attempt 1
      expect(rerun.find((c) => c.step === 'square' && c.item === 3)?.attempt).toBe(1);
      expect(rerun.filter((c) => c.step === 'total')).toEqual([{ step: 'total', attempt: 1 }]);
      const after = await tasks(app, run.runId);
      for (const t of elementsDone) expect(after).toContainEqual(t);

      // the same output a run that never failed produces
      await expect(client.execute(PipelineFlow, { n: 5 }, { timeoutMs: 10_000 })).resolves.toEqual(done.output);
    });

    it('resumes a cancelled run without re-running its completed steps', async () => {
      const { client, probe } = await boot();
      const run = await client.startRun(LongJobFlow, { n: 10 });
      await probe.entered.promise;
      await client.cancelRun(run.runId);
      await eventually(async () => probe.aborts.length > 0, 5000, 'the abort');

      probe.passThrough = true;
      await client.retryRun(run.runId);
      await expect(client.waitForRun(run.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
        status: 'completed', output: { wait: 21 },
      });
      expect(probe.count('prepare')).toBe(1);
      expect(probe.calls.filter((c) => c.step === 'wait').map((c) => c.attempt)).toEqual([1, 1]);
    });

    it('refuses a run that is not failed or cancelled with PgflowRunStateError, unknown runs with PgflowUnknownRunError',
      async () => {
        const { client, probe } = await boot();
        probe.passThrough = true;
        const done = await client.startRun(LongJobFlow, { n: 1 });
        await client.waitForRun(done.runId, { timeoutMs: 10_000 });
        const err = await client.retryRun(done.runId).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PgflowRunStateError);
        expect(err).toBeInstanceOf(PgflowValidationError);
        expect(err).toMatchObject({
          runId: done.runId, status: 'completed',
          message: `run ${done.runId} is completed: only failed or cancelled runs can be retried`,
        });

        probe.passThrough = false;
        const running = await client.startRun(LongJobFlow, { n: 1 });
        await probe.entered.promise;
        await expect(client.retryRun(running.runId)).rejects.toMatchObject({ name: 'PgflowRunStateError', status: 'started' });
        const queued = await client.startRun(LongJobFlow, { n: 1 }, { startAt: new Date(Date.now() + 60_000) });
        await expect(client.retryRun(queued.runId)).rejects.toMatchObject({ name: 'PgflowRunStateError', status: 'queued' });

        await expect(client.retryRun('00000000-0000-4000-8000-000000000043')).rejects.toBeInstanceOf(PgflowUnknownRunError);
        await client.cancelRun(running.runId);
        await client.cancelRun(queued.runId);
      });
  });
});
