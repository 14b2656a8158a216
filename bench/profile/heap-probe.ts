import 'reflect-metadata';
import { writeHeapSnapshot } from 'v8';
import { PgflowWorker } from '../../lib';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { PGFLOW_TUNED } from '../engines/pgflow.engine';
import { probeApp } from './probe.app';

/**
 * W5 in one process, for finding what the tuned worker's heap keeps: drains N
 * single-step runs and prints heapUsed after a full GC every N/10 tasks.
 *   node --expose-gc -r ts-node/register/transpile-only bench/profile/heap-probe.ts [N]
 * HEAP_SNAPSHOTS=dir writes a heap snapshot there at the first and the last sample.
 */
const DB = 'pgflow_heap_probe';
const SERVER = process.env.PROFILE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.argv[2] ?? 100000);

async function main(): Promise<void> {
  const gc = (global as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const url = await freshDatabase(SERVER, DB);
  const { app, counter } = await probeApp(url, PGFLOW_TUNED);
  const c = await connect(url);
  try {
    for (let done = 0; done < N; done += 5000) {
      await c.query(`select count(pgflow.start_flow('bench_single', '{}'::jsonb)) from generate_series(1, $1)`,
        [Math.min(5000, N - done)]);
      if (done < 20000) await c.query('analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
    }
    app.get(PgflowWorker).start();
    const step = N / 10;
    let next = step;
    while (next <= N) {
      await new Promise((r) => setTimeout(r, 5));
      if (counter.handled < next) continue;
      gc();
      const m = process.memoryUsage();
      const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
      console.log(`${counter.handled} tasks: heapUsed ${mb(m.heapUsed)} MB, heapTotal ${mb(m.heapTotal)} MB, ` +
        `external ${mb(m.external)} MB (array buffers ${mb(m.arrayBuffers)}), rss ${mb(m.rss)} MB`);
      if (process.env.HEAP_SNAPSHOTS && (next === step || next + step > N)) {
        console.log(writeHeapSnapshot(`${process.env.HEAP_SNAPSHOTS}/at-${next}.heapsnapshot`));
      }
      next += step;
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
