// Flow control and fairness (issue 17), pgflow only: the peers' limits are not comparable.
//
//   F1  runs completed over time in a drain of 300 runs of root → 5-element map →
//       aggregate (target: each tenth of the drain's time completes at least a twentieth
//       of the runs: runs finish in the order they started, not in a burst at the end),
//       once with the runs started one statement each and once in one statement; the
//       worker is warmed up on 100 runs first.
//   F2  W1 drain of single-step runs with no limit declared, this branch's library vs a
//       baseline library (FC_BASELINE_LIB, e.g. a checkout of main; target ≤ 5 % slower),
//       interleaved rounds, medians compared.
//   F3  W1 drain with a flow concurrency limit of 50 vs without (target ≥ 80 %).
//   F4  fairness: a single-step run of flow B started while a 10,000-element map of flow A
//       is being claimed; startRun → B's handler start, p50 / p95 (target p50 ≤ 50 ms).
//
// Self-contained (the library, pg and Nest only); bench/run.ts runs it with the other
// feature workloads (BENCH_WORKLOADS=flowcontrol for it alone), or on its own:
//   flock /tmp/pgflow-bench.lock npx ts-node --transpile-only bench/workloads/flow-control.workload.ts
// BENCH_PG_URL (else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) names the
// server; databases of its own, dropped at the end. Knobs: FC_BENCH_BACKLOG (F2/F3 runs per
// drain, default 20000), FC_BENCH_ROUNDS (default 3), FC_BENCH_SAMPLES (F4, default 30),
// FC_BASELINE_LIB (directory of the baseline's lib/, absent: F2 is skipped; its checkout must
// resolve this one's @nestjs packages, e.g. its node_modules a symlink to ours: with a copy of
// its own, its module cannot boot in this Nest and the process exits without a message).
import 'reflect-metadata';
import { INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import * as ours from '../../lib';
import { dropDatabase, freshDatabase } from '../support/database';
import { median, percentile } from '../support/stats';
import { until } from '../support/wait';

type Lib = typeof ours;

/** What `measureFlowControl` reports. */
export interface FlowControlResult {
  dag: { runs: number; seconds: number; perTenth: number[]; minTenthShare: number };
  /** F1 with the 300 runs started in one statement. */
  dagBulk: FlowControlResult['dag'];
  /** F1 with the baseline library (null without one), one statement per run and in one. */
  dagBaseline: FlowControlResult['dag'] | null;
  dagBulkBaseline: FlowControlResult['dag'] | null;
  w1: { backlog: number; ours: number[]; baseline: number[]; overheadPct: number | null };
  limited: { limit: number; unlimited: number[]; limited: number[]; ratio: number };
  fairness: { samples: number; p50: number; p95: number; mapElements: number };
}

/** Options of the workload (all but serverUrl have defaults, see the header). */
export interface FlowControlOptions {
  serverUrl: string;
  backlog?: number;
  rounds?: number;
  samples?: number;
  baselineLib?: string;
  log?: (msg: string) => void;
}

/** Counts handled tasks and reports handler starts, per app. */
@Injectable()
class Probe {
  handled = 0;
  private waiting = new Map<string, (at: number) => void>();

  expect(runId: string): Promise<number> {
    return new Promise((resolve) => this.waiting.set(runId, resolve));
  }

  started(runId: string): void {
    this.handled++;
    const done = this.waiting.get(runId);
    if (done) {
      this.waiting.delete(runId);
      done(performance.now());
    }
  }
}

/** The workload's flows, declared with the decorators of `lib` (ours or the baseline's). */
function flows(lib: Lib, probe: typeof Probe) {
  const { Step, Workflow } = lib;
  @Workflow({ slug: 'fc_single' })
  class Single {
    constructor(private readonly p: Probe) {}
    @Step() only(_i: unknown, ctx: ours.StepContext) {
      this.p.started(ctx.runId);
      return null;
    }
  }
  @Workflow({ slug: 'fc_single_limited', concurrency: { limit: 50 } } as ours.WorkflowOptions)
  class SingleLimited {
    constructor(private readonly p: Probe) {}
    @Step() only(_i: unknown, ctx: ours.StepContext) {
      this.p.started(ctx.runId);
      return null;
    }
  }
  @Workflow({ slug: 'fc_dag' })
  class Dag {
    @Step() root() {
      return [1, 2, 3, 4, 5];
    }
    @Step({ dependsOn: ['root'], map: 'root' }) each(n: number) {
      return n * 2;
    }
    @Step({ dependsOn: ['each'] }) agg(input: { each: number[] }) {
      return input.each.reduce((a, b) => a + b, 0);
    }
  }
  @Workflow({ slug: 'fc_big' })
  class Big {
    @Step({ map: 'run' }) each(n: number) {
      return n;
    }
  }
  @Workflow({ slug: 'fc_small' })
  class Small {
    constructor(private readonly p: Probe) {}
    @Step() only(_i: unknown, ctx: ours.StepContext) {
      this.p.started(ctx.runId);
      return null;
    }
  }
  for (const c of [Single, SingleLimited, Small]) Reflect.defineMetadata('design:paramtypes', [probe], c);
  // the baseline has no limits: its fc_single_limited is never used
  return [Single, SingleLimited, Dag, Big, Small];
}

/** An app of the workload's flows; without `limited`, none declares a limit (the W1 of F2). */
async function boot(lib: Lib, url: string, limited = true): Promise<INestApplicationContext> {
  @Module({
    imports: [lib.PgflowModule.forRoot({
      dataSource: { type: 'postgres', url, poolSize: 10 },
      migrationsRun: true,
      // W1's pgflow defaults
      worker: { autoStart: false, maxConcurrency: 10, batchSize: 10 },
    })],
    providers: [Probe, ...flows(lib, Probe).filter((f) => limited || f.name !== 'SingleLimited')],
  })
  class FlowControlBenchModule {}
  return NestFactory.createApplicationContext(FlowControlBenchModule, { logger: false });
}






async function startRuns(pg: Client, flow: string, n: number, input = '{}'): Promise<void> {
  for (let done = 0; done < n; done += 5000) {
    await pg.query(`select count(pgflow.start_flow($1, $2::jsonb)) from generate_series(1, $3::int)`,
      [flow, input, Math.min(5000, n - done)]);
  }
}

/** One W1 drain of `backlog` runs of `flow`: tasks/s from worker start to the last completion. */
async function drain(lib: Lib, url: string, flow: string, backlog: number): Promise<number> {
  const app = await boot(lib, url, flow === 'fc_single_limited');
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    await pg.query('truncate pgflow.runs cascade');
    await startRuns(pg, flow, backlog);
    await pg.query('vacuum analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
    const probe = app.get(Probe);
    const t0 = performance.now();
    await app.get(lib.PgflowWorker).start();
    await until(() => probe.handled >= backlog, 600_000, `the ${flow} backlog to drain`);
    await until(async () => (await pg.query(
      `select 1 from pgflow.runs where flow_slug = $1 and status <> 'completed' limit 1`, [flow])).rowCount === 0,
    60_000, 'the last completions');
    return backlog / ((performance.now() - t0) / 1000);
  } finally {
    await pg.end();
    await app.close();
  }
}

/**
 * F1: 300 DAG runs; completions per tenth of the drain's time (first claim to last
 * completion). `bulk`: the runs start in one statement (they share now()), else one
 * statement each.
 */
async function dagDrain(lib: Lib, url: string, bulk = false): Promise<FlowControlResult['dag']> {
  const runs = 300;
  const app = await boot(lib, url);
  const pg = new Client({ connectionString: url });
  await pg.connect();
  const worker = app.get(lib.PgflowWorker);
  const allDone = async () => (await pg.query(
    `select 1 from pgflow.runs where flow_slug = 'fc_dag' and status <> 'completed' limit 1`)).rowCount === 0;
  try {
    await pg.query('truncate pgflow.runs cascade');
    await pg.query('vacuum analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
    // Warm-up through the running worker, so the connections the drain uses have made
    // their plans for the claim and for complete_tasks_and_claim (drain() claims and
    // stores on one connection, without the combined call: the drain's first tenth
    // was the other connections' first calls). Nothing is truncated or analyzed after
    // it: either would invalidate those plans.
    await worker.start();
    for (let i = 0; i < 100; i++) await pg.query(`select pgflow.start_flow('fc_dag', '{}'::jsonb)`);
    await until(allDone, 300_000, 'the DAG warm-up');
    await worker.stop();
    const since = (await pg.query<{ t: string }>('select clock_timestamp()::text as t')).rows[0].t;
    if (bulk) {
      await pg.query(`select count(pgflow.start_flow('fc_dag', '{}'::jsonb)) from generate_series(1, $1::int)`, [runs]);
    } else {
      // one statement per run: each run starts at its own time, as runs arriving one by one do
      for (let i = 0; i < runs; i++) await pg.query(`select pgflow.start_flow('fc_dag', '{}'::jsonb)`);
    }
    await worker.start();
    await until(allDone, 300_000, 'the DAG drain');
    // the drain runs from its first claim to its last completion
    const { rows } = await pg.query<{ t: number }>(
      `with drained as (select r.run_id, r.completed_at from pgflow.runs r
                          where r.flow_slug = 'fc_dag' and r.created_at > $1::timestamptz)
       select extract(epoch from d.completed_at - (select min(t.started_at) from pgflow.step_tasks t
                                                     where t.run_id in (select run_id from drained)))::float8 as t
         from drained d`, [since]);
    const end = Math.max(...rows.map((r) => r.t));
    const perTenth = Array.from({ length: 10 }, () => 0);
    for (const r of rows) perTenth[Math.min(9, Math.floor((r.t / end) * 10))]++;
    return { runs, seconds: end, perTenth, minTenthShare: Math.min(...perTenth) / runs };
  } finally {
    await pg.end();
    await app.close();
  }
}

/** F4: single-step runs of fc_small started while fc_big's 10,000-element map is claimed. */
async function fairness(url: string, samples: number): Promise<FlowControlResult['fairness']> {
  const mapElements = 10_000;
  const app = await boot(ours, url);
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    await pg.query('truncate pgflow.runs cascade');
    const client = app.get(ours.PgflowClient);
    const probe = app.get(Probe);
    await app.get(ours.PgflowWorker).start();
    const ms: number[] = [];
    while (ms.length < samples) {
      const big = await client.startRun('fc_big', Array.from({ length: mapElements }, (_, i) => i));
      await until(async () => (await pg.query(
        `select 1 from pgflow.step_tasks where run_id = $1 and status <> 'queued' limit 1`, [big.runId])).rowCount === 1,
      30_000, 'the map to be claimed');
      // samples while most of the map is still queued ahead
      for (let i = 0; i < 10 && ms.length < samples; i++) {
        const runId = (await pg.query<{ id: string }>('select gen_random_uuid()::text as id')).rows[0].id;
        const started = probe.expect(runId);
        const t0 = performance.now();
        await client.startRun('fc_small', {}, { runId });
        ms.push((await started) - t0);
        await new Promise((r) => setTimeout(r, 50));
      }
      await client.waitForRun(big.runId, { timeoutMs: 120_000 });
    }
    return { samples: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), mapElements };
  } finally {
    await pg.end();
    await app.close();
  }
}

