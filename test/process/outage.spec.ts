import { FANOUT_TASKS, fanoutOutputs } from './worker-fixture/expected';
import { startFanoutRuns, useWorkerProcesses } from './process-harness';

const RUNS = 80;
const TASKS = RUNS * FANOUT_TASKS;

// Scenario: Postgres drops every connection of the workers mid-run (the server is
// shared by other suites, so connections are terminated instead of restarting it).
// Workers must log it, reconnect with backoff, LISTEN again, and finish every run
// with nothing lost or doubled.
describe('every database connection terminated mid-run', () => {
  const { spawn, until, query, pool, db } = useWorkerProcesses();

  const completedTasks = async () =>
    (await query<{ n: number }>(`select count(*)::int n from pgflow.step_tasks where status = 'completed'`))[0].n;
  const terminateAll = async () =>
    (await query<{ n: number }>(
      `select count(*)::int n from (select pg_terminate_backend(pid) from pg_stat_activity
        where datname = $1 and pid <> pg_backend_pid()) t`, [db().name]))[0].n;

  it('reconnects, listens again and completes every run exactly once', async () => {
    // A long safety poll: after the outage, progress must come from reconnection and
    // NOTIFY, not from the backstop timer. Each worker also owns one flow of its own
    // so that its LISTEN can be checked separately afterwards.
    const common = { HANDLER_DELAY_MS: 40, MAX_CONCURRENCY: 5, POLL_INTERVAL_MS: 20_000, POOL_SIZE: 3 };
    const workers = [
      spawn('outage-1', { ...common, FLOWS: 'fanout,sleepy' }),
      spawn('outage-2', { ...common, FLOWS: 'fanout,crashy' }),
    ];
    await Promise.all(workers.map((w) => w.ready()));
    await startFanoutRuns(pool(), 1, RUNS);

    const killed: number[] = [];
    for (const fraction of [0.2, 0.6]) {
      await until(async () => (await completedTasks()) >= TASKS * fraction, 60_000, `${fraction * 100}% of tasks done`);
      killed.push(await terminateAll());
      // each worker notices and gets its notification connection back before the next blow
      await until(async () => workers.every((w) =>
        w.lines(/notification connection restored/).length >= killed.length), 30_000, 'listeners to reconnect');
    }

    await until(async () => (await completedTasks()) === TASKS, 60_000, 'every task completed');
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(`select count(*)::int n from pgflow.runs where status = 'completed'`);
      return n === RUNS;
    }, 10_000, 'every run completed');

    // each worker LISTENs again: a flow only it executes goes through its three
    // transitions far faster than the 20 s backstop poll could manage
    const t0 = Date.now();
    const [{ sleepy }] = await query<{ sleepy: string }>(`select run_id sleepy from pgflow.start_flow('sleepy', '[1,2]')`);
    const [{ crashy }] = await query<{ crashy: string }>(`select run_id crashy from pgflow.start_flow('crashy', '[3]')`);
    await until(async () => {
      const rows = await query<{ n: number }>(
        `select count(*)::int n from pgflow.runs where run_id in ($1, $2) and status = 'completed'`, [sleepy, crashy]);
      return rows[0].n === 2;
    }, 15_000, 'runs woken by NOTIFY');
    const wakeMs = Date.now() - t0;
    expect(wakeMs).toBeLessThan(5_000);
    const [{ listeners }] = await query<{ listeners: number }>(
      `select count(*)::int listeners from pg_stat_activity where datname = $1 and query like 'listen pgflow\\_%'`,
      [db().name]);
    expect(listeners).toBe(workers.length);

    // nothing lost, nothing doubled, every output right
    const tasks = await query<{ status: string; n: number; retried: number }>(
      `select status, count(*)::int n, count(*) filter (where attempts_count > 1)::int retried
         from pgflow.step_tasks where flow_slug = 'fanout' group by status`);
    expect(tasks).toMatchObject([{ status: 'completed', n: TASKS }]);
    const outputs = await query<{ n: number; output: unknown }>(
      `select (input->>'n')::int n, output from pgflow.runs where flow_slug = 'fanout'`);
    for (const r of outputs) expect(r.output).toEqual({ total: fanoutOutputs(r.n).total });
    const [exec] = await query<{ total: number; distinct_tasks: number }>(
      `select count(*)::int total, count(distinct (run_id, step, idx))::int distinct_tasks
         from executions where step in ('seed', 'square', 'total')`);
    expect(exec.distinct_tasks).toBe(TASKS);

    for (const w of workers) {
      expect(w.lines(/notification connection lost/).length).toBeGreaterThanOrEqual(2);
      expect(w.exitCode()).toBeNull(); // still running
    }
    const retries = workers.flatMap((w) => w.lines(/claiming tasks failed|reporting results failed|heartbeat failed/));
    console.log(`[outage] terminated ${killed.join(' + ')} connections at 20% and 60% of ${TASKS} tasks; ` +
      `both workers reconnected; ${retries.length} retried claim/report/heartbeat error(s) logged; ` +
      `${tasks[0].retried} task(s) needed a second attempt; duplicate executions: ${exec.total - exec.distinct_tasks}; ` +
      `NOTIFY-driven runs after the outage finished in ${wakeMs} ms`);
    expect(exec.total).toBe(TASKS);
  }, 180_000);
});
