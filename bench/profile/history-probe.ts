import 'reflect-metadata';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import { PgflowClient, PgflowWorker } from '../../lib';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { PGFLOW_TUNED } from '../engines/pgflow.engine';
import { ChainFlow, HandledCounter } from '../workers/pgflow.workflows';
import { probeApp } from './probe.app';

/**
 * W8 by hand: a W1-style drain (in-process, tuned) and W2-style chains on an empty
 * database, then again with H finished single-step runs (run, step state and task
 * each, written directly) in the tables, then PgflowClient.pruneRuns of them, timed.
 *   npx ts-node --transpile-only bench/profile/history-probe.ts [H=1000000] [drain N=20000]
 * PROBE_PRUNE_BATCH=1000,5000,10000 skips the drains and instead times, for each batch size
 * in turn, prune_runs called in a loop over a freshly written H.
 */
const DB = 'pgflow_history_probe';
const SERVER = process.env.PROFILE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const H = Number(process.argv[2] ?? 1_000_000);
const N = Number(process.argv[3] ?? 20_000);
const CHAINS = 100;
const PRUNE_BATCHES = (process.env.PROBE_PRUNE_BATCH ?? '').split(',').filter(Boolean).map(Number);

async function drain(c: Client, worker: PgflowWorker, counter: HandledCounter): Promise<number> {
  for (let done = 0; done < N; done += 5000) {
    await c.query(`select count(pgflow.start_flow('bench_single', '{}'::jsonb)) from generate_series(1, $1)`,
      [Math.min(5000, N - done)]);
  }
  await c.query('analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
  const base = counter.handled;
  const t0 = performance.now();
  await worker.start();
  for (;;) {
    // through the two partial indexes: a count over the table would read all history
    const { rows } = await c.query<{ left: boolean }>(
      `select exists (select 1 from pgflow.step_tasks where status = 'queued')
           or exists (select 1 from pgflow.step_tasks where status = 'started') as left`);
    if (!rows[0].left) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const rate = N / ((performance.now() - t0) / 1000);
  await worker.stop();
  if (counter.handled - base < N) throw new Error(`handled ${counter.handled - base} of ${N}`);
  return rate;
}

async function chains(client: PgflowClient, worker: PgflowWorker): Promise<number> {
  await worker.start();
  const ms: number[] = [];
  for (let i = 0; i < CHAINS + 10; i++) {
    const t0 = performance.now();
    await client.execute(ChainFlow, {}, { timeoutMs: 60_000 });
    if (i >= 10) ms.push(performance.now() - t0);
  }
  await worker.stop();
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

async function writeHistory(c: Client): Promise<void> {
  const t0 = performance.now();
  // history as the engine leaves it, written set-based without the FK checks' cost
  await c.query('set session_replication_role = replica');
  await c.query(`insert into pgflow.runs (run_id, flow_slug, status, input, output, remaining_steps, created_at,
                                          started_at, completed_at)
                 select gen_random_uuid(), 'bench_single', 'completed', '{}', '{"only": null}', 0, t, t, t
                   from (select now() - interval '2 days' + g * interval '1 ms' as t
                           from generate_series(1, $1) g) x`, [H]);
  await c.query(`insert into pgflow.step_states (run_id, flow_slug, step_slug, status, remaining_deps, total_tasks,
                                                 remaining_tasks, output, created_at, started_at, completed_at)
                 select run_id, flow_slug, 'only', 'completed', 0, 1, 0, 'null', created_at, created_at, created_at
                   from pgflow.runs where created_at < now() - interval '1 day'`);
  await c.query(`insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, status, attempts_count,
                                                visible_at, output, queued_at, started_at, completed_at)
                 select run_id, flow_slug, 'only', 0, 'completed', 1, created_at, 'null', created_at, created_at, created_at
                   from pgflow.runs where created_at < now() - interval '1 day'`);
  await c.query('set session_replication_role = origin');
  await c.query('vacuum analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
  console.log(`wrote ${H.toLocaleString('en-US')} finished runs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function pruneBatches(c: Client): Promise<void> {
  for (const batch of PRUNE_BATCHES) {
    await writeHistory(c);
    const p0 = performance.now();
    let total = 0;
    for (;;) {
      const { rows } = await c.query<{ n: number }>('select pgflow.prune_runs(now() - interval \'1 day\', $1) as n', [batch]);
      total += rows[0].n;
      if (rows[0].n < batch) break;
    }
    console.log(`prune_runs by ${batch}: ${total.toLocaleString('en-US')} runs in ${((performance.now() - p0) / 1000).toFixed(1)} s`);
  }
}

async function main(): Promise<void> {
  const url = await freshDatabase(SERVER, DB);
  const { app, counter } = await probeApp(url, PGFLOW_TUNED);
  const c = await connect(url);
  try {
    const worker = app.get(PgflowWorker);
    const client = app.get(PgflowClient);
    if (PRUNE_BATCHES.length) return await pruneBatches(c);
    const emptyRate = await drain(c, worker, counter);
    const emptyP50 = await chains(client, worker);
    console.log(`empty database: W1 ${Math.round(emptyRate)} runs/s, W2 p50 ${emptyP50.toFixed(1)} ms`);

    await writeHistory(c);

    // a worker's own started tasks (the heartbeat) are found through the lease index, not a scan of history
    const plan = (await c.query<{ 'QUERY PLAN': string }>(`explain select run_id from pgflow.step_tasks
      where status = 'started' and claimed_by = 'w'`)).rows.map((r) => r['QUERY PLAN']).join(' / ');
    console.log(`a worker's started tasks: ${plan}`);
    const fullRate = await drain(c, worker, counter);
    const fullP50 = await chains(client, worker);
    console.log(`with ${H.toLocaleString('en-US')} finished runs: W1 ${Math.round(fullRate)} runs/s ` +
      `(${((100 * fullRate) / emptyRate).toFixed(0)} % of empty), W2 p50 ${fullP50.toFixed(1)} ms ` +
      `(${((100 * fullP50) / emptyP50).toFixed(0)} % of empty)`);

    const p0 = performance.now();
    const pruned = await client.pruneRuns({ olderThan: new Date(Date.now() - 86_400_000) });
    console.log(`pruneRuns: ${pruned.toLocaleString('en-US')} runs in ${((performance.now() - p0) / 1000).toFixed(1)} s`);
  } finally {
    await c.end();
    await app.close();
    await dropDatabase(SERVER, DB);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
