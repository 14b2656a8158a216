import { Injectable } from '@nestjs/common';
import { PgflowClient, Step, StepContext, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

/** What the handlers saw, kept per app in DI. */
@Injectable()
class Calls {
  readonly seen: Array<{ step: string; input: unknown; taskIndex: number; at: number }> = [];

  of(step: string) {
    return this.seen.filter((c) => c.step === step);
  }
}

@Workflow({ slug: 'map_run' })
class MapRunFlow {
  constructor(private readonly calls: Calls) {}

  @Step({ map: 'run' })
  square(n: number, ctx: StepContext) {
    this.calls.seen.push({ step: 'square', input: n, taskIndex: ctx.taskIndex, at: Date.now() });
    return n * n;
  }

  @Step({ dependsOn: ['square'] })
  sum(input: { square: number[] }) {
    return input.square.reduce((a, b) => a + b, 0);
  }
}

@Workflow({ slug: 'map_dep' })
class MapDepFlow {
  constructor(private readonly calls: Calls) {}

  @Step()
  users(input: { run: { ids: number[] } }) {
    return input.run.ids.map((id) => ({ id }));
  }

  @Step({ dependsOn: ['users'], map: 'users' })
  load(user: { id: number }, ctx: StepContext) {
    this.calls.seen.push({ step: 'load', input: user, taskIndex: ctx.taskIndex, at: Date.now() });
    return `user ${user.id}`;
  }

  @Step({ dependsOn: ['load'] })
  count(input: { load: string[] }) {
    return input.load.length;
  }
}

@Workflow({ slug: 'fanout' })
class FanoutFlow {
  constructor(private readonly calls: Calls) {}

  @Step({ initialTasks: 3 })
  shard(input: { run: string }, ctx: StepContext) {
    this.calls.seen.push({ step: 'shard', input, taskIndex: ctx.taskIndex, at: Date.now() });
    return `${input.run}#${ctx.taskIndex}`;
  }
}

@Workflow({ slug: 'delayed' })
class DelayedFlow {
  constructor(private readonly calls: Calls) {}

  @Step()
  first(_: unknown, ctx: StepContext) {
    this.calls.seen.push({ step: 'first', input: null, taskIndex: ctx.taskIndex, at: Date.now() });
    return 1;
  }

  @Step({ startDelay: 1 })
  later(_: unknown, ctx: StepContext) {
    this.calls.seen.push({ step: 'later', input: null, taskIndex: ctx.taskIndex, at: Date.now() });
    return 2;
  }
}

@Workflow({ slug: 'renamed' })
class RenamedFlow {
  @Step({ slug: 'fetch_order' })
  fetchOrderFromTheShop(input: { run: number }) {
    return { id: input.run };
  }

  @Step({ slug: 'ship_it', dependsOn: ['fetch_order'] })
  shipOrder(input: { fetch_order: { id: number } }, ctx: StepContext) {
    return `${ctx.stepSlug} ${input.fetch_order.id}`;
  }
}

describe('step options end to end', () => {
  const { createApp, query } = useNestApps();

  async function boot(flow: new (...args: never[]) => unknown) {
    const app = await createApp({ providers: [Calls, flow] });
    return { client: app.get(PgflowClient), calls: app.get(Calls) };
  }


  it('maps over the run input, one task per element, output ordered by index', async () => {
    const { client, calls } = await boot(MapRunFlow);
    const run = await client.startRun('map_run', [1, 2, 3, 4]);
    const done = await client.waitForRun(run.runId, { timeoutMs: 10_000 });
    expect(done.output).toEqual({ sum: 30 });
    expect(done.steps.find((s) => s.stepSlug === 'square')).toMatchObject({ totalTasks: 4, output: [1, 4, 9, 16] });
    expect(calls.of('square').map((c) => [c.taskIndex, c.input]).sort()).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
  });

  it('maps over a dependency output', async () => {
    const { client, calls } = await boot(MapDepFlow);
    await expect(client.execute(MapDepFlow, { ids: [7, 8] }, { timeoutMs: 10_000 })).resolves.toEqual({ count: 2 });
    expect(calls.of('load').map((c) => c.input).sort((a, b) => (a as { id: number }).id - (b as { id: number }).id))
      .toEqual([{ id: 7 }, { id: 8 }]);
  });

  it('completes a map over an empty array with [] and cascades without calling the handler', async () => {
    const { client, calls } = await boot(MapDepFlow);
    const run = await client.startRun(MapDepFlow, { ids: [] });
    const done = await client.waitForRun(run.runId, { timeoutMs: 10_000 });
    expect(done.output).toEqual({ count: 0 });
    expect(done.steps.find((s) => s.stepSlug === 'load')).toMatchObject({ status: 'completed', totalTasks: 0, output: [] });
    expect(calls.of('load')).toEqual([]);
  });

  it('completes an empty map over the run input at once', async () => {
    const { client } = await boot(MapRunFlow);
    await expect(client.execute(MapRunFlow, [], { timeoutMs: 10_000 })).resolves.toEqual({ sum: 0 });
  });

  it('runs initialTasks copies of a step with the same input and collects their outputs by index', async () => {
    const { client, calls } = await boot(FanoutFlow);
    await expect(client.execute(FanoutFlow, 'job', { timeoutMs: 10_000 })).resolves.toEqual({
      shard: ['job#0', 'job#1', 'job#2'],
    });
    expect(calls.of('shard').map((c) => c.taskIndex).sort()).toEqual([0, 1, 2]);
    for (const c of calls.of('shard')) expect(c.input).toEqual({ run: 'job' });
  });

  it('holds a step back for its startDelay after it becomes ready', async () => {
    const { client, calls } = await boot(DelayedFlow);
    const run = await client.startRun(DelayedFlow, {});
    await expect(client.waitForRun(run.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({ output: { later: 2 } });
    const [first] = calls.of('first');
    const [later] = calls.of('later');
    expect(later.at - first.at).toBeGreaterThanOrEqual(900);
    const [task] = await query<{ delay: number }>(`select extract(epoch from visible_at - queued_at)::float8 as delay
      from pgflow.step_tasks where run_id = $1 and step_slug = 'later'`, [run.runId]);
    expect(task.delay).toBeCloseTo(1, 1);
  });

  it('uses the slug option instead of the method name', async () => {
    const { client } = await boot(RenamedFlow);
    await expect(client.execute(RenamedFlow, 42, { timeoutMs: 10_000 })).resolves.toEqual({ ship_it: 'ship_it 42' });
    const steps = await query<{ step_slug: string }>(
      `select step_slug from pgflow.steps where flow_slug = 'renamed' order by step_index`);
    expect(steps.map((s) => s.step_slug)).toEqual(['fetch_order', 'ship_it']);
  });
});
