import 'reflect-metadata';
import { readdirSync, readFileSync } from 'fs';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import { PgflowWorker } from '../../lib';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { PGFLOW_TUNED } from '../engines/pgflow.engine';
import { probeApp } from './probe.app';

/**
 * Where a W1 drain's CPU goes: the worker's Node process against every Postgres process
 * of the server (backends, WAL writer, autovacuum...), per run, for an in-process drain
 * of N single-step runs (tuned or defaults). Postgres's share is read from /proc, so the
 * server must run on this machine.
 *   npx ts-node --transpile-only bench/profile/cpu-split.ts [N=20000] [tuned|defaults] [rounds=3]
 * PROBE_WORKER (JSON) overrides worker options, e.g. {"batchSize":250,"maxConcurrency":500}.
 */
const DB = 'pgflow_cpu_split';
const SERVER = process.env.PROFILE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.argv[2] ?? 20000);
const KIND = (process.argv[3] ?? 'tuned') as 'tuned' | 'defaults';
const ROUNDS = Number(process.argv[4] ?? 3);
const TICK_MS = 1000 / 100; // USER_HZ

/** CPU ticks (user + system) of every live postgres process, by pid. */
function postgresTicks(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(Number(pid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the process ended between the listing and the read
    }
  }
  return out;
}

function delta(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return ticks * TICK_MS;
}

async function main(): Promise<void> {
  const url = await freshDatabase(SERVER, DB);
  const { app, counter } = await probeApp(url, { ...(KIND === 'tuned' ? PGFLOW_TUNED : {}),
    ...(process.env.PROBE_WORKER ? JSON.parse(process.env.PROBE_WORKER) : {}) });
  const c: Client = await connect(url);
  try {
    const worker = app.get(PgflowWorker);
    for (let round = 1; round <= ROUNDS; round++) {
      await c.query(`select count(pgflow.start_flow('bench_single', '{}'::jsonb)) from generate_series(1, $1)`, [N]);
      await c.query('analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
      const base = counter.handled;
      const pg0 = postgresTicks();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await worker.start();
      while (counter.handled - base < N) await new Promise((r) => setTimeout(r, 5));
      // the last results are stored once nothing is queued or started
      for (;;) {
        const { rows } = await c.query<{ left: boolean }>(
          `select exists (select 1 from pgflow.step_tasks where status in ('queued', 'started')) as left`);
        if (!rows[0].left) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const pg = delta(pg0, postgresTicks());
      await worker.stop();
      const node = (cpu.user + cpu.system) / 1000;
      console.log(`round ${round} (${KIND}): ${Math.round(N / (wall / 1000))} runs/s; per run: wall ${(1000 * wall / N).toFixed(1)} µs, ` +
        `node CPU ${(1000 * node / N).toFixed(1)} µs, postgres CPU ${(1000 * pg / N).toFixed(1)} µs ` +
        `(node ${(100 * node / wall).toFixed(0)} % of a core, postgres ${(100 * pg / wall).toFixed(0)} %)`);
    }
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
