// D1's steady source of run changes: a child process, another app of the same deployment,
// that starts DASHBOARD_PACED_RUNS single-step runs per second of `bench_dash_paced` in
// DASHBOARD_PACED_URL (one start_flow statement every 50 ms) and works them with a
// pgflow worker (defaults). Its changes are what the dashboard's streams carry.
// IPC: sends { type: 'ready' } once pacing; on { type: 'stop' } stops and exits.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { PgflowModule, PgflowWorker, Step, Workflow } from '../../lib';

const TICK_MS = 50;

@Workflow({ slug: 'bench_dash_paced' })
export class PacedFlow {
  @Step()
  only() {
    return null;
  }
}

async function main(): Promise<void> {
  const url = process.env.DASHBOARD_PACED_URL as string;
  const perSecond = Number(process.env.DASHBOARD_PACED_RUNS ?? 375);
  @Module({
    imports: [PgflowModule.forRoot({ dataSource: { type: 'postgres', url, poolSize: 4 }, migrationsRun: true, worker: { autoStart: false } })],
    providers: [PacedFlow],
  })
  class PacerModule {}
  const app = await NestFactory.createApplicationContext(PacerModule, { logger: ['error', 'warn'] });
  await app.get(PgflowWorker).start();
  const pg = new Client({ connectionString: url });
  await pg.connect();
  // a fractional share per tick is carried over, so the rate holds for any setting
  let owed = 0;
  let busy = false;
  const timer = setInterval(() => {
    owed += (perSecond * TICK_MS) / 1000;
    const n = Math.floor(owed);
    if (busy || n < 1) return;
    owed -= n;
    busy = true;
    pg.query(`select pgflow.start_flow('bench_dash_paced', '{}'::jsonb) from generate_series(1, $1::int)`, [n])
      .catch((err: Error) => console.error(`pacer: ${err.message}`))
      .finally(() => (busy = false));
  }, TICK_MS);
  process.on('message', (m: { type: string }) => {
    if (m.type !== 'stop') return;
    clearInterval(timer);
    void (async () => {
      // a start still in flight would end as "Connection terminated"
      while (busy) await new Promise((r) => setTimeout(r, 5));
      await pg.end();
      await app.close();
      process.disconnect();
    })();
  });
  process.send?.({ type: 'ready' });
}

// the workload imports PacedFlow from here: only the forked process paces
if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err);
    process.exit(1);
  });
}
