import { randomUUID } from 'crypto';
import {
  NonRetryableError, PgflowClient, PgflowRunFailedError, PgflowUnknownFlowError, PgflowValidationError, PgflowWorker,
  Step, Workflow,
} from '../../lib';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { useNestApps } from '../support/nest-harness';

@Workflow({ slug: 'greet' })
class GreetFlow {
  @Step()
  hello(input: { run: { name: string } }) {
    return `hello ${input.run.name}`;
  }
}

@Workflow({ slug: 'refuse', maxAttempts: 1 })
class RefuseFlow {
  @Step()
  no() {
    throw new NonRetryableError('refused');
  }
}

class NotAWorkflow {}

describe('PgflowClient', () => {
  const { createApp, closeApp, query } = useNestApps();

  async function boot() {
    const app = await createApp({ providers: [GreetFlow, RefuseFlow] });
    return { app, client: app.get(PgflowClient) };
  }

  async function runCount(): Promise<number> {
    return (await query<{ n: number }>('select count(*)::int as n from pgflow.runs'))[0].n;
  }

  it('starts runs by slug and by class and executes them to their output', async () => {
    const { client } = await boot();
    const bySlug = await client.startRun('greet', { name: 'ada' });
    expect(bySlug).toMatchObject({ flowSlug: 'greet', input: { name: 'ada' }, output: null, error: null });
    expect(['started', 'completed']).toContain(bySlug.status);
    expect(bySlug.steps.map((s) => s.stepSlug)).toEqual(['hello']);
    const byClass = await client.startRun(GreetFlow, { name: 'bob' });
    expect(byClass.flowSlug).toBe('greet');
    expect(byClass.runId).not.toBe(bySlug.runId);
    await expect(client.waitForRun(byClass.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
      status: 'completed', output: { hello: 'hello bob' }, progress: { totalSteps: 1, completedSteps: 1, percentage: 100 },
    });
    await expect(client.execute(GreetFlow, { name: 'cy' }, { timeoutMs: 10_000 })).resolves.toEqual({ hello: 'hello cy' });
  });

  it('rejects an unknown flow and writes nothing', async () => {
    const { client } = await boot();
    const before = await runCount();
    await expect(client.startRun('no_such_flow', {})).rejects.toBeInstanceOf(PgflowUnknownFlowError);
    await expect(client.startRun('no_such_flow', {})).rejects.toThrow('unknown flow "no_such_flow"');
    await expect(client.startRun(NotAWorkflow, {})).rejects.toBeInstanceOf(PgflowUnknownFlowError);
    expect(await runCount()).toBe(before);
  });

  it('returns null for an unknown run and rejects a malformed run id', async () => {
    const { client } = await boot();
    await expect(client.getRun(randomUUID())).resolves.toBeNull();
    await expect(client.getRun('not-a-uuid')).rejects.toBeInstanceOf(PgflowValidationError);
    await expect(client.getRun('not-a-uuid')).rejects.toThrow('invalid run id "not-a-uuid": expected a uuid');
  });

  it('lists runs newest first, filtered by flow, status, limit and creation time', async () => {
    const { client } = await boot();
    const ok: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      const run = await client.startRun('greet', { name });
      await client.waitForRun(run.runId, { timeoutMs: 10_000 });
      ok.unshift(run.runId);
    }
    const bad = await client.startRun(RefuseFlow, {});
    await expect(client.waitForRun(bad.runId, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(PgflowRunFailedError);

    const greet = await client.listRuns({ flowSlug: 'greet' });
    expect(greet.map((r) => r.runId).slice(0, 3)).toEqual(ok);
    expect(greet.every((r) => r.flowSlug === 'greet')).toBe(true);
    const failed = await client.listRuns({ status: 'failed' });
    expect(failed.map((r) => r.runId)).toContain(bad.runId);
    expect(failed.every((r) => r.status === 'failed')).toBe(true);
    expect(await client.listRuns({ flowSlug: 'greet', status: 'failed' })).toEqual([]);
    expect((await client.listRuns({ limit: 2 })).map((r) => r.runId)).toEqual([bad.runId, ok[0]]);
    const middle = (await client.getRun(ok[1]))?.createdAt as Date;
    const older = await client.listRuns({ flowSlug: 'greet', before: middle });
    expect(older.map((r) => r.runId)).toContain(ok[2]);
    expect(older.map((r) => r.runId)).not.toContain(ok[1]);
    expect(older.map((r) => r.runId)).not.toContain(ok[0]);
  });

  it('lists this worker online with its flows, and stopped after close', async () => {
    const { app, client } = await boot();
    const workerId = app.get(PgflowWorker).workerId;
    const mine = (await client.listWorkers()).find((w) => w.workerId === workerId);
    expect(mine).toMatchObject({ status: 'online' });
    expect(mine?.flows.sort()).toEqual(['greet', 'refuse']);
    expect(mine?.lastHeartbeatAt.getTime()).toBeGreaterThanOrEqual(mine?.startedAt.getTime() ?? Infinity);

    await closeApp(app);
    const observer = await createApp({ worker: { enabled: false } });
    const after = (await observer.get(PgflowClient).listWorkers()).find((w) => w.workerId === workerId);
    expect(after?.status).toBe('stopped');
    expect((await observer.get(PgflowClient).listWorkers()).map((w) => w.workerId))
      .not.toContain(observer.get(PgflowWorker).workerId);
  });

  it('starts a run inside the caller\'s transaction: gone on rollback, run on commit', async () => {
    const { app, client } = await boot();
    const { dataSource } = app.get(PgflowDatabase);

    let rolledBack: string | undefined;
    await expect(dataSource.transaction(async (manager) => {
      rolledBack = (await client.startRun('greet', { name: 'ghost' }, { manager })).runId;
      throw new Error('abort the business transaction');
    })).rejects.toThrow('abort the business transaction');
    expect(rolledBack).toBeDefined();
    await expect(client.getRun(rolledBack as string)).resolves.toBeNull();

    const committed = await dataSource.transaction(async (manager) => {
      const run = await client.startRun('greet', { name: 'real' }, { manager });
      // not visible outside the transaction until it commits
      await expect(client.getRun(run.runId)).resolves.toBeNull();
      return run.runId;
    });
    await expect(client.waitForRun(committed, { timeoutMs: 10_000 })).resolves.toMatchObject({
      status: 'completed', output: { hello: 'hello real' },
    });
  });
});
