import { Injectable } from '@nestjs/common';
import { NonRetryableError, PgflowClient, RunInfo, Step, StepContext, Workflow } from '../../lib';
import { useNestApps, appSql } from '../support/nest-harness';

/** Which handlers ran, on which attempts. */
@Injectable()
class Seen {
  readonly calls: Array<{ step: string; attempt: number }> = [];

  record(step: string, ctx: StepContext): void {
    this.calls.push({ step, attempt: ctx.attempt });
  }

  steps(): string[] {
    return this.calls.map((c) => c.step);
  }
}

@Workflow({ slug: 'order' })
class OrderFlow {
  constructor(private readonly seen: Seen) {}

  @Step()
  validate(input: { run: { amount: number } }, ctx: StepContext) {
    this.seen.record('validate', ctx);
    return { ok: input.run.amount > 0 };
  }

  @Step({ dependsOn: ['validate'], if: { validate: { ok: true } } })
  ship(_: unknown, ctx: StepContext) {
    this.seen.record('ship', ctx);
    return 'shipped';
  }

  @Step({ dependsOn: ['validate'], if: { run: { express: true } }, ifNot: { run: { kind: 'digital' } } })
  express(_: unknown, ctx: StepContext) {
    this.seen.record('express', ctx);
    return 'express';
  }

  @Step({ dependsOn: ['ship', 'express'] })
  notify(input: object, ctx: StepContext) {
    this.seen.record('notify', ctx);
    return Object.keys(input).sort();
  }
}

@Workflow({ slug: 'gated' })
class GatedFlow {
  constructor(private readonly seen: Seen) {}

  @Step({ if: { run: { open: true } }, whenUnmet: 'skip-cascade' })
  gate(_: unknown, ctx: StepContext) {
    this.seen.record('gate', ctx);
    return 'through';
  }

  @Step({ dependsOn: ['gate'] })
  child(_: unknown, ctx: StepContext) {
    this.seen.record('child', ctx);
    return 'child';
  }

  @Step()
  side(_: unknown, ctx: StepContext) {
    this.seen.record('side', ctx);
    return 'side';
  }

  @Step({ dependsOn: ['child', 'side'] })
  join(_: unknown, ctx: StepContext) {
    this.seen.record('join', ctx);
    return 'joined';
  }

  @Step({ dependsOn: ['side'] })
  other(input: { side: string }, ctx: StepContext) {
    this.seen.record('other', ctx);
    return `after ${input.side}`;
  }
}

@Workflow({ slug: 'maybe_list' })
class MaybeListFlow {
  constructor(private readonly seen: Seen) {}

  @Step({ if: { run: { go: true } } })
  list(_: unknown, ctx: StepContext) {
    this.seen.record('list', ctx);
    return [1, 2, 3];
  }

  @Step({ dependsOn: ['list'], map: 'list' })
  each(x: number, ctx: StepContext) {
    this.seen.record('each', ctx);
    return x * 10;
  }
}

@Workflow({ slug: 'exhaust', maxAttempts: 2, baseDelay: 0 })
class ExhaustFlow {
  constructor(private readonly seen: Seen) {}

  @Step()
  start(input: { run: { mode: string } }) {
    return input.run.mode;
  }

  @Step({ dependsOn: ['start'], whenExhausted: 'skip' })
  optional(_: unknown, ctx: StepContext) {
    this.seen.record('optional', ctx);
    throw new Error(`optional broke on attempt ${ctx.attempt}`);
  }

  @Step({ dependsOn: ['start'], whenExhausted: 'skip-cascade', maxAttempts: 5 })
  enrich(_: unknown, ctx: StepContext) {
    this.seen.record('enrich', ctx);
    // ends the task at once despite maxAttempts 5
    throw new NonRetryableError('no such customer');
  }

  @Step({ dependsOn: ['enrich'] })
  enriched(_: unknown, ctx: StepContext) {
    this.seen.record('enriched', ctx);
    return 'never';
  }

  @Step({ dependsOn: ['optional', 'start'] })
  report(input: unknown, ctx: StepContext) {
    this.seen.record('report', ctx);
    return Object.keys(input as object).sort();
  }
}