/** Runs F1–F4 against databases of their own on `serverUrl`'s server. */
export async function measureFlowControl(o: FlowControlOptions): Promise<FlowControlResult> {
  const log = o.log ?? (() => undefined);
  const backlog = o.backlog ?? 20_000;
  const rounds = o.rounds ?? 3;
  const samples = o.samples ?? 30;
  const baseline = o.baselineLib ? ((await import(o.baselineLib)) as Lib) : undefined;
  const dbs = { ours: 'pgflow_bench_fc', baseline: 'pgflow_bench_fc_base' };
  const url = await freshDatabase(o.serverUrl, dbs.ours);
  const baseUrl = await freshDatabase(o.serverUrl, dbs.baseline);
  try {
    const dag = await dagDrain(ours, url);
    log(`F1: ${dag.runs} DAG runs in ${dag.seconds.toFixed(2)} s, per tenth ${dag.perTenth.join(' ')}`);
    const dagBulk = await dagDrain(ours, url, true);
    log(`F1 bulk: ${dagBulk.runs} DAG runs in ${dagBulk.seconds.toFixed(2)} s, per tenth ${dagBulk.perTenth.join(' ')}`);
    const dagBaseline = baseline ? await dagDrain(baseline, baseUrl) : null;
    if (dagBaseline) log(`F1 baseline: ${dagBaseline.seconds.toFixed(2)} s, per tenth ${dagBaseline.perTenth.join(' ')}`);
    const dagBulkBaseline = baseline ? await dagDrain(baseline, baseUrl, true) : null;
    if (dagBulkBaseline) {
      log(`F1 bulk baseline: ${dagBulkBaseline.seconds.toFixed(2)} s, per tenth ${dagBulkBaseline.perTenth.join(' ')}`);
    }
    const w1 = { backlog, ours: [] as number[], baseline: [] as number[], overheadPct: null as number | null };
    const limited = { limit: 50, unlimited: w1.ours, limited: [] as number[], ratio: 0 };
    for (let round = 1; round <= rounds; round++) {
      if (baseline) {
        w1.baseline.push(await drain(baseline, baseUrl, 'fc_single', backlog));
        log(`F2 round ${round}: baseline ${w1.baseline[w1.baseline.length - 1].toFixed(0)} tasks/s`);
      }
      w1.ours.push(await drain(ours, url, 'fc_single', backlog));
      log(`F2 round ${round}: ours ${w1.ours[w1.ours.length - 1].toFixed(0)} tasks/s`);
      limited.limited.push(await drain(ours, url, 'fc_single_limited', backlog));
      log(`F3 round ${round}: limit 50 ${limited.limited[limited.limited.length - 1].toFixed(0)} tasks/s`);
    }
    if (baseline) w1.overheadPct = (1 - median(w1.ours) / median(w1.baseline)) * 100;
    limited.ratio = median(limited.limited) / median(w1.ours);
    const fair = await fairness(url, samples);
    log(`F4: p50 ${fair.p50.toFixed(1)} ms, p95 ${fair.p95.toFixed(1)} ms`);
    return { dag, dagBulk, dagBaseline, dagBulkBaseline, w1, limited, fairness: fair };
  } finally {
    for (const db of Object.values(dbs)) await dropDatabase(o.serverUrl, db);
  }
}

