import { FANOUT_TASKS, fanoutOutputs } from './worker-fixture/expected';
import { knob, startFanoutRuns, useWorkerProcesses, WorkerProcess } from './process-harness';

/**
 * PGFLOW_SOAK_SECONDS: how long runs keep coming (default 45; the full soak
 * is 300). PGFLOW_SOAK_RESTART_SECONDS: how often the second worker is restarted,
 * alternately by SIGKILL and SIGTERM (default 15; also the length of a throughput
 * interval). PGFLOW_SOAK_BACKLOG: unfinished runs kept queued (default 60).
 */
const SOAK_SECONDS = knob('PGFLOW_SOAK_SECONDS', 45);
const RESTART_SECONDS = knob('PGFLOW_SOAK_RESTART_SECONDS', 15);
const BACKLOG = knob('PGFLOW_SOAK_BACKLOG', 60);

const pace = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Scenario: continuous load for a while, one worker restarted (killed or stopped)
// every interval, history growing. The long-lived worker's memory must stay flat,
// throughput must not decay, and no run may be lost.
describe(`soak: ${SOAK_SECONDS} s of continuous runs, a worker restarted every ${RESTART_SECONDS} s`, () => {
  const { spawn, until, query, pool, db } = useWorkerProcesses();

  const rss = (w: WorkerProcess): number[] =>
    w.lines(/^STATS /).map((l) => Number(/rss=(\d+)/.exec(l)?.[1]));
  const completedRuns = async () =>
    (await query<{ n: number }>(`select count(*)::int n from pgflow.runs where status = 'completed'`))[0].n;
  const tasksRunBy = async (w: WorkerProcess) =>
    (await query<{ n: number }>(`select count(*)::int n from executions where worker = $1`, [w.id]))[0].n;
  // Shared buffers this database's sessions touched (hits and reads): the work done,
  // however fast the machine, which other test files share, gets through it.
  const buffers = async () => Number((await query<{ n: string }>(
    `select (blks_hit + blks_read)::text n from pg_stat_database where datname = $1`, [db().name]))[0].n);
  const completedTasks = async () =>
    (await query<{ n: number }>(`select count(*)::int n from pgflow.step_tasks where status = 'completed'`))[0].n;

  it('keeps memory flat and throughput steady, and loses nothing', async () => {
    const longLived = spawn('soak-steady', { FLOWS: 'fanout', STATS_INTERVAL_MS: 1000, POOL_SIZE: 3 });
    let restarted = spawn('soak-restarted-1', { FLOWS: 'fanout', POOL_SIZE: 3 });
    await Promise.all([longLived.ready(), restarted.ready()]);

    const end = Date.now() + SOAK_SECONDS * 1000;
    let started = 0;
    const perInterval: number[] = []; // runs/s completed, all workers
    const steadyPerInterval: number[] = []; // tasks/s of the long-lived worker
    let steadyAtBoundary = 0;
    const restarts: string[] = [];
    let warmRss = 0;
    const t0 = Date.now();
    let boundary = t0 + RESTART_SECONDS * 1000;
    let doneAtBoundary = 0;
    const buffersPerTask: number[] = []; // per interval
    let buffersAtBoundary = await buffers();
    let tasksAtBoundary = 0;
    const sampleWork = async () => {
      const [b, t] = [await buffers(), await completedTasks()];
      if (t > tasksAtBoundary) buffersPerTask.push((b - buffersAtBoundary) / (t - tasksAtBoundary));
      tasksAtBoundary = t;
      // what autovacuum does every minute in production, each interval here (this run
      // is shorter than autovacuum_naptime): index entries of finished tasks are
      // cleared, as they are between a claim and the next minute's vacuum. Its own
      // buffers are not the workers' work: counted out.
      const c = await pool().connect();
      try {
        await c.query('vacuum pgflow.step_tasks, pgflow.step_states, pgflow.runs');
        await c.query('select pg_stat_force_next_flush()');
      } finally {
        c.release();
      }
      buffersAtBoundary = await buffers();
    };
    while (Date.now() < end) {
      // keep BACKLOG runs unfinished so the workers never idle
      const [{ open }] = await query<{ open: number }>(`select count(*)::int open from pgflow.runs where status = 'started'`);
      if (open < BACKLOG) {
        await startFanoutRuns(pool(), started + 1, BACKLOG - open);
        started += BACKLOG - open;
      }
      if (Date.now() >= boundary) {
        const done = await completedRuns();
        const steady = await tasksRunBy(longLived);
        perInterval.push((done - doneAtBoundary) / RESTART_SECONDS);
        steadyPerInterval.push((steady - steadyAtBoundary) / RESTART_SECONDS);
        doneAtBoundary = done;
        steadyAtBoundary = steady;
        await sampleWork();
        boundary += RESTART_SECONDS * 1000;
        if (!warmRss) warmRss = rss(longLived).at(-1) ?? 0;
        // restart the other worker (not in the last half interval): odd restarts kill
        // it outright, even ones stop it gracefully
        if (Date.now() > end - RESTART_SECONDS * 500) continue;
        const signal = restarts.length % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
        // a graceful stop is a booted worker's promise; on a loaded machine the
        // replacement may still be loading when its turn comes
        if (signal === 'SIGTERM') await restarted.ready();
        const code = await restarted.stop(signal, 30_000);
        expect(code).toBe(signal === 'SIGKILL' ? null : 0);
        restarts.push(signal);
        restarted = spawn(`soak-restarted-${restarts.length + 1}`, { FLOWS: 'fanout', POOL_SIZE: 3 });
      }
      await pace(100);
    }
    const lastSeconds = (Date.now() - (boundary - RESTART_SECONDS * 1000)) / 1000;
    const done = await completedRuns();
    const steady = await tasksRunBy(longLived);
    if (lastSeconds >= RESTART_SECONDS / 2) {
      perInterval.push((done - doneAtBoundary) / lastSeconds);
      steadyPerInterval.push((steady - steadyAtBoundary) / lastSeconds);
      await sampleWork();
    }

    // nothing lost: every run finishes (killed workers' leases expire after the fixture's 8 s)
    await until(async () => (await completedRuns()) === started, 90_000, `all ${started} runs completed`);
    const endRss = rss(longLived).at(-1) ?? 0;
    const bootRss = rss(longLived)[0];

    const tasks = await query<{ status: string; n: number }>(`select status, count(*)::int n from pgflow.step_tasks group by 1`);
    expect(tasks).toEqual([{ status: 'completed', n: started * FANOUT_TASKS }]);
    const outputs = await query<{ n: number; output: unknown }>(`select (input->>'n')::int n, output from pgflow.runs`);
    let wrong = 0;
    for (const r of outputs) if (JSON.stringify(r.output) !== JSON.stringify({ total: fanoutOutputs(r.n).total })) wrong++;
    expect(wrong).toBe(0);
    const [exec] = await query<{ total: number; distinct_tasks: number }>(
      `select count(*)::int total, count(distinct (run_id, step, idx))::int distinct_tasks from executions`);
    expect(exec.distinct_tasks).toBe(started * FANOUT_TASKS);

    const [{ retried }] = await query<{ retried: number }>(
      `select count(*)::int retried from pgflow.step_tasks where attempts_count > 1`);
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    console.log(`[soak] ${SOAK_SECONDS} s, ${started} runs (${started * FANOUT_TASKS} tasks), restarts every ` +
      `${RESTART_SECONDS} s: ${restarts.join(', ')}\n` +
      `  runs/s per interval, all workers: ${fmt(perInterval)}\n` +
      `  tasks/s per interval, long-lived worker: ${fmt(steadyPerInterval)}\n` +
      `  shared buffers touched per completed task, per interval: ${fmt(buffersPerTask)}\n` +
      `  long-lived worker RSS: boot ${mb(bootRss)}, after first interval ${mb(warmRss)}, end ${mb(endRss)}\n` +
      `  tasks re-run after a kill or release: ${retried} with a second attempt, ` +
      `${exec.total - exec.distinct_tasks} duplicate executions`);

    expect(endRss).toBeLessThan(warmRss * 1.5);
    // Throughput must not decay as history grows. The rates above swing with whatever
    // else the machine runs (other test files, here); the work per task does not: a
    // claim or completion that came to read history would touch ever more buffers per
    // task. Each interval's fixed work (a worker's boot, idle polls, heartbeats) is
    // spread over fewer tasks when other test files slow the workers, so the bound is
    // twice the best earlier interval: a claim that read history grows with it, by
    // about five times from the first interval to the third. (Plans kept from an empty
    // database, which a vacuum would replan, are test/sql/plan-growth.spec.ts's concern.)
    expect(buffersPerTask.length).toBeGreaterThanOrEqual(2);
    expect(buffersPerTask.at(-1)).toBeLessThanOrEqual(Math.min(...buffersPerTask.slice(0, -1)) * 2);
    expect(steadyPerInterval.at(-1)).toBeGreaterThan(0);
    expect(longLived.exitCode()).toBeNull();
  }, (SOAK_SECONDS + 180) * 1000);
});
