import { Injectable } from '@nestjs/common';
import { NonRetryableError, PgflowClient, PgflowRunFailedError, Step, StepContext, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

/** What the handlers saw, kept per app in DI. */
@Injectable()
class Calls {
  readonly seen: Array<{ step: string; attempt: number; aborted?: boolean; reason?: string; elapsedMs?: number }> = [];

  attempts(step: string): number[] {
    return this.seen.filter((c) => c.step === step).map((c) => c.attempt);
  }
}

@Workflow({ slug: 'flaky' })
class FlakyFlow {
  constructor(private readonly calls: Calls) {}

  @Step({ maxAttempts: 3, baseDelay: 0 })
  call(input: { run: string }, ctx: StepContext) {
    this.calls.seen.push({ step: 'call', attempt: ctx.attempt });
    if (ctx.attempt < 3) throw new Error(`flaky attempt ${ctx.attempt}`);
    return `${input.run} on attempt ${ctx.attempt}`;
  }
}

@Workflow({ slug: 'doomed', maxAttempts: 2, baseDelay: 0 })
class DoomedFlow {
  constructor(private readonly calls: Calls) {}

  @Step()
  prepare() {
    return 1;
  }

  @Step()
  explode(_: unknown, ctx: StepContext) {
    this.calls.seen.push({ step: 'explode', attempt: ctx.attempt });
    throw new Error(`boom ${ctx.attempt}`);
  }
}

@Workflow({ slug: 'refused' })
class RefusedFlow {
  constructor(private readonly calls: Calls) {}

  @Step({ baseDelay: 0 })
  validate(_: unknown, ctx: StepContext) {
    this.calls.seen.push({ step: 'validate', attempt: ctx.attempt });
    throw new NonRetryableError('card declined');
  }
}

@Workflow({ slug: 'slow', maxAttempts: 2, baseDelay: 0 })
class SlowFlow {
  constructor(private readonly calls: Calls) {}

  @Step({ timeout: 1 })
  async wait(_: unknown, ctx: StepContext) {
    const started = Date.now();
    if (ctx.attempt === 1) {
      // honours the signal, then returns anyway: a result after the deadline must not count
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      this.calls.seen.push({ step: 'wait', attempt: 1, aborted: ctx.signal.aborted,
        reason: (ctx.signal.reason as Error).message, elapsedMs: Date.now() - started });
      return 'too late';
    }
    this.calls.seen.push({ step: 'wait', attempt: ctx.attempt, aborted: ctx.signal.aborted });
    return 'in time';
  }
}

@Workflow({ slug: 'stuck', maxAttempts: 1 })
class StuckFlow {
  @Step({ timeout: 1 })
  hang() {
    // ignores its signal entirely
    return new Promise(() => undefined);
  }
}

// Workflow options apply to every step unless the step sets its own.
@Workflow({ slug: 'layered', maxAttempts: 4, baseDelay: 0, timeout: 30 })
class LayeredFlow {
  constructor(private readonly calls: Calls) {}

  @Step()
  inherits(_: unknown, ctx: StepContext) {
    this.calls.seen.push({ step: 'inherits', attempt: ctx.attempt });
    if (ctx.attempt < 4) throw new Error('not yet');
    return 'done';
  }

  @Step({ maxAttempts: 1, timeout: 5 })
  overrides(_: unknown, ctx: StepContext) {
    this.calls.seen.push({ step: 'overrides', attempt: ctx.attempt });
    throw new Error('only once');
  }
}

describe('retries and timeouts', () => {
  const { createApp, query } = useNestApps();

  async function boot(flow: new (...args: never[]) => unknown) {
    const app = await createApp({ providers: [Calls, flow] });
    return { client: app.get(PgflowClient), calls: app.get(Calls) };
  }

  async function failure(promise: Promise<unknown>): Promise<PgflowRunFailedError> {
    const err = await promise.then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(PgflowRunFailedError);
    return err as PgflowRunFailedError;
  }


  async function task(runId: string, step: string) {
    const [row] = await query<{ status: string; attempts_count: number; error_message: string | null }>(
      'select status, attempts_count, error_message from pgflow.step_tasks where run_id = $1 and step_slug = $2',
      [runId, step]);
    return row;
  }

  it('retries a failing step until it succeeds within maxAttempts', async () => {
    const { client, calls } = await boot(FlakyFlow);
    await expect(client.execute('flaky', 'paid', { timeoutMs: 10_000 })).resolves.toEqual({ call: 'paid on attempt 3' });
    expect(calls.attempts('call')).toEqual([1, 2, 3]);
  });

  it('fails the run when attempts are exhausted, with the step, task and message', async () => {
    const { client, calls } = await boot(DoomedFlow);
    const run = await client.startRun(DoomedFlow, {});
    const err = await failure(client.waitForRun(run.runId, { timeoutMs: 10_000 }));
    expect(err.runId).toBe(run.runId);
    expect(err.error).toEqual({ stepSlug: 'explode', taskIndex: 0, message: 'boom 2' });
    expect(calls.attempts('explode')).toEqual([1, 2]);
    const info = await client.getRun(run.runId);
    expect(info).toMatchObject({ status: 'failed', error: err.error });
    expect(info?.steps.map((s) => [s.stepSlug, s.status])).toEqual([['prepare', 'completed'], ['explode', 'failed']]);
  });

  it('fails at once on NonRetryableError', async () => {
    const { client, calls } = await boot(RefusedFlow);
    const err = await failure(client.execute(RefusedFlow, {}, { timeoutMs: 10_000 }));
    expect(err.error).toEqual({ stepSlug: 'validate', taskIndex: 0, message: 'card declined' });
    expect(calls.attempts('validate')).toEqual([1]);
    expect(await task(err.runId, 'validate')).toMatchObject({ status: 'failed', attempts_count: 1 });
  });

  it('aborts the signal at the step timeout, fails the attempt as a timeout and retries', async () => {
    const { client, calls } = await boot(SlowFlow);
    const run = await client.startRun(SlowFlow, {});
    await expect(client.waitForRun(run.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
      status: 'completed', output: { wait: 'in time' },
    });
    const [first, second] = calls.seen;
    expect(first).toMatchObject({ attempt: 1, aborted: true, reason: 'step "wait" timed out after 1 s' });
    expect(first.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(second).toMatchObject({ attempt: 2, aborted: false });
    expect(await task(run.runId, 'wait')).toEqual({
      status: 'completed', attempts_count: 2, error_message: 'step "wait" timed out after 1 s',
    });
  });

  it('fails a handler that ignores its signal at the timeout', async () => {
    const { client } = await boot(StuckFlow);
    const started = Date.now();
    const err = await failure(client.execute(StuckFlow, {}, { timeoutMs: 10_000 }));
    expect(err.error).toEqual({ stepSlug: 'hang', taskIndex: 0, message: 'step "hang" timed out after 1 s' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('lets steps inherit workflow options and override them', async () => {
    const { client, calls } = await boot(LayeredFlow);
    expect(await query(`select opt_max_attempts, opt_base_delay, opt_timeout from pgflow.flows
      where flow_slug = 'layered'`)).toEqual([{ opt_max_attempts: 4, opt_base_delay: 0, opt_timeout: 30 }]);
    expect(await query(`select step_slug, opt_max_attempts, opt_base_delay, opt_timeout from pgflow.steps
      where flow_slug = 'layered' order by step_index`)).toEqual([
      { step_slug: 'inherits', opt_max_attempts: null, opt_base_delay: null, opt_timeout: null },
      { step_slug: 'overrides', opt_max_attempts: 1, opt_base_delay: null, opt_timeout: 5 },
    ]);
    const err = await failure(client.execute(LayeredFlow, {}, { timeoutMs: 10_000 }));
    expect(err.error).toMatchObject({ stepSlug: 'overrides', message: 'only once' });
    expect(calls.attempts('inherits')).toEqual([1, 2, 3, 4]);
    expect(calls.attempts('overrides')).toEqual([1]);
  });
});
