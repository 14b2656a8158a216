import { useWorkerProcesses } from './process-harness';

// Leases that renew (worker.leaseSeconds): a claimed task is leased for leaseSeconds,
// and its worker's heartbeat renews the lease while the handler runs. The `long`
// fixture step has a 600 s timeout: before, its lease was the timeout + 5 s.
describe('leases renewed by the heartbeat', () => {
  const { spawn, until, query } = useWorkerProcesses();
  const LEASE_SECONDS = 3;
  const POLL_INTERVAL_MS = 500;

  async function startLong(n: number): Promise<string> {
    const [{ run_id }] = await query<{ run_id: string }>(
      `select run_id from pgflow.start_flow('long', jsonb_build_object('n', $1::int))`, [n]);
    return run_id;
  }
  const executions = (runId: string) => query<{ worker: string; attempt: number }>(
    `select worker, attempt from executions where run_id = $1 order by seq, worker`, [runId]);
  const task = async (runId: string) => (await query<{ status: string; attempts_count: number; error_message: string | null;
    claimed_by: string }>(`select status, attempts_count, error_message, claimed_by from pgflow.step_tasks
      where run_id = $1`, [runId]))[0];
  const output = async (runId: string) => (await query<{ status: string; output: { work: { by: string } } | null }>(
    `select status, output from pgflow.runs where run_id = $1`, [runId]))[0];

  it('a SIGKILLed worker\'s task with timeout 600 runs elsewhere within about leaseSeconds', async () => {
    const env = { FLOWS: 'long', LEASE_SECONDS, POLL_INTERVAL_MS };
    const a = spawn('lease-kill-a', { ...env, HANDLER_DELAY_MS: 600_000 });
    await a.ready();
    const runId = await startLong(1);
    await until(async () => (await executions(runId)).length === 1, 30_000, 'A running the long step');
    const b = spawn('lease-kill-b', { ...env, HANDLER_DELAY_MS: 0 });
    await b.ready();

    expect(await a.stop('SIGKILL')).toBeNull();
    const killedAt = Date.now();
    await until(async () => (await output(runId)).status === 'completed', 60_000, 'B completing the run');
    const elapsed = Date.now() - killedAt;
    // the lease (3 s, renewed up to the kill) + B's poll; nowhere near the 600 s timeout
    expect(elapsed).toBeLessThan((LEASE_SECONDS + 1) * 1000 + POLL_INTERVAL_MS + 5000);
    expect((await output(runId)).output).toEqual({ work: { n: 1, by: 'lease-kill-b' } });
    expect(await executions(runId)).toEqual([
      { worker: 'lease-kill-a', attempt: 1 }, { worker: 'lease-kill-b', attempt: 2 },
    ]);
    expect(await task(runId)).toMatchObject({ status: 'completed', attempts_count: 2, error_message: expect.stringMatching(/lease expired/) });
    console.log(`[leases] SIGKILL of a worker running a 600 s-timeout step: reclaimed and completed by another ` +
      `worker ${elapsed} ms later (leaseSeconds ${LEASE_SECONDS}, poll ${POLL_INTERVAL_MS} ms)`);
  }, 120_000);

  it('a handler running three times leaseSeconds is never reclaimed while its worker lives', async () => {
    const env = { FLOWS: 'long', LEASE_SECONDS, POLL_INTERVAL_MS };
    const a = spawn('lease-live-a', { ...env, HANDLER_DELAY_MS: 3 * LEASE_SECONDS * 1000 });
    await a.ready();
    const runId = await startLong(2);
    await until(async () => (await executions(runId)).length === 1, 30_000, 'A running the long step');
    // a second worker polls all along: it would reclaim an expired lease
    const b = spawn('lease-live-b', { ...env, HANDLER_DELAY_MS: 0 });
    await b.ready();
    await until(async () => (await output(runId)).status === 'completed', 60_000, 'A completing the run');
    expect((await output(runId)).output).toEqual({ work: { n: 2, by: 'lease-live-a' } });
    expect(await executions(runId)).toEqual([{ worker: 'lease-live-a', attempt: 1 }]);
    expect(await task(runId)).toMatchObject({ status: 'completed', attempts_count: 1, error_message: null });
    expect(a.lines(/WORK-ABORTED/)).toEqual([]);
  }, 120_000);

  it('a worker that cannot renew (stopped longer than a lease) loses its task and its result does not count', async () => {
    const env = { FLOWS: 'long', LEASE_SECONDS, POLL_INTERVAL_MS };
    const a = spawn('lease-stop-a', { ...env, HANDLER_DELAY_MS: 60_000 });
    await a.ready();
    const runId = await startLong(3);
    await until(async () => (await executions(runId)).length === 1, 30_000, 'A running the long step');
    const b = spawn('lease-stop-b', { ...env, HANDLER_DELAY_MS: 0 });
    await b.ready();

    // SIGSTOP: A's connections stay open, but it renews nothing until SIGCONT
    a.child.kill('SIGSTOP');
    try {
      await until(async () => (await output(runId)).status === 'completed', 60_000, 'B completing the run');
    } finally {
      a.child.kill('SIGCONT');
    }
    // back, A's heartbeat finds the task no longer its own and aborts the handler
    await a.child.waitFor(/^WORK-ABORTED .*(taken over|lost its lease)/m, 30_000);
    expect((await output(runId)).output).toEqual({ work: { n: 3, by: 'lease-stop-b' } });
    expect(await task(runId)).toMatchObject({ status: 'completed', attempts_count: 2, claimed_by: 'lease-stop-b' });
    expect(await executions(runId)).toEqual([
      { worker: 'lease-stop-a', attempt: 1 }, { worker: 'lease-stop-b', attempt: 2 },
    ]);
  }, 120_000);
});
