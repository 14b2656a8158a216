import { FANOUT_TASKS, fanoutOutputs } from './worker-fixture/expected';
import { knob, startFanoutRuns, useWorkerProcesses } from './process-harness';

/**
 * PGFLOW_STRESS_RUNS: runs of the fanout DAG (default 2000 ≈ 44,000 tasks; about a
 * minute on an idle 2-core machine). PGFLOW_STRESS_WORKERS: worker processes (default 4).
 */
const RUNS = knob('PGFLOW_STRESS_RUNS', 2000);
const WORKERS = knob('PGFLOW_STRESS_WORKERS', 4);

// Scenario: several worker processes race for the same queue. Every task must be
// completed exactly once, every stored output must be right, and without kills no
// handler may run twice.
describe(`${WORKERS} worker processes, ${RUNS} runs of a 3-step DAG with a 20-element map`, () => {
  const { spawn, until, query, pool } = useWorkerProcesses();

  it('completes every task exactly once with the right outputs', async () => {
    const workers = Array.from({ length: WORKERS }, (_, i) => spawn(`conc-${i + 1}`, { FLOWS: 'fanout', POOL_SIZE: 3 }));
    await Promise.all(workers.map((w) => w.ready()));

    const started = Date.now();
    await startFanoutRuns(pool(), 1, RUNS);
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(`select count(*)::int n from pgflow.runs where status <> 'started'`);
      return n === RUNS;
    }, 60_000 + RUNS * 100, `${RUNS} runs to finish`);
    const seconds = (Date.now() - started) / 1000;

    const statuses = await query<{ status: string; n: number }>(
      `select status, count(*)::int n from pgflow.runs group by status`);
    expect(statuses).toEqual([{ status: 'completed', n: RUNS }]);

    // the queue: one row per task, each completed by its first and only attempt
    const tasks = await query<{ status: string; attempts_count: number; n: number }>(
      `select status, attempts_count, count(*)::int n from pgflow.step_tasks group by 1, 2`);
    expect(tasks).toEqual([{ status: 'completed', attempts_count: 1, n: RUNS * FANOUT_TASKS }]);
    const [counters] = await query<{ bad_steps: number; bad_runs: number }>(
      `select (select count(*) from pgflow.step_states
                where status <> 'completed' or remaining_tasks <> 0 or remaining_deps <> 0)::int bad_steps,
              (select count(*) from pgflow.runs where remaining_steps <> 0)::int bad_runs`);
    expect(counters).toEqual({ bad_steps: 0, bad_runs: 0 });

    // every step output equals the deterministic expectation
    const rows = await query<{ n: number; seed: number[]; square: number[]; total: number; output: unknown }>(
      `select (r.input->>'n')::int n, r.output,
              max(ss.output::text) filter (where ss.step_slug = 'seed')::jsonb seed,
              max(ss.output::text) filter (where ss.step_slug = 'square')::jsonb square,
              max(ss.output::text) filter (where ss.step_slug = 'total')::jsonb total
         from pgflow.runs r join pgflow.step_states ss using (run_id) group by r.run_id`);
    expect(rows).toHaveLength(RUNS);
    let wrong = 0;
    for (const row of rows) {
      const want = fanoutOutputs(row.n);
      const ok = JSON.stringify([row.seed, row.square, row.total, row.output]) ===
        JSON.stringify([want.seed, want.square, want.total, { total: want.total }]);
      if (!ok && wrong++ < 3) expect({ n: row.n, seed: row.seed, square: row.square, total: row.total }).toEqual({ n: row.n, ...want });
    }
    expect(wrong).toBe(0);

    // handler executions: none duplicated, none missing
    const [exec] = await query<{ total: number; distinct_tasks: number }>(
      `select count(*)::int total, count(distinct (run_id, step, idx))::int distinct_tasks from executions`);
    const perWorker = await query<{ worker: string; n: number }>(
      `select worker, count(*)::int n from executions group by worker order by worker`);
    console.log(`[concurrency] ${RUNS} runs / ${RUNS * FANOUT_TASKS} tasks on ${WORKERS} workers in ${seconds.toFixed(1)} s ` +
      `(${Math.round((RUNS * FANOUT_TASKS) / seconds)} tasks/s); duplicate handler executions: ` +
      `${exec.total - exec.distinct_tasks}; per worker: ${perWorker.map((w) => `${w.worker}=${w.n}`).join(' ')}`);
    expect(exec).toEqual({ total: RUNS * FANOUT_TASKS, distinct_tasks: RUNS * FANOUT_TASKS });
    // every worker took part (the queue is shared, not partitioned)
    expect(perWorker).toHaveLength(WORKERS);
  }, 120_000 + RUNS * 200);
});
