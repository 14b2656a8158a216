// Lease renewal (issue 18), pgflow only: the cost of one heartbeat while 1,000 tasks run
// in one worker. The heartbeat renews every lease the worker holds in the statement that
// refreshes the worker row (db/queries/sql/upsert_worker.sql), so its cost is one
// statement whatever the number of tasks; this times that statement, as the worker
// sends it, while the tasks are held in their handlers.
//
//   R1  heartbeat with N tasks running: p50 / p95 ms over SAMPLES statements, and the
//       leases it renewed (must be N).
//
// Self-contained (the library, pg and Nest only):
//   flock /tmp/pgflow-bench.lock npx ts-node --transpile-only bench/workloads/renewal.workload.ts
// Knobs: RENEWAL_BENCH_TASKS (default 1000), RENEWAL_BENCH_SAMPLES (default 50); BENCH_PG_URL.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import { PgflowModule, PgflowWorker, Step, Workflow } from '../../lib';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { upsertWorker } from '../../lib/db/queries';
import { percentile } from '../support/stats';
import { dropDatabase, freshDatabase } from '../support/database';
import { until } from '../support/wait';

export interface RenewalResult {
  tasks: number;
  samples: number;
  p50: number;
  p95: number;
  /** leases the timed statement renewed (the tasks it reported held) */
  renewed: number;
}

const DB_NAME = 'pgflow_bench_renewal';

/** Holds every handler until released. */
@Injectable()
class Gate {
  running = 0;
  private open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.open = resolve));
  release(): void {
    this.open();
  }
}

@Workflow({ slug: 'bench_renewal' })
class HeldFlow {
  constructor(private readonly gate: Gate) {}

  @Step()
  async held() {
    this.gate.running++;
    await this.gate.opened;
    return null;
  }
}

function appModule(url: string, tasks: number) {
  @Module({
    imports: [PgflowModule.forRoot({
      dataSource: { type: 'postgres', url, poolSize: 10 },
      migrationsRun: true,
      worker: { autoStart: false, maxConcurrency: tasks, batchSize: 100 },
    })],
    providers: [Gate, HeldFlow],
  })
  class RenewalBenchModule {}
  return RenewalBenchModule;
}

export async function measureRenewal(o: { serverUrl: string; tasks?: number; samples?: number }): Promise<RenewalResult> {
  const tasks = o.tasks ?? 1000;
  const samples = o.samples ?? 50;
  const url = await freshDatabase(o.serverUrl, DB_NAME);
  const app = await NestFactory.createApplicationContext(appModule(url, tasks), { logger: ['error', 'warn'] });
  const pg = new Client({ connectionString: url });
  await pg.connect();
  const gate = app.get(Gate);
  try {
    await pg.query(`select pgflow.start_flow('bench_renewal', '{}'::jsonb) from generate_series(1, $1::int)`, [tasks]);
    await pg.query('analyze pgflow.step_tasks');
    await app.get(PgflowWorker).start();
    await until(() => gate.running >= tasks, 120_000, `${tasks} tasks to run`);
    const [{ worker_id: workerId, flows }] = (await pg.query<{ worker_id: string; flows: string[] }>(
      `select worker_id, flows from pgflow.workers where status = 'online'`)).rows;
    const db = app.get(PgflowDatabase);
    const ms: number[] = [];
    let renewed = 0;
    for (let i = 0; i < samples + 5; i++) {
      const t0 = performance.now();
      const held = await upsertWorker(db, workerId, flows, 'online', 60);
      if (i >= 5) ms.push(performance.now() - t0); // the first few plan and warm up
      renewed = held.length;
    }
    return { tasks, samples: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), renewed };
  } finally {
    gate.release();
    await pg.end();
    await app.close();
    await dropDatabase(o.serverUrl, DB_NAME);
  }
}

export function renewalTable(r: RenewalResult): string {
  return [
    '| lease renewal (pgflow) | value |',
    '|---|---|',
    `| R1 one heartbeat with ${r.tasks.toLocaleString('en-US')} tasks running, p50 | ${r.p50.toFixed(2)} ms |`,
    `| R1 p95 (${r.samples} heartbeats) | ${r.p95.toFixed(2)} ms |`,
    `| R1 leases renewed per heartbeat (one statement) | ${r.renewed.toLocaleString('en-US')} |`,
  ].join('\n');
}

if (require.main === module) {
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  measureRenewal({
    serverUrl: process.env.BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    tasks: num('RENEWAL_BENCH_TASKS'),
    samples: num('RENEWAL_BENCH_SAMPLES'),
  }).then((r) => console.log(renewalTable(r)), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
