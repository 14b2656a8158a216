// Subflows (issue 16), pgflow only: the peers have no child workflows to compare with.
//
//   F1  one run whose map step starts a subflow per element, 1,000 elements, each
//       child a chain of 3 steps: from startRun until the parent run is completed
//       (target ≤ 2 s on a 2-core machine). One worker in this process, with the
//       README's throughput setting (batchSize 100, maxConcurrency 200); the child
//       runs' 3,000 tasks and the 1,000 settlements of the parent's tasks are all in
//       the measured time.
//
// Self-contained (the library, pg and Nest only), so it runs on its own:
//   flock /tmp/pgflow-bench.lock npx ts-node --transpile-only bench/workloads/subflows.workload.ts
// or from bench/run.ts (BENCH_WORKLOADS=subflows). BENCH_PG_URL (else DATABASE_URL, else
// postgres://postgres@127.0.0.1:5432/postgres) names the server; it uses a database of its
// own, dropped at the end. Knobs: SUBFLOW_BENCH_ELEMENTS (default 1000), SUBFLOW_BENCH_ROUNDS
// (default 3; the median is reported).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { performance } from 'perf_hooks';
import { PgflowClient, PgflowModule, Step, Workflow } from '../../lib';
import { dropDatabase, freshDatabase } from '../support/database';
import { median } from '../support/stats';

/** What `measureSubflows` reports. */
export interface SubflowsResult {
  elements: number;
  /** F1: seconds from startRun until the parent completed, per round. */
  seconds: number[];
  median: number;
}

/** Options of the workload (all but the server have defaults, see the header). */
export interface SubflowsOptions {
  serverUrl: string;
  elements?: number;
  rounds?: number;
  log?: (msg: string) => void;
}

const DB_NAME = 'pgflow_bench_subflows';

@Workflow({ slug: 'bench_sub_child' })
class ChildFlow {
  @Step()
  one(input: { run: { i: number } }) {
    return input.run.i;
  }

  @Step()
  two(input: { one: number }) {
    return input.one + 1;
  }

  @Step()
  three(input: { two: number }) {
    return input.two * 2;
  }
}

@Workflow({ slug: 'bench_sub_parent' })
class ParentFlow {
  @Step({ map: 'run', subflow: ChildFlow })
  each(i: number) {
    return { i };
  }
}

function appModule(url: string) {
  @Module({
    imports: [PgflowModule.forRoot({
      dataSource: { type: 'postgres', url, poolSize: 10 },
      migrationsRun: true,
      worker: { batchSize: 100, maxConcurrency: 200 },
    })],
    providers: [ChildFlow, ParentFlow],
  })
  class SubflowsBenchModule {}
  return SubflowsBenchModule;
}




/** Runs F1 against a database of its own on `serverUrl`'s server. */
export async function measureSubflows(o: SubflowsOptions): Promise<SubflowsResult> {
  const log = o.log ?? (() => undefined);
  const elements = o.elements ?? 1000;
  const rounds = o.rounds ?? 3;
  const url = await freshDatabase(o.serverUrl, DB_NAME);
  const app = await NestFactory.createApplicationContext(appModule(url), { logger: false });
  try {
    const client = app.get(PgflowClient);
    const input = Array.from({ length: elements }, (_, i) => i);
    // warm-up: connections, prepared statements, plans
    await client.execute(ParentFlow, input.slice(0, 20), { timeoutMs: 60_000 });
    const seconds: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const t0 = performance.now();
      const output = await client.execute(ParentFlow, input, { timeoutMs: 120_000 }) as { each: Array<{ three: number }> };
      seconds.push((performance.now() - t0) / 1000);
      if (output.each.length !== elements || output.each[elements - 1].three !== elements * 2) {
        throw new Error(`wrong output: ${JSON.stringify(output.each.slice(-1))}`);
      }
      log(`F1 round ${round}: ${elements} subflows of 3 steps in ${seconds[seconds.length - 1].toFixed(2)} s`);
    }
    return { elements, seconds, median: median(seconds) };
  } finally {
    await app.close();
    await dropDatabase(o.serverUrl, DB_NAME);
  }
}

/** The workload's rows for the performance table. */
export function subflowsTable(r: SubflowsResult): string {
  return [
    '| subflows (pgflow) | value |',
    '|---|---|',
    `| F1 one run mapping over ${r.elements.toLocaleString('en-US')} subflows of 3 steps, start → completed (target ≤ 2 s) | ` +
      `${r.median.toFixed(2)} s (rounds: ${r.seconds.map((s) => s.toFixed(2)).join(', ')}) |`,
  ].join('\n');
}

if (require.main === module) {
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  measureSubflows({
    serverUrl: process.env.BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    elements: num('SUBFLOW_BENCH_ELEMENTS'),
    rounds: num('SUBFLOW_BENCH_ROUNDS'),
    log: (msg) => console.log(`[subflows ${new Date().toISOString().slice(11, 19)}] ${msg}`),
  }).then((r) => {
    console.log(subflowsTable(r));
    console.log(JSON.stringify(r));
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
