import { Injectable } from '@nestjs/common';
import { filter, firstValueFrom } from 'rxjs';
import { PgflowClient, Step, Workflow } from '../../lib';
import { NotifyListener } from '../../lib/db/notify.listener';
import { eventually, useNestApps } from '../support/nest-harness';

/** Counts handler calls per run. */
@Injectable()
class Calls {
  readonly runs: string[] = [];
}

@Workflow({ slug: 'race' })
class RaceFlow {
  constructor(private readonly calls: Calls) {}

  @Step()
  work(_: unknown, ctx: { runId: string }) {
    this.calls.runs.push(ctx.runId);
    return 'done';
  }
}

// A claim answered just before a cancel commits hands the worker a task of a run it
// has already heard end. The race is too narrow to hit on purpose, so the test builds
// its outcome: the run is cancelled (and the worker hears it), then its task is put
// back in the queue as if that claim had taken it a moment earlier.
describe('a task of a run cancelled while its claim was in flight', () => {
  const { createApp, query } = useNestApps();

  it('is not handed to its handler; a run resumed meanwhile still is', async () => {
    const app = await createApp({ providers: [Calls, RaceFlow] });
    const client = app.get(PgflowClient);
    const calls = app.get(Calls);
    const listener = app.get(NotifyListener);

    const run = await client.startRun(RaceFlow, {}, { startAt: new Date(Date.now() + 3_600_000) });
    const heard = firstValueFrom(listener.control$.pipe(filter((s) => s.runId === run.runId && s.status === 'cancelled')));
    await client.cancelRun(run.runId);
    await heard;

    await query(`update pgflow.step_tasks set status = 'queued', visible_at = now() where run_id = $1`, [run.runId]);
    await query(`select pg_notify('pgflow_tasks', 'race')`);
    await eventually(async () => (await query<{ status: string }>(
      'select status from pgflow.step_tasks where run_id = $1', [run.runId]))[0].status === 'started', 10_000, 'the claim');

    // a full claim → handler → report cycle of another run outlasts the check of the raced one
    await expect(client.execute(RaceFlow, {}, { timeoutMs: 10_000 })).resolves.toEqual({ work: 'done' });
    expect(calls.runs).not.toContain(run.runId);
    expect(calls.runs).toHaveLength(1);

    // the same race for a run that retryRun resumed before the claim: the check finds it live
    const resumed = await client.startRun(RaceFlow, {}, { startAt: new Date(Date.now() + 3_600_000) });
    const heardToo = firstValueFrom(listener.control$.pipe(
      filter((s) => s.runId === resumed.runId && s.status === 'cancelled')));
    await client.cancelRun(resumed.runId);
    await heardToo;
    // resumed without its NOTIFY reaching this worker: the state retry_run leaves behind
    await query(`update pgflow.runs set status = 'started', cancelled_at = null where run_id = $1`, [resumed.runId]);
    await query(`update pgflow.step_states set status = 'started' where run_id = $1`, [resumed.runId]);
    await query(`update pgflow.step_tasks set status = 'queued', visible_at = now() where run_id = $1`, [resumed.runId]);
    await query(`select pg_notify('pgflow_tasks', 'race')`);
    await expect(client.waitForRun(resumed.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
      status: 'completed', output: { work: 'done' },
    });
    expect(calls.runs).toContain(resumed.runId);
  });
});
