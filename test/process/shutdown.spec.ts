import { sleepySum } from './worker-fixture/expected';
import { useWorkerProcesses, WorkerProcess } from './process-harness';

const INPUT = [1, 2, 3, 4, 5, 6, 7, 8];

// Scenario: SIGTERM reaches a busy worker (the app calls enableShutdownHooks). It
// must stop claiming, let its running handlers finish within shutdownTimeoutMs — or
// release them to the queue when that passes — mark itself stopped and exit 0,
// while another worker finishes the rest.
describe('SIGTERM to a worker under load', () => {
  const { spawn, until, query } = useWorkerProcesses();

  async function startRuns(count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const [{ run_id }] = await query<{ run_id: string }>(
        `select run_id from pgflow.start_flow('sleepy', $1::jsonb)`, [JSON.stringify(INPUT)]);
      ids.push(run_id);
    }
    return ids;
  }

  /** A runs `inFlight` naps (recorded, still sleeping) when this resolves. */
  async function busy(a: WorkerProcess, inFlight: number): Promise<void> {
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(`select count(*)::int n from executions where worker = $1`, [a.id]);
      return n === inFlight;
    }, 20_000, `${a.id} running ${inFlight} handlers`);
  }

  async function allCompleted(ids: string[]): Promise<void> {
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(
        `select count(*)::int n from pgflow.runs where run_id = any($1::uuid[]) and status = 'completed'`, [ids]);
      return n === ids.length;
    }, 30_000, 'every run completed');
    const runs = await query<{ output: unknown }>(`select output from pgflow.runs where run_id = any($1::uuid[])`, [ids]);
    for (const r of runs) expect(r.output).toEqual({ sum: sleepySum(INPUT) });
    expect(await query(`select * from pgflow.step_tasks where run_id = any($1::uuid[]) and status <> 'completed'`,
      [ids])).toEqual([]);
  }

  async function workerStatus(id: string): Promise<string> {
    return (await query<{ status: string }>(`select status from pgflow.workers where worker_id = $1`, [id]))[0].status;
  }

  it('lets running handlers finish within shutdownTimeoutMs, exits 0, and another worker does the rest', async () => {
    const a = spawn('drain-a', { FLOWS: 'sleepy', HANDLER_DELAY_MS: 1500, MAX_CONCURRENCY: 4, SHUTDOWN_TIMEOUT_MS: 10_000 });
    await a.ready();
    const ids = await startRuns(2);
    await busy(a, 4);

    const t0 = Date.now();
    const exit = a.stop('SIGTERM', 15_000);
    const b = spawn('drain-b', { FLOWS: 'sleepy' });
    expect(await exit).toBe(0);
    const drainMs = Date.now() - t0;
    expect(drainMs).toBeLessThan(10_000);
    expect(a.lines(/releasing/)).toEqual([]);
    expect(await workerStatus(a.id)).toBe('stopped');

    // A's four handlers finished and were recorded as its first and only attempts
    const byA = await query<{ status: string; attempts_count: number; claimed_by: string }>(
      `select t.status, t.attempts_count, t.claimed_by from pgflow.step_tasks t
         join executions e on e.run_id = t.run_id and e.step = t.step_slug and e.idx = t.task_index
        where e.worker = $1`, [a.id]);
    expect(byA).toHaveLength(4);
    for (const t of byA) expect(t).toEqual({ status: 'completed', attempts_count: 1, claimed_by: a.id });

    await b.ready();
    await allCompleted(ids);
    const [{ dup }] = await query<{ dup: number }>(
      `select (count(*) - count(distinct (run_id, step, idx)))::int dup from executions`);
    expect(dup).toBe(0);
    console.log(`[shutdown] drain: SIGTERM with 4 handlers of 1.5 s running → exit 0 after ${drainMs} ms, ` +
      `all 4 completed by A, no duplicate executions`);
  }, 90_000);

  it('releases handlers still running at shutdownTimeoutMs without counting the attempt, and exits 0', async () => {
    const SHUTDOWN_TIMEOUT_MS = 1500;
    const a = spawn('release-a', { FLOWS: 'sleepy', HANDLER_DELAY_MS: 60_000, MAX_CONCURRENCY: 4, SHUTDOWN_TIMEOUT_MS });
    await a.ready();
    const ids = await startRuns(2);
    await busy(a, 4);

    const t0 = Date.now();
    const exit = a.stop('SIGTERM', 15_000);
    const b = spawn('release-b', { FLOWS: 'sleepy' });
    expect(await exit).toBe(0);
    const stopMs = Date.now() - t0;
    // the deadline, the release and closing the connections; nowhere near the 60 s handlers
    expect(stopMs).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS);
    expect(stopMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 5_000);
    expect(a.lines(/releasing 4 running task/)).toHaveLength(1);
    expect(await workerStatus(a.id)).toBe('stopped');

    await b.ready();
    await allCompleted(ids);
    // the released attempts were not counted: B's run is attempt 1 again
    const released = await query<{ workers: string; attempts: string; attempts_count: number; claimed_by: string }>(
      `select string_agg(e.worker, ',' order by e.at) workers, string_agg(e.attempt::text, ',' order by e.at) attempts,
              min(t.attempts_count) attempts_count, min(t.claimed_by) claimed_by
         from executions e join pgflow.step_tasks t on t.run_id = e.run_id and t.step_slug = e.step and t.task_index = e.idx
        group by e.run_id, e.step, e.idx having bool_or(e.worker = $1)`, [a.id]);
    expect(released).toHaveLength(4);
    for (const t of released) {
      expect(t).toEqual({ workers: `${a.id},${b.id}`, attempts: '1,1', attempts_count: 1, claimed_by: b.id });
    }
    console.log(`[shutdown] release: SIGTERM with 4 handlers of 60 s running, shutdownTimeoutMs ${SHUTDOWN_TIMEOUT_MS} → ` +
      `exit 0 after ${stopMs} ms; 4 tasks released and re-run by B (4 duplicate executions, none counted as attempts)`);
  }, 90_000);
});