describe('conditions and whenExhausted through decorated workflows', () => {
  const { createApp } = useNestApps();

  async function boot() {
    const app = await createApp({ providers: [Seen, OrderFlow, GatedFlow, MaybeListFlow, ExhaustFlow] });
    return { app, client: app.get(PgflowClient), seen: app.get(Seen) };
  }

  const statuses = (run: RunInfo) => Object.fromEntries(run.steps.map((s) => [s.stepSlug, s.status]));

  it('stores if / ifNot / whenUnmet / whenExhausted in the step definitions', async () => {
    const { app } = await boot();
    const rows = await appSql(app).query(
      `select step_slug, condition_if, condition_if_not, when_unmet, when_exhausted from pgflow.steps
        where flow_slug = 'order' and step_slug in ('ship', 'express') order by step_index`);
    expect(rows).toEqual([
      { step_slug: 'ship', condition_if: { validate: { ok: true } }, condition_if_not: null, when_unmet: 'skip',
        when_exhausted: 'fail' },
      { step_slug: 'express', condition_if: { run: { express: true } }, condition_if_not: { run: { kind: 'digital' } },
        when_unmet: 'skip', when_exhausted: 'fail' },
    ]);
  });

  it('runs steps whose input contains the if pattern and lacks the ifNot pattern', async () => {
    const { client, seen } = await boot();
    const output = await client.execute(OrderFlow, { amount: 5, express: true, kind: 'box' }, { timeoutMs: 10_000 });
    expect(output).toEqual({ notify: ['express', 'run', 'ship'] });
    expect(seen.steps().sort()).toEqual(['express', 'notify', 'ship', 'validate']);
  });

  it('skips unmet steps without calling them; dependents run without their keys', async () => {
    const { client, seen } = await boot();
    // ship: validate.ok is false; express: the ifNot pattern matches
    const run = await client.startRun(OrderFlow, { amount: 0, express: true, kind: 'digital' });
    const done = await client.waitForRun(run.runId, { timeoutMs: 10_000 });
    expect(statuses(done)).toEqual({ validate: 'completed', ship: 'skipped', express: 'skipped', notify: 'completed' });
    expect(done.output).toEqual({ notify: ['run'] });
    expect(seen.steps().sort()).toEqual(['notify', 'validate']);
    expect(done.progress).toEqual({ totalSteps: 4, completedSteps: 4, percentage: 100 });
    expect(done.steps.find((s) => s.stepSlug === 'ship')).toEqual({
      stepSlug: 'ship', status: 'skipped', totalTasks: null, remainingTasks: null,
    });
  });

  it('skip-cascade skips every dependent, also a join with another completed dependency', async () => {
    const { client, seen } = await boot();
    const done = await client.waitForRun((await client.startRun(GatedFlow, { open: false })).runId, { timeoutMs: 10_000 });
    expect(done.status).toBe('completed');
    expect(statuses(done)).toEqual({ gate: 'skipped', child: 'skipped', side: 'completed', join: 'skipped',
      other: 'completed' });
    // join is a skipped leaf: absent from the output
    expect(done.output).toEqual({ other: 'after side' });
    expect(seen.steps().sort()).toEqual(['other', 'side']);

    const open = await client.execute(GatedFlow, { open: true }, { timeoutMs: 10_000 });
    expect(open).toEqual({ join: 'joined', other: 'after side' });
  });

  it('maps over a skipped dependency as over []', async () => {
    const { client, seen } = await boot();
    await expect(client.execute(MaybeListFlow, { go: false }, { timeoutMs: 10_000 })).resolves.toEqual({ each: [] });
    expect(seen.steps()).toEqual([]);
    await expect(client.execute(MaybeListFlow, { go: true }, { timeoutMs: 10_000 })).resolves.toEqual({ each: [10, 20, 30] });
  });

  it('whenExhausted skip / skip-cascade: the run completes without the exhausted steps; NonRetryableError ends a task at once',
    async () => {
      const { client, seen } = await boot();
      const run = await client.startRun(ExhaustFlow, { mode: 'x' });
      const done = await client.waitForRun(run.runId, { timeoutMs: 10_000 });
      expect(done.status).toBe('completed');
      expect(statuses(done)).toEqual({ start: 'completed', optional: 'skipped', enrich: 'skipped', enriched: 'skipped',
        report: 'completed' });
      expect(done.steps.find((s) => s.stepSlug === 'optional')?.error).toBe('optional broke on attempt 2');
      expect(done.steps.find((s) => s.stepSlug === 'enrich')?.error).toBe('no such customer');
      expect(done.output).toEqual({ report: ['run', 'start'] });
      expect(seen.calls.filter((c) => c.step === 'optional').map((c) => c.attempt)).toEqual([1, 2]);
      expect(seen.calls.filter((c) => c.step === 'enrich').map((c) => c.attempt)).toEqual([1]);
      expect(seen.steps()).not.toContain('enriched');
    });
});
