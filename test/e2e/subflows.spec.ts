import { Injectable } from '@nestjs/common';
import { IsInt, IsString, Min } from 'class-validator';
import { lastValueFrom, toArray } from 'rxjs';
import {
  FlowBuilder, PgflowClient, PgflowDefinitionError, PgflowRunFailedError, PgflowValidationError, RunEvent, Step,
  StepContext, Workflow,
} from '../../lib';
import { eventually, useNestApps } from '../support/nest-harness';

/** What the handlers saw, and switches the tests turn. */
@Injectable()
class Probe {
  failScale = new Set<string>();
  readonly aborts: string[] = [];
  leafStarted = 0;
}

class ResizeInput {
  @IsString() url!: string;
  @IsInt() @Min(1) width!: number;
}

@Workflow({ slug: 'resize', input: ResizeInput, maxAttempts: 1 })
class ResizeFlow {
  constructor(private readonly probe: Probe) {}

  @Step()
  fetch(input: { run: ResizeInput }) {
    return { bytes: input.run.url.length };
  }

  @Step()
  scale(input: { run: ResizeInput; fetch: { bytes: number } }) {
    if (this.probe.failScale.has(input.run.url)) throw new Error(`cannot scale ${input.run.url}`);
    return { bytes: input.fetch.bytes * input.run.width };
  }

  @Step()
  store(input: { run: ResizeInput; scale: { bytes: number } }) {
    return { url: `${input.run.url}@${input.run.width}`, bytes: input.scale.bytes };
  }
}

@Workflow({ slug: 'album', maxAttempts: 1 })
class AlbumFlow {
  @Step()
  split(input: { run: { urls: string[]; width: number } }) {
    return input.run.urls.map((url) => ({ url, width: input.run.width }));
  }

  // three attempts allowed: a refused input or a failed child must still end the task at once
  @Step({ dependsOn: ['split'], map: 'split', subflow: ResizeFlow, maxAttempts: 3, baseDelay: 0 })
  resize(image: { url: string; width: number }) {
    return { url: image.url, width: image.width };
  }

  @Step({ dependsOn: ['resize'] })
  collect(input: { resize: Array<{ store: { url: string; bytes: number } }> }) {
    return input.resize.map((r) => r.store.url);
  }
}

/** Three levels: top runs mid (by slug), mid runs leaf, whose handler waits until aborted. */
@Workflow({ slug: 'leaf' })
class LeafFlow {
  constructor(private readonly probe: Probe) {}

  @Step()
  async hang(_input: unknown, ctx: StepContext) {
    this.probe.leafStarted++;
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.probe.aborts.push(ctx.runId);
    return 'aborted';
  }
}

@Workflow({ slug: 'mid' })
class MidFlow {
  @Step({ subflow: LeafFlow, initialTasks: 2 })
  spawn() {
    return {};
  }
}

@Workflow({ slug: 'top' })
class TopFlow {
  @Step({ subflow: 'mid' })
  spawn() {
    return {};
  }
}

/** A child that fails for 'bad' and runs until aborted for 'slow'. */
@Workflow({ slug: 'picky', maxAttempts: 1 })
class PickyFlow {
  @Step()
  async work(input: { run: { kind: string } }, ctx: StepContext) {
    if (input.run.kind === 'bad') throw new Error('bad element');
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    return input.run.kind;
  }
}

@Workflow({ slug: 'picky_parent' })
class PickyParentFlow {
  @Step({ map: 'run', subflow: PickyFlow, whenExhausted: 'skip' })
  each(kind: string) {
    return { kind };
  }

  @Step({ dependsOn: ['each'] })
  after(input: { each?: unknown }) {
    return { skipped: input.each === undefined };
  }
}

@Workflow({ slug: 'cyc_a' })
class CycleA {
  @Step({ subflow: 'cyc_b' })
  go() {
    return {};
  }
}

@Workflow({ slug: 'cyc_b' })
class CycleB {
  @Step({ subflow: CycleA })
  go() {
    return {};
  }
}

@Workflow({ slug: 'orphan' })
class OrphanFlow {
  @Step({ subflow: 'no_such_flow' })
  go() {
    return {};
  }
}

@Workflow({ slug: 'uses_dyn' })
class UsesDynamicFlow {
  @Step({ subflow: 'dyn_child' })
  go() {
    return {};
  }
}

