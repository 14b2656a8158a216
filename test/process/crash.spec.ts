import { crashySum } from './worker-fixture/expected';
import { useWorkerProcesses } from './process-harness';

// Scenario: a worker is SIGKILLed while its handlers run. Nothing may be lost: once
// the leases (the fixture's leaseSeconds, 8 s) expire, another worker reclaims the tasks, the
// killed attempt is counted and recorded, and every run completes.
describe('a worker killed mid-task', () => {
  const { spawn, until, query } = useWorkerProcesses();
  const STEP_TIMEOUT = 3; // s; the fixture's leaseSeconds is 8. Long enough to SIGKILL the worker before its own timeout fires.
  const RUNS = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]];
  const TASKS = RUNS.reduce((a, r) => a + r.length, 0);

  it('loses nothing: leases expire, another worker reclaims, attempts are counted honestly', async () => {
    const a = spawn('crash-a', { BEHAVIOR: 'hang', STEP_TIMEOUT, MAX_CONCURRENCY: 20, BATCH_SIZE: 20 });
    await a.ready();
    const runIds: string[] = [];
    for (const xs of RUNS) {
      const [{ run_id }] = await query<{ run_id: string }>(
        `select run_id from pgflow.start_flow('crashy', $1::jsonb)`, [JSON.stringify(xs)]);
      runIds.push(run_id);
    }

    // every `hold` task is running in A (recorded, never finishing)
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(
        `select count(*)::int n from executions where worker = 'crash-a' and step = 'hold'`);
      return n === TASKS;
    }, 20_000, `A running all ${TASKS} hold tasks`);
    expect(await a.stop('SIGKILL')).toBeNull();

    const held = await query<{ status: string; attempts_count: number; claimed_by: string; lease_expires_at: Date }>(
      `select status, attempts_count, claimed_by, lease_expires_at from pgflow.step_tasks where step_slug = 'hold'`);
    expect(held).toHaveLength(TASKS);
    // A was killed before its own 3 s timeout could fail any attempt
    for (const t of held) expect(t).toMatchObject({ status: 'started', attempts_count: 1, claimed_by: 'crash-a' });
    const leaseEnd = Math.max(...held.map((t) => t.lease_expires_at.getTime()));

    const b = spawn('crash-b', { STEP_TIMEOUT });
    await b.ready();
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(`select count(*)::int n from pgflow.runs where status = 'completed'`);
      return n === RUNS.length;
    }, 40_000, 'every run completed by B');

    const runs = await query<{ run_id: string; output: { sum: number } }>(`select run_id, output from pgflow.runs`);
    for (const [i, id] of runIds.entries()) {
      expect(runs.find((r) => r.run_id === id)?.output).toEqual({ sum: crashySum(RUNS[i]) });
    }
    expect(await query(`select * from pgflow.step_tasks where status <> 'completed'`)).toEqual([]);

    // the killed attempt counts: attempt 1 (A, lease expired) + attempt 2 (B)
    const tasks = await query<{ attempts_count: number; claimed_by: string; error_message: string }>(
      `select attempts_count, claimed_by, error_message from pgflow.step_tasks where step_slug = 'hold'`);
    for (const t of tasks) {
      expect(t).toMatchObject({ attempts_count: 2, claimed_by: 'crash-b' });
      expect(t.error_message).toMatch(/lease expired/);
    }

    // executions: each hold task ran exactly twice (A killed, then B), B only after A's lease ran out
    const perTask = await query<{ workers: string; attempts: string; first_b: Date }>(
      `select string_agg(worker, ',' order by attempt) workers, string_agg(attempt::text, ',' order by attempt) attempts,
              min(at) filter (where worker = 'crash-b') first_b
         from executions where step = 'hold' group by run_id, idx`);
    expect(perTask).toHaveLength(TASKS);
    for (const t of perTask) {
      expect(t).toMatchObject({ workers: 'crash-a,crash-b', attempts: '1,2' });
      expect(t.first_b.getTime()).toBeGreaterThanOrEqual(leaseEnd - 50);
    }
    // nothing else ran twice
    expect(await query(`select step, run_id, idx from executions where step <> 'hold'
                          group by step, run_id, idx having count(*) > 1`)).toEqual([]);
    const [{ dup }] = await query<{ dup: number }>(
      `select (count(*) - count(distinct (run_id, step, idx)))::int dup from executions`);
    console.log(`[crash] ${TASKS} tasks killed mid-handler, reclaimed after lease expiry; ` +
      `duplicate executions observed: ${dup} (all from the kill)`);
    expect(dup).toBe(TASKS);
  }, 120_000);
});
