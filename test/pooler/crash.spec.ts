import { crashySum } from '../process/worker-fixture/expected';
import { POLLING_WARNING, until, usePooledDatabase } from './pooler-harness';

// The process tests' crash scenario, every worker connected through PgBouncer in
// transaction mode: a worker SIGKILLed while its handlers run loses nothing; once the
// leases expire another worker reclaims the tasks.
describe('a worker behind PgBouncer killed mid-task', () => {
  const { spawnWorker, query } = usePooledDatabase();
  const STEP_TIMEOUT = 3; // s; the fixture's leaseSeconds is 8
  const RUNS = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]];
  const TASKS = RUNS.reduce((a, r) => a + r.length, 0);

  beforeAll(async () => {
    // written by the fixture's recorder: one row per handler execution
    await query(`create table executions (
      run_id uuid not null, step text not null, idx int not null, attempt int not null,
      worker text not null, seq int not null, at timestamptz not null default clock_timestamp(),
      unique (worker, seq))`);
  });

  it('is reclaimed by another worker after its leases expire; nothing is lost or run twice otherwise', async () => {
    // A with the default preparedStatements (falls back when refused), B with them off
    const a = spawnWorker('pooled-a', { BEHAVIOR: 'hang', STEP_TIMEOUT, MAX_CONCURRENCY: 20, BATCH_SIZE: 20 });
    await a.waitFor(/^READY /m, 60_000);
    const runIds: string[] = [];
    for (const xs of RUNS) {
      const [{ run_id }] = await query<{ run_id: string }>(
        `select run_id from pgflow.start_flow('crashy', $1::jsonb)`, [JSON.stringify(xs)]);
      runIds.push(run_id);
    }
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(
        `select count(*)::int n from executions where worker = 'pooled-a' and step = 'hold'`);
      return n === TASKS;
    }, 30_000, `A running all ${TASKS} hold tasks`);
    a.kill('SIGKILL');
    expect(await a.exited()).toBeNull();

    const held = await query<{ status: string; claimed_by: string; lease_expires_at: Date; run_id: string; task_index: number }>(
      `select status, claimed_by, lease_expires_at, run_id, task_index from pgflow.step_tasks where step_slug = 'hold'`);
    expect(held).toHaveLength(TASKS);
    for (const t of held) expect(t).toMatchObject({ status: 'started', claimed_by: 'pooled-a' });
    // each task's own lease: a heartbeat passes over rows locked at that moment, so leases
    // of one worker can end up to a heartbeat apart
    const leaseEnd = new Map(held.map((t) => [`${t.run_id}:${t.task_index}`, t.lease_expires_at.getTime()]));

    const b = spawnWorker('pooled-b', { STEP_TIMEOUT, PREPARED_STATEMENTS: 'false' });
    await b.waitFor(/^READY /m, 60_000);
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(`select count(*)::int n from pgflow.runs where status = 'completed'`);
      return n === RUNS.length;
    }, 60_000, 'every run completed by B');

    const runs = await query<{ run_id: string; output: { sum: number } }>(`select run_id, output from pgflow.runs`);
    for (const [i, id] of runIds.entries()) {
      expect(runs.find((r) => r.run_id === id)?.output).toEqual({ sum: crashySum(RUNS[i]) });
    }
    const tasks = await query<{ attempts_count: number; claimed_by: string; error_message: string }>(
      `select attempts_count, claimed_by, error_message from pgflow.step_tasks where step_slug = 'hold'`);
    for (const t of tasks) {
      expect(t).toMatchObject({ attempts_count: 2, claimed_by: 'pooled-b' });
      expect(t.error_message).toMatch(/lease expired/);
    }
    // each hold task ran twice (A killed, then B after A's lease), everything else once
    const perTask = await query<{ workers: string; first_b: Date; run_id: string; idx: number }>(
      `select run_id, idx, string_agg(worker, ',' order by attempt) workers, min(at) filter (where worker = 'pooled-b') first_b
         from executions where step = 'hold' group by run_id, idx`);
    expect(perTask).toHaveLength(TASKS);
    for (const t of perTask) {
      expect(t.workers).toBe('pooled-a,pooled-b');
      expect(t.first_b.getTime()).toBeGreaterThanOrEqual((leaseEnd.get(`${t.run_id}:${t.idx}`) ?? Infinity) - 50);
    }
    expect(await query(`select step, run_id, idx from executions where step <> 'hold'
                          group by step, run_id, idx having count(*) > 1`)).toEqual([]);

    // both said why they poll; B never sent a named statement
    const lines = (out: string) => out.split('\n').map((l) => l.replace(/^.*\[Pgflow\] /, ''));
    for (const w of [a, b]) {
      expect(lines(w.output()).filter((l) => POLLING_WARNING.test(l))).toEqual([
        expect.stringMatching(/; falling back to polling every 500 ms$/),
      ]);
    }
    expect(b.output()).not.toMatch(/refused a named prepared statement/);
  }, 180_000);
});
