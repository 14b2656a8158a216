import { FlowBuilder, PgflowClient } from '../../lib';
import { Child, startChild } from '../support/child';
import { useNestApps, appSql } from '../support/nest-harness';

describe('dynamic flow whose handlers live in another process', () => {
  const { db, createApp } = useNestApps();
  let child: Child | undefined;

  afterEach(async () => {
    child?.kill();
    await child?.exited();
  });

  it('stays queued where no handler exists and runs in the process that registered them', async () => {
    const app = await createApp();
    const builder = app.get(FlowBuilder);
    await builder.createFlow('dynamic');
    await builder.addStep('dynamic', 'multiples', []);
    await builder.addStep('dynamic', 'square', ['multiples'], { map: 'multiples' });
    await builder.addStep('dynamic', 'sum', ['square']);

    const client = app.get(PgflowClient);
    const query = appSql(app);
    const run = await client.startRun('dynamic', { n: 2 });
    // Give this app's worker (no handlers) several poll intervals in which a wrong
    // claim would happen, then check nothing was touched.
    await new Promise((r) => setTimeout(r, 700));
    const before = await query.query<{ status: string; attempts_count: number }>(
      'select status, attempts_count from pgflow.step_tasks where run_id = $1', [run.runId]);
    expect(before).toEqual([{ status: 'queued', attempts_count: 0 }]);
    expect((await client.listRuns({ flowSlug: 'dynamic' }))[0]).toMatchObject({ runId: run.runId, status: 'started' });

    child = startChild('test/process/fixtures/dynamic-worker.ts', { DATABASE_URL: db().url, FLOW: 'dynamic' });
    const [, childWorker] = await child.waitFor(/READY (\S+)/);
    const done = await client.waitForRun(run.runId, { timeoutMs: 20_000 });
    expect(done.output).toEqual({ sum: 4 + 16 + 36 });

    const claimers = await query.query<{ claimed_by: string }>(
      'select distinct claimed_by from pgflow.step_tasks where run_id = $1', [run.runId]);
    expect(claimers).toEqual([{ claimed_by: childWorker }]);
  });
});
