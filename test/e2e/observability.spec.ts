import { Injectable } from '@nestjs/common';
import { lastValueFrom, Subscription } from 'rxjs';
import { toArray } from 'rxjs/operators';
import {
  PgflowClient, PgflowEvent, PgflowEvents, PgflowValidationError, PgflowWorker, RunEvent, Step, StepContext, Workflow,
} from '../../lib';
import { useNestApps } from '../support/nest-harness';

/** Lets a test hold a handler until it says so. */
@Injectable()
class Gate {
  private waiters: Array<() => void> = [];
  readonly progressErrors: string[] = [];
  open(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

@Workflow({ slug: 'obs_ok' })
class OkFlow {
  @Step()
  first(input: { run: { n: number } }) {
    return input.run.n + 1;
  }

  @Step()
  second(input: { first: number }) {
    return input.first * 2;
  }
}

@Workflow({ slug: 'obs_flaky', maxAttempts: 3, baseDelay: 0 })
class FlakyFlow {
  @Step()
  call(_input: unknown, ctx: StepContext) {
    if (ctx.attempt === 1) throw new Error('flaky once');
    return 'fine';
  }
}

@Workflow({ slug: 'obs_doomed', maxAttempts: 2, baseDelay: 0 })
class DoomedFlow {
  @Step()
  explode(_input: unknown, ctx: StepContext) {
    throw new Error(`boom ${ctx.attempt}`);
  }
}

@Workflow({ slug: 'obs_hold', maxAttempts: 1 })
class HoldFlow {
  constructor(private readonly gate: Gate) {}

  @Step()
  async hold(_input: unknown, ctx: StepContext) {
    await this.gate.wait(ctx.signal);
    return 'released';
  }
}

@Workflow({ slug: 'obs_progress', maxAttempts: 1 })
class ProgressFlow {
  constructor(private readonly gate: Gate) {}

  @Step()
  async crunch(_input: unknown, ctx: StepContext) {
    await ctx.progress({ done: 1, of: 2 });
    // refused before anything is written; the task keeps running
    for (const bad of [10n, 'x'.repeat(70 * 1024)] as unknown[]) {
      await ctx.progress(bad as string).catch((err: Error) =>
        this.gate.progressErrors.push(`${err instanceof PgflowValidationError}: ${err.message}`));
    }
    await this.gate.wait(ctx.signal);
    await ctx.progress({ done: 2, of: 2 });
    return 'crunched';
  }
}

/** Retries with a long backoff, then a dependent with a long startDelay: drain({ skipDelays }) waits for neither. */
@Workflow({ slug: 'obs_delays', maxAttempts: 3, baseDelay: 600 })
class DelaysFlow {
  @Step()
  flaky(_input: unknown, ctx: StepContext) {
    if (ctx.attempt < 3) throw new Error(`not yet (${ctx.attempt})`);
    return ctx.attempt;
  }

  @Step({ startDelay: 3600 })
  later(input: { flaky: number }) {
    return `after ${input.flaky} attempts`;
  }
}

@Workflow({ slug: 'obs_forever', maxAttempts: 25, baseDelay: 0 })
class ForeverFlow {
  @Step()
  fail(_input: unknown, ctx: StepContext) {
    throw new Error(`fail ${ctx.attempt}`);
  }
}

const FLOWS = [OkFlow, FlakyFlow, DoomedFlow, HoldFlow, ProgressFlow, DelaysFlow, ForeverFlow];

describe('events, progress, task history and drain', () => {
  const { createApp } = useNestApps();
  let subscription: Subscription | undefined;
  afterEach(() => subscription?.unsubscribe());

  async function boot() {
    const app = await createApp({ providers: [Gate, ...FLOWS], worker: { autoStart: false } });
    const events: PgflowEvent[] = [];
    subscription = app.get(PgflowEvents).events$.subscribe((e) => events.push(e));
    return { app, client: app.get(PgflowClient), worker: app.get(PgflowWorker), gate: app.get(Gate), events };
  }
  /** Events without durations (they vary), with the run id checked. */
  const shapes = (events: PgflowEvent[], runId: string) => events.map((e) => {
    expect(e.runId).toBe(runId);
    const { runId: _r, ...rest } = e as PgflowEvent & { durationMs?: number };
    if ('durationMs' in rest) {
      expect(typeof rest.durationMs).toBe('number');
      delete rest.durationMs;
    }
    return rest;
  });
  const until = async (check: () => boolean | Promise<boolean>, what: string, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('events$: a run that succeeds', async () => {
    const { client, worker, events } = await boot();
    const run = await client.startRun(OkFlow, { n: 1 });
    expect(await worker.drain()).toBe(2);
    await until(() => events.some((e) => e.type === 'run.completed'), 'run.completed');
    const t = { flowSlug: 'obs_ok', taskIndex: 0, attempt: 1 };
    expect(shapes(events, run.runId)).toEqual([
      { type: 'task.started', ...t, stepSlug: 'first' }, { type: 'task.completed', ...t, stepSlug: 'first' },
      { type: 'task.started', ...t, stepSlug: 'second' }, { type: 'task.completed', ...t, stepSlug: 'second' },
      { type: 'run.completed', flowSlug: 'obs_ok' },
    ]);
  });

  it('events$: a failed attempt retried, then success', async () => {
    const { client, worker, events } = await boot();
    const run = await client.startRun(FlakyFlow, {});
    expect(await worker.drain()).toBe(2);
    await until(() => events.some((e) => e.type === 'run.completed'), 'run.completed');
    const t = { flowSlug: 'obs_flaky', stepSlug: 'call', taskIndex: 0 };
    expect(shapes(events, run.runId)).toEqual([
      { type: 'task.started', ...t, attempt: 1 }, { type: 'task.retrying', ...t, attempt: 1, error: 'flaky once' },
      { type: 'task.started', ...t, attempt: 2 }, { type: 'task.completed', ...t, attempt: 2 },
      { type: 'run.completed', flowSlug: 'obs_flaky' },
    ]);
  });

  it('events$: attempts exhausted fail the task and the run', async () => {
    const { client, worker, events } = await boot();
    const run = await client.startRun(DoomedFlow, {});
    expect(await worker.drain()).toBe(2);
    const t = { flowSlug: 'obs_doomed', stepSlug: 'explode', taskIndex: 0 };
    expect(shapes(events, run.runId)).toEqual([
      { type: 'task.started', ...t, attempt: 1 }, { type: 'task.retrying', ...t, attempt: 1, error: 'boom 1' },
      { type: 'task.started', ...t, attempt: 2 }, { type: 'task.failed', ...t, attempt: 2, error: 'boom 2' },
      { type: 'run.failed', flowSlug: 'obs_doomed' },
    ]);
    expect((await client.getRun(run.runId))?.status).toBe('failed');
  });

  it('events$: a run cancelled while its handler runs', async () => {
    const { client, worker, events } = await boot();
    const run = await client.startRun(HoldFlow, {});
    const drained = worker.drain();
    await until(() => events.some((e) => e.type === 'task.started'), 'task.started');
    await client.cancelRun(run.runId);
    expect(await drained).toBe(1);
    await client.cancelRun(run.runId); // already cancelled: no second event
    expect(shapes(events, run.runId)).toEqual([
      { type: 'task.started', flowSlug: 'obs_hold', stepSlug: 'hold', taskIndex: 0, attempt: 1 },
      { type: 'run.cancelled', flowSlug: 'obs_hold' },
    ]);
    const [task] = await client.getTasks(run.runId);
    expect(task).toMatchObject({ status: 'cancelled', attempt: 1 });
  });

  it('ctx.progress: stored, emitted by watchRun, in getTasks; bad values refused while the task keeps running', async () => {
    const { client, worker, gate } = await boot();
    const run = await client.startRun(ProgressFlow, {});
    const watched = lastValueFrom(client.watchRun(run.runId).pipe(toArray()));
    const drained = worker.drain();
    await until(async () => (await client.getTasks(run.runId))[0]?.progress !== undefined, 'the first progress');
    const [running] = await client.getTasks(run.runId, 'crunch');
    expect(running).toMatchObject({ stepSlug: 'crunch', taskIndex: 0, status: 'started', attempt: 1,
      progress: { done: 1, of: 2 }, error: null, workerId: worker.workerId });
    expect(running.attempts).toEqual([{ attempt: 1, error: null, startedAt: running.startedAt, endedAt: null,
      workerId: worker.workerId }]);
    await until(() => gate.progressErrors.length === 2, 'both refusals');
    expect(gate.progressErrors).toEqual([
      'true: progress of step "obs_progress.crunch" is not JSON: BigInt',
      expect.stringMatching(/^true: progress of step "obs_progress.crunch" is 71682 bytes, over the 65536-byte limit$/),
    ]);
    gate.open();
    expect(await drained).toBe(1);
    const events: RunEvent[] = await watched;
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress[progress.length - 1]).toEqual({ type: 'progress', runId: run.runId, stepSlug: 'crunch', taskIndex: 0,
      value: { done: 2, of: 2 } });
    expect(progress[0]).toMatchObject({ value: { done: 1, of: 2 } });
    const [done] = await client.getTasks(run.runId);
    expect(done).toMatchObject({ status: 'completed', output: 'crunched', progress: { done: 2, of: 2 } });
    expect((await client.getRun(run.runId))?.status).toBe('completed');
  });

  it('drain({ skipDelays }) runs retries with backoff and a startDelay without waiting, and counts attempts', async () => {
    const { client, worker } = await boot();
    const run = await client.startRun(DelaysFlow, {});
    // without skipDelays: the first attempt fails and its retry is 600 s away
    expect(await worker.drain()).toBe(1);
    expect((await client.getRun(run.runId))?.status).toBe('started');
    const started = Date.now();
    expect(await worker.drain({ skipDelays: true })).toBe(3); // flaky attempts 2 and 3, then later
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await client.getRun(run.runId))?.output).toEqual({ later: 'after 3 attempts' });
    const tasks = await client.getTasks(run.runId);
    expect(tasks.map((t) => [t.stepSlug, t.status, t.attempt, t.attempts.length])).toEqual([
      ['flaky', 'completed', 3, 3], ['later', 'completed', 1, 1],
    ]);
    expect(tasks[0].attempts.map((a) => a.error)).toEqual(['not yet (1)', 'not yet (2)', null]);
    for (const a of tasks[0].attempts) {
      expect(a.workerId).toBe(worker.workerId);
      expect(a.startedAt).toBeInstanceOf(Date);
      expect(a.endedAt!.getTime()).toBeGreaterThanOrEqual(a.startedAt!.getTime());
    }
    expect(await worker.drain({ skipDelays: true })).toBe(0);
  });

  it('getTasks keeps every attempt\'s error, the last 20', async () => {
    const { client, worker } = await boot();
    const run = await client.startRun(ForeverFlow, {});
    expect(await worker.drain({ skipDelays: true })).toBe(25);
    const [task] = await client.getTasks(run.runId, 'fail');
    expect(task).toMatchObject({ status: 'failed', attempt: 25, error: 'fail 25' });
    expect(task.attempts.map((a) => a.attempt)).toEqual(Array.from({ length: 20 }, (_, i) => i + 6));
    expect(task.attempts.map((a) => a.error)).toEqual(Array.from({ length: 20 }, (_, i) => `fail ${i + 6}`));
    expect(await client.getTasks(run.runId, 'nope')).toEqual([]);
    await expect(client.getTasks('not-a-uuid')).rejects.toBeInstanceOf(PgflowValidationError);
  });
});
