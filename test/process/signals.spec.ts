import { PgflowClient } from '../../lib';
import { Child, startChild } from '../support/child';
import { eventually, useNestApps } from '../support/nest-harness';

const WORKER = 'test/process/fixtures/signal-worker.ts';
const CLIENT = 'test/process/fixtures/signal-client.ts';

/**
 * Signals across processes: a client-only process releases a wait that a worker
 * process executes, and waits survive every worker being killed.
 */
describe('signal steps across processes', () => {
  const { db, createApp, query } = useNestApps();
  const children = new Set<Child>();
  const spawn = (fixture: string, env: Record<string, string> = {}) => {
    const child = startChild(fixture, { DATABASE_URL: db().url, ...env });
    children.add(child);
    return child;
  };

  afterEach(async () => {
    for (const child of children) {
      child.kill('SIGKILL');
      await child.exited();
    }
    children.clear();
  });

  async function clientApp(): Promise<PgflowClient> {
    // this process has no handler for `delivery`: it only starts and inspects runs
    return (await createApp({ worker: { enabled: false } })).get(PgflowClient);
  }
  const waiting = async (runIds: string[]) => (await query<{ n: number }>(
    `select count(*)::int as n from pgflow.step_states
      where run_id = any($1::uuid[]) and step_slug = 'delivered' and status = 'waiting'`, [runIds]))[0].n === runIds.length;

  it('a signal sent from a client-only process releases a step run by a worker process, through NOTIFY', async () => {
    const worker = spawn(WORKER, { WORKER_ID: 'sig-worker-1', POLL_MS: '30000' });
    await worker.waitFor(/READY/, 60_000);
    const client = await clientApp();
    const run = await client.startRun('delivery', { order: 1 });
    await eventually(() => waiting([run.runId]), 20_000, 'the step to wait');

    const sender = spawn(CLIENT, { RUN_IDS: run.runId });
    const [, signalId, created] = await sender.waitFor(new RegExp(`SENT ${run.runId} (\\S+) (true|false)`), 60_000);
    const sentAt = Date.now();
    expect({ signalId, created }).toEqual({ signalId: `webhook-${run.runId}`, created: 'true' });
    expect(await sender.exited()).toBe(0);

    const [, payload] = await worker.waitFor(new RegExp(`RELEASED ${run.runId} (.*)`), 15_000);
    // far below the worker's 30 s poll: NOTIFY brought the task
    expect(Date.now() - sentAt).toBeLessThan(10_000);
    expect(JSON.parse(payload)).toMatchObject({ signedBy: 'client process' });
    await expect(client.waitForRun(run.runId, { timeoutMs: 15_000 })).resolves.toMatchObject({
      status: 'completed', output: { delivered: { parcel: 'P1', proof: { signedBy: 'client process' } } },
    });
  });

  it('every worker SIGKILLed while runs wait, signals sent, a new worker started: every run finishes', async () => {
    const first = [spawn(WORKER, { WORKER_ID: 'sig-a', POLL_MS: '500' }), spawn(WORKER, { WORKER_ID: 'sig-b', POLL_MS: '500' })];
    await Promise.all(first.map((w) => w.waitFor(/READY/, 60_000)));
    const client = await clientApp();
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => client.startRun('delivery', { order: i })));
    const ids = runs.map((r) => r.runId);
    await eventually(() => waiting(ids), 30_000, 'all 20 runs to wait');
    // waiting holds nothing: no task of the signal step exists, none is leased
    expect(await query(`select count(*)::int as n from pgflow.step_tasks where step_slug = 'delivered' and run_id = any($1::uuid[])`,
      [ids])).toEqual([{ n: 0 }]);

    for (const w of first) w.kill('SIGKILL');
    expect(await Promise.all(first.map((w) => w.exited()))).toEqual([null, null]);

    for (const runId of ids) await client.signal(runId, 'delivered', { runId });
    expect(await query(`select count(*)::int as n from pgflow.step_tasks
                          where step_slug = 'delivered' and status = 'queued' and run_id = any($1::uuid[])`, [ids]))
      .toEqual([{ n: 20 }]);

    const fresh = spawn(WORKER, { WORKER_ID: 'sig-c', POLL_MS: '500' });
    await fresh.waitFor(/READY/, 60_000);
    const done = await Promise.all(ids.map((runId) => client.waitForRun(runId, { timeoutMs: 60_000 })));
    done.forEach((run, i) => expect(run.output).toEqual({ delivered: { parcel: `P${i}`, proof: { runId: ids[i] } } }));
    expect(await query(`select distinct claimed_by from pgflow.step_tasks where step_slug = 'delivered' and run_id = any($1::uuid[])`,
      [ids])).toEqual([{ claimed_by: 'sig-c' }]);
  });
});