describe('subflows', () => {
  const { createApp, closeApp, query } = useNestApps();
  const flows = [ResizeFlow, AlbumFlow, LeafFlow, MidFlow, TopFlow, PickyFlow, PickyParentFlow];

  async function boot() {
    const app = await createApp({ providers: [Probe, ...flows] });
    return { app, client: app.get(PgflowClient), probe: app.get(Probe) };
  }

  const childCount = async (flow: string) =>
    (await query<{ n: number }>('select count(*)::int as n from pgflow.runs where flow_slug = $1', [flow]))[0].n;

  it('starts one child per map element and aggregates their outputs in element order', async () => {
    const { client } = await boot();
    const run = await client.startRun(AlbumFlow, { urls: ['a', 'bb', 'ccc', 'dddd'], width: 3 });
    const done = await client.waitForRun(run.runId, { timeoutMs: 30_000 });
    expect(done.output).toEqual({ collect: ['a@3', 'bb@3', 'ccc@3', 'dddd@3'] });

    const children = await client.listRuns({ parentRunId: run.runId });
    expect(children).toHaveLength(4);
    expect(children.every((c) => c.parentRunId === run.runId && c.flowSlug === 'resize' && c.status === 'completed'))
      .toBe(true);
    const resize = done.steps.find((s) => s.stepSlug === 'resize');
    // by task index: child i got element i
    const inputs = await Promise.all((resize?.childRunIds ?? []).map(async (id) => (await client.getRun(id))?.input));
    expect(inputs).toEqual(['a', 'bb', 'ccc', 'dddd'].map((url) => ({ url, width: 3 })));
    const tasks = await client.getTasks(run.runId, 'resize');
    expect(tasks.map((t) => t.output)).toEqual(['a', 'bb', 'ccc', 'dddd'].map((url) => ({
      store: { url: `${url}@3`, bytes: url.length * 3 },
    })));
    expect(done.parentRunId).toBeNull();
  });

  it('shows children finishing in watchRun of the parent as the step\'s progress', async () => {
    const { client } = await boot();
    const run = await client.startRun(AlbumFlow, { urls: ['x', 'y', 'z'], width: 2 });
    const events = await lastValueFrom(client.watchRun(run.runId).pipe(toArray()));
    const progress = events.filter((e): e is Extract<RunEvent, { type: 'progress' }> => e.type === 'progress');
    // the last report of each child's task: every child done, n of N counted
    const last = new Map(progress.map((p) => [p.taskIndex, p.value as { status: string; done: number; total: number }]));
    expect([...last.keys()].sort()).toEqual([0, 1, 2]);
    for (const v of last.values()) expect(v).toMatchObject({ status: 'completed', total: 3 });
    expect(Math.max(...[...last.values()].map((v) => v.done))).toBe(3);
    expect(events[events.length - 1]).toMatchObject({ type: 'run', status: 'completed' });
  });

  it('fails the parent task at once, with no child run, when the child DTO refuses the input', async () => {
    const { client } = await boot();
    const run = await client.startRun(AlbumFlow, { urls: ['a'], width: 0 });
    const err = await client.waitForRun(run.runId, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgflowRunFailedError);
    const failed = await client.getRun(run.runId);
    expect(failed?.error).toMatchObject({ stepSlug: 'resize', taskIndex: 0 });
    expect(failed?.error?.message).toContain('input of flow "resize" is invalid: width: width must not be less than 1');
    expect(await client.listRuns({ parentRunId: run.runId })).toEqual([]);
    const [task] = await client.getTasks(run.runId, 'resize');
    expect(task.attempts).toHaveLength(1);
  });

  it('fails the parent when a child fails, naming the child run, and retryRun resumes that child', async () => {
    const { client, probe } = await boot();
    probe.failScale.add('bad');
    const run = await client.startRun(AlbumFlow, { urls: ['ok', 'bad'], width: 1 });
    await client.waitForRun(run.runId, { timeoutMs: 30_000 }).catch(() => undefined);
    const failed = await client.getRun(run.runId);
    const children = await client.listRuns({ parentRunId: run.runId });
    const bad = children.find((c) => (c.input as { url: string }).url === 'bad');
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.message).toBe(`child run ${bad?.runId} of flow "resize" failed: cannot scale bad`);
    expect(bad?.status).toBe('failed');
    // not retried (maxAttempts 3): the handler ran once, no new child per attempt
    const [, badTask] = await client.getTasks(run.runId, 'resize');
    expect(badTask.attempts).toHaveLength(1);

    const before = await childCount('resize');
    probe.failScale.clear();
    await client.retryRun(run.runId);
    const done = await client.waitForRun(run.runId, { timeoutMs: 30_000 });
    expect(done.output).toEqual({ collect: ['ok@1', 'bad@1'] });
    expect(await childCount('resize')).toBe(before);
    expect((await client.getRun(bad?.runId as string))?.status).toBe('completed');
    expect((await client.listRuns({ parentRunId: run.runId })).map((c) => c.runId).sort())
      .toEqual(children.map((c) => c.runId).sort());
  });

  it('cancelRun of the parent cancels its children and grandchildren, aborting their running handlers', async () => {
    const { client, probe } = await boot();
    const run = await client.startRun(TopFlow, {});
    await eventually(async () => probe.leafStarted === 2, 20_000, 'both leaf handlers running');
    const [mid] = await client.listRuns({ parentRunId: run.runId });
    const leaves = await client.listRuns({ parentRunId: mid.runId });
    expect(leaves).toHaveLength(2);

    await client.cancelRun(run.runId);
    await eventually(async () => probe.aborts.length === 2, 10_000, 'leaf handlers aborted');
    expect(probe.aborts.sort()).toEqual(leaves.map((l) => l.runId).sort());
    for (const id of [run.runId, mid.runId, ...leaves.map((l) => l.runId)]) {
      expect((await client.getRun(id))?.status).toBe('cancelled');
    }
    const rows = await query<{ status: string }>(`select t.status from pgflow.step_tasks t where t.run_id = any($1::uuid[])`,
      [[run.runId, mid.runId, ...leaves.map((l) => l.runId)]]);
    expect(rows.every((r) => r.status === 'cancelled')).toBe(true);
  });

  it('cancelling a child directly exhausts its parent task, naming the child, and cancels the child\'s own children', async () => {
    const { client, probe } = await boot();
    const run = await client.startRun(TopFlow, {});
    await eventually(async () => probe.leafStarted === 2, 20_000, 'both leaf handlers running');
    const [mid] = await client.listRuns({ parentRunId: run.runId });
    await client.cancelRun(mid.runId);
    await expect(client.waitForRun(run.runId, { timeoutMs: 15_000 })).rejects.toBeInstanceOf(PgflowRunFailedError);
    const top = await client.getRun(run.runId);
    expect(top?.error).toEqual({ stepSlug: 'spawn', taskIndex: 0, message: `child run ${mid.runId} of flow "mid" was cancelled` });
    await eventually(async () => probe.aborts.length === 2, 10_000, 'leaf handlers aborted');
    const leaves = await client.listRuns({ parentRunId: mid.runId });
    expect(leaves.map((l) => l.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('under whenExhausted skip, a failed child skips the step and cancels its sibling children', async () => {
    const { client } = await boot();
    const run = await client.startRun(PickyParentFlow, ['slow', 'bad']);
    const done = await client.waitForRun(run.runId, { timeoutMs: 20_000 });
    expect(done.output).toEqual({ after: { skipped: true } });
    expect(done.steps.find((s) => s.stepSlug === 'each')?.status).toBe('skipped');
    const children = await client.listRuns({ parentRunId: run.runId });
    const byKind = new Map(children.map((c) => [(c.input as { kind: string }).kind, c.status]));
    expect(Object.fromEntries(byKind)).toEqual({ bad: 'failed', slow: 'cancelled' });
  });

  it('keeps a task waiting for its child with no lease, so lease expiry never reclaims it', async () => {
    const { client, probe } = await boot();
    const run = await client.startRun(TopFlow, {});
    await eventually(async () => probe.leafStarted === 2, 20_000, 'leaf handlers running');
    const rows = await query<{ status: string; lease_expires_at: Date | null }>(
      `select status, lease_expires_at from pgflow.step_tasks where run_id = $1`, [run.runId]);
    expect(rows).toEqual([{ status: 'waiting', lease_expires_at: null }]);
    await client.cancelRun(run.runId);
  });

  it('refuses a subflow cycle at boot, naming the flows', async () => {
    const err = await createApp({ providers: [CycleA, CycleB] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    expect((err as Error).message).toBe('subflow cycle: cyc_a -> cyc_b -> cyc_a');
  });

  it('refuses an unknown subflow slug at boot', async () => {
    const err = await createApp({ providers: [OrphanFlow] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    expect((err as Error).message).toBe('step "orphan.go": subflow "no_such_flow" is not a defined flow');
  });

  it('refuses a subflow pointing at a deprecated flow: at boot, and at start once deprecated later', async () => {
    const setup = await createApp();
    const builder = setup.get(FlowBuilder);
    await builder.createFlow('dyn_child');
    await builder.addStep('dyn_child', 'only');
    await builder.deprecateFlow('dyn_child');
    await closeApp(setup);

    const err = await createApp({ providers: [UsesDynamicFlow] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    expect((err as Error).message).toBe('step "uses_dyn.go": subflow "dyn_child" is deprecated and accepts no new runs');

    const retry = await createApp();
    await retry.get(FlowBuilder).deprecateFlow('dyn_child', false);
    await closeApp(retry);
    const app = await createApp({ providers: [UsesDynamicFlow] });
    await app.get(FlowBuilder).deprecateFlow('dyn_child');
    const started = await app.get(PgflowClient).startRun(UsesDynamicFlow, {}).catch((e: Error) => e);
    expect(started).toBeInstanceOf(PgflowValidationError);
    expect((started as Error).message)
      .toBe('flow "uses_dyn" runs subflow "dyn_child", which is deprecated and accepts no new runs');
    expect(await childCount('uses_dyn')).toBe(0);
  });
});