/** The workload's rows for the performance table. */
export function flowControlTable(r: FlowControlResult): string {
  const pct = (n: number) => `${(n * 100).toFixed(1)} %`;
  const tenths = (d: FlowControlResult['dag'] | null) => (d ? `${d.perTenth.join(', ')} (${d.seconds.toFixed(1)} s)` : '–');
  return [
    '| flow control (pgflow, defaults: batchSize 10, maxConcurrency 10, 1 process) | value |',
    '|---|---|',
    `| F1 ${r.dag.runs} DAG runs (root → 5-map → aggregate): runs completed per tenth of the drain | ` +
      `${r.dag.perTenth.join(', ')} (${r.dag.seconds.toFixed(1)} s) |`,
    `| F1 fewest in a tenth (target ≥ 5 %) | ${pct(r.dag.minTenthShare)} |`,
    `| F1 the 300 runs started in one statement: per tenth | ${r.dagBulk.perTenth.join(', ')} ` +
      `(${r.dagBulk.seconds.toFixed(1)} s) |`,
    `| F1 fewest in a tenth, started in one statement | ${pct(r.dagBulk.minTenthShare)} |`,
    `| F1 baseline library, same run: per tenth | ${tenths(r.dagBaseline)} |`,
    `| F1 baseline library, started in one statement | ${tenths(r.dagBulkBaseline)} |`,
    `| F2 W1 no limits, ${r.w1.backlog.toLocaleString('en-US')} runs | ${median(r.w1.ours).toFixed(0)} tasks/s |`,
    `| F2 W1 baseline library, same run | ${r.w1.baseline.length ? `${median(r.w1.baseline).toFixed(0)} tasks/s` : '–'} |`,
    `| F2 overhead vs baseline (target ≤ 5 %) | ${r.w1.overheadPct === null ? '–' : `${r.w1.overheadPct.toFixed(1)} %`} |`,
    `| F3 W1 with a flow concurrency limit of ${r.limited.limit} | ${median(r.limited.limited).toFixed(0)} tasks/s |`,
    `| F3 ratio to unlimited (target ≥ 80 %) | ${pct(r.limited.ratio)} |`,
    `| F4 single-step run behind a ${r.fairness.mapElements.toLocaleString('en-US')}-element map of another flow: ` +
      `startRun → handler start p50 (target ≤ 50 ms) | ${r.fairness.p50.toFixed(1)} ms |`,
    `| F4 p95 | ${r.fairness.p95.toFixed(1)} ms |`,
  ].join('\n');
}

if (require.main === module) {
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  measureFlowControl({
    serverUrl: process.env.BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    backlog: num('FC_BENCH_BACKLOG'),
    rounds: num('FC_BENCH_ROUNDS'),
    samples: num('FC_BENCH_SAMPLES'),
    baselineLib: process.env.FC_BASELINE_LIB,
    log: (msg) => console.log(`[flow-control ${new Date().toISOString().slice(11, 19)}] ${msg}`),
  }).then((r) => {
    console.log(flowControlTable(r));
    console.log(JSON.stringify(r));
    process.exit(0);
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
