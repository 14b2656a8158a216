import { Injectable } from '@nestjs/common';
import { TestingModule } from '@nestjs/testing';
import { PgflowClient, PgflowValidationError, Step, Workflow } from '../../lib';
import { eventually, useNestApps, appSql } from '../support/nest-harness';

/** Holds `kept` runs until released, so they stay started. */
@Injectable()
class Gate {
  open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
}

@Workflow({ slug: 'kept' })
class KeptFlow {
  constructor(private readonly gate: Gate) {}

  @Step()
  async wait() {
    await this.gate.opened;
    return 'released';
  }
}

@Workflow({ slug: 'fleeting' })
class FleetingFlow {
  @Step()
  only() {
    return 'done';
  }
}

describe('pruneRuns and the retention option', () => {
  const { createApp } = useNestApps();

  async function counts(app: TestingModule): Promise<{ runs: number; states: number; tasks: number }> {
    const [row] = await appSql(app).query<{ runs: number; states: number; tasks: number }>(
      `select (select count(*)::int from pgflow.runs) as runs, (select count(*)::int from pgflow.step_states) as states,
              (select count(*)::int from pgflow.step_tasks) as tasks`);
    return row;
  }

  it('deletes only finished runs that ended before olderThan, with their states and tasks, across batches', async () => {
    const app = await createApp({ providers: [Gate, FleetingFlow] });
    const client = app.get(PgflowClient);
    const db = appSql(app);
    // 5,200 finished runs, more than one batch (PRUNE_BATCH_SIZE 5,000): scheduled far ahead, then cancelled
    await db.query(`select pgflow.start_flow('fleeting', '{}'::jsonb, null, null, 0, now() + interval '1 hour')
                      from generate_series(1, 5200)`);
    await db.query(`select pgflow.cancel_run(run_id) from pgflow.runs where status = 'queued'`);
    const completed = await client.execute(FleetingFlow, {}, { timeoutMs: 10_000 });
    expect(completed).toEqual({ only: 'done' });
    const queued = await client.startRun(FleetingFlow, {}, { startAt: new Date(Date.now() + 3_600_000) });
    expect(await counts(app)).toEqual({ runs: 5202, states: 5202, tasks: 5202 });

    // nothing had finished an hour ago
    await expect(client.pruneRuns({ olderThan: new Date(Date.now() - 3_600_000) })).resolves.toBe(0);
    const [{ cutoff }] = await db.query<{ cutoff: Date }>('select now() + interval \'1 second\' as cutoff');
    await expect(client.pruneRuns({ olderThan: cutoff })).resolves.toBe(5201);
    expect(await counts(app)).toEqual({ runs: 1, states: 1, tasks: 1 });
    expect(await client.getRun(queued.runId)).toMatchObject({ status: 'queued' });
    await expect(client.pruneRuns({ olderThan: cutoff })).resolves.toBe(0);
  });

  it('prunes while the worker completes runs: only finished runs go, each once, and none leaves rows behind', async () => {
    const app = await createApp({ providers: [Gate, FleetingFlow] });
    const client = app.get(PgflowClient);
    const db = appSql(app);
    const before = await counts(app);
    const [{ started }] = await db.query<{ started: number }>(
      `select count(pgflow.start_flow('fleeting', '{}'::jsonb))::int as started from generate_series(1, 400)`);
    let pruned = 0;
    // every run that has finished by now is old enough: the sweep races the completions
    for (const deadline = Date.now() + 30_000; pruned < started && Date.now() < deadline;) {
      pruned += await client.pruneRuns({ olderThan: new Date(Date.now() + 60_000) });
    }
    expect(pruned).toBe(started);
    expect(await counts(app)).toEqual(before);
  });

  it('never deletes a started run, however old', async () => {
    const app = await createApp({ providers: [Gate, KeptFlow] });
    const client = app.get(PgflowClient);
    const held = await client.startRun(KeptFlow, {});
    await expect(client.pruneRuns({ olderThan: new Date(Date.now() + 3_600_000) })).resolves.toBe(0);
    expect(await client.getRun(held.runId)).toMatchObject({ status: 'started' });
    app.get(Gate).open();
  });

  it('rejects an olderThan that is not a valid Date', async () => {
    const app = await createApp();
    const client = app.get(PgflowClient);
    await expect(client.pruneRuns({ olderThan: new Date('soon') })).rejects.toBeInstanceOf(PgflowValidationError);
    await expect(client.pruneRuns({ olderThan: '2024-01-01' as unknown as Date }))
      .rejects.toThrow('pruneRuns: olderThan must be a valid Date');
  });

  it('retention prunes finished runs periodically once they are old enough, and leaves running ones', async () => {
    const app = await createApp({
      providers: [Gate, KeptFlow, FleetingFlow],
      pgflow: { retention: { olderThanSeconds: 2, intervalMs: 200 } },
    });
    const client = app.get(PgflowClient);
    const held = await client.startRun(KeptFlow, {});
    const done = await client.startRun(FleetingFlow, {});
    const finished = await client.waitForRun(done.runId, { timeoutMs: 10_000 });
    // still within its two seconds
    expect(await client.getRun(done.runId)).toEqual(finished);

    await eventually(async () => (await client.getRun(done.runId)) === null, 10_000, 'the finished run to be pruned');
    const pruned = Date.now();
    expect(pruned - (finished.completedAt?.getTime() ?? 0)).toBeGreaterThanOrEqual(2000);
    expect(await client.getRun(held.runId)).toMatchObject({ status: 'started' });
    app.get(Gate).open();
  });

  it('fails the boot on retention settings that cannot work', async () => {
    const boot = (retention: object) => createApp({ pgflow: { retention: retention as { olderThanSeconds: number } } })
      .then(() => undefined, (e: Error) => e);
    const zero = await boot({ olderThanSeconds: 0 });
    expect(zero).toBeInstanceOf(PgflowValidationError);
    expect(zero?.message).toBe('retention.olderThanSeconds must be a positive number of seconds (got 0)');
    expect((await boot({ olderThanSeconds: 60, intervalMs: -5 }))?.message)
      .toBe('retention.intervalMs must be a positive integer (got -5)');
  });
});
