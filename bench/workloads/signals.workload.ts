// Signal steps (issue 15), pgflow only: the peers have no signal steps to compare with.
//
//   S1  signal → handler start, p50 / p95, on an idle system (target p50 ≤ 5 ms): a run
//       waits in a signal step; the time from before `client.signal` until its handler
//       starts in the worker.
//   S2  W1 throughput (drain a backlog of single-step runs) with 100,000 runs waiting in
//       a signal step vs none (target ≥ 95 %): waits must not enter the claim path.
//
// Self-contained (the library, pg and Nest only), so it runs on its own:
//   flock /tmp/pgflow-bench.lock npx ts-node --transpile-only bench/workloads/signals.workload.ts
// with BENCH_PG_URL (else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres) naming
// the server; it uses two databases of its own (S2's waiting runs are written once, into the
// second, and the drains alternate between the two), dropped at the end. Knobs: SIGNAL_BENCH_SAMPLES
// (S1, default 300), SIGNAL_BENCH_WAITING (S2, default 100000), SIGNAL_BENCH_BACKLOG (S2's
// backlog, default 20000), SIGNAL_BENCH_ROUNDS (S2 rounds of none/waiting, interleaved,
// default 3; the medians are compared, since one drain on a shared machine is noisy).
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import { PgflowClient, PgflowModule, PgflowWorker, Step, StepContext, Workflow } from '../../lib';
import { dropDatabase, freshDatabase } from '../support/database';
import { until } from '../support/wait';
import { median, percentile } from '../support/stats';

/** What `measureSignals` reports. */
export interface SignalsResult {
  /** S1: ms from before client.signal until the released handler starts. */
  signalToStart: { samples: number; p50: number; p95: number; p99: number };
  /** S2: tasks/s draining the backlog, per round, and the ratio of the medians. */
  throughput: { backlog: number; waiting: number; none: number[]; withWaiting: number[]; ratio: number };
}

/** Options of the workload (all have defaults, see the header). */
export interface SignalsOptions {
  serverUrl: string;
  samples?: number;
  waiting?: number;
  backlog?: number;
  rounds?: number;
  log?: (msg: string) => void;
}

const DB_NAME = 'pgflow_bench_signals';
/** S2's database with the waiting runs: written once, not re-created every round. */
const WAITING_DB_NAME = 'pgflow_bench_signals_waiting';

/** Where a released handler reports its start (one pending wait at a time). */
@Injectable()
class StartProbe {
  private pending = new Map<string, (at: number) => void>();
  drained = 0;

  expect(runId: string): Promise<number> {
    return new Promise((resolve) => this.pending.set(runId, resolve));
  }

  started(runId: string): void {
    const at = performance.now();
    this.pending.get(runId)?.(at);
    this.pending.delete(runId);
  }
}

@Workflow({ slug: 'bench_signal_latency' })
class SignalLatencyFlow {
  constructor(private readonly probe: StartProbe) {}

  @Step({ signal: 'go' })
  released(_input: unknown, ctx: StepContext) {
    this.probe.started(ctx.runId);
    return null;
  }
}

@Workflow({ slug: 'bench_signal_hold' })
class SignalHoldFlow {
  // never signalled: these runs only sit in the tables
  @Step({ signal: 'never' })
  hold() {
    return null;
  }
}

@Workflow({ slug: 'bench_signal_w1' })
class DrainFlow {
  constructor(private readonly probe: StartProbe) {}

  @Step()
  work() {
    this.probe.drained++;
    return null;
  }
}

function appModule(url: string, autoStart: boolean) {
  @Module({
    imports: [PgflowModule.forRoot({
      dataSource: { type: 'postgres', url, poolSize: 10 },
      migrationsRun: true,
      // W1's pgflow defaults; the 1 s backstop poll keeps NOTIFY in S1's path
      worker: { autoStart, maxConcurrency: 10, batchSize: 10 },
    })],
    providers: [StartProbe, SignalLatencyFlow, SignalHoldFlow, DrainFlow],
  })
  class SignalsBenchModule {}
  return SignalsBenchModule;
}

/** S1 on an app whose worker runs. */
async function signalToStart(url: string, samples: number): Promise<SignalsResult['signalToStart']> {
  const app = await NestFactory.createApplicationContext(appModule(url, true), { logger: false });
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    const client = app.get(PgflowClient);
    const probe = app.get(StartProbe);
    const ms: number[] = [];
    for (let i = 0; i < samples + 10; i++) {
      const run = await client.startRun('bench_signal_latency', {});
      await until(async () => (await pg.query(
        `select 1 from pgflow.step_states where run_id = $1 and status = 'waiting'`, [run.runId])).rowCount === 1,
      10_000, 'the step to wait');
      // idle: let the worker's claim loop settle after the run's start
      await new Promise((r) => setTimeout(r, 20));
      const started = probe.expect(run.runId);
      const t0 = performance.now();
      await client.signal(run.runId, 'go', { i });
      const t1 = await started;
      if (i >= 10) ms.push(t1 - t0); // the first ten warm up connections and plans
      await client.waitForRun(run.runId, { timeoutMs: 10_000 });
    }
    return { samples: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), p99: percentile(ms, 99) };
  } finally {
    await pg.end();
    await app.close();
  }
}

/** One W1 drain: `backlog` single-step runs enqueued first, then timed from worker start to the last completion. */
async function drain(url: string, backlog: number): Promise<number> {
  const app = await NestFactory.createApplicationContext(appModule(url, false), { logger: false });
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    await pg.query(`delete from pgflow.runs where flow_slug = 'bench_signal_w1'`);
    await pg.query(`select pgflow.start_flow('bench_signal_w1', '{}'::jsonb) from generate_series(1, $1::int)`, [backlog]);
    await pg.query('vacuum analyze pgflow.step_tasks');
    const probe = app.get(StartProbe);
    probe.drained = 0;
    const t0 = performance.now();
    await app.get(PgflowWorker).start();
    await until(() => probe.drained >= backlog, 600_000, 'the backlog to drain', 5);
    await until(async () => (await pg.query(
      `select 1 from pgflow.runs where flow_slug = 'bench_signal_w1' and status <> 'completed' limit 1`)).rowCount === 0,
    60_000, 'the last completions', 5);
    return backlog / ((performance.now() - t0) / 1000);
  } finally {
    await pg.end();
    await app.close();
  }
}

/** Connections writing the waiting runs: not timed, and one alone took half a minute of the default run. */
const WAITING_WRITERS = 2;

async function setWaiting(url: string, n: number): Promise<void> {
  const writers = Array.from({ length: WAITING_WRITERS }, () => new Client({ connectionString: url }));
  try {
    await Promise.all(writers.map((w) => w.connect()));
    let next = 0;
    await Promise.all(writers.map(async (w) => {
      while (next < n) {
        const chunk = Math.min(10_000, n - next);
        next += chunk;
        await w.query(`select pgflow.start_flow('bench_signal_hold', '{}'::jsonb) from generate_series(1, $1::int)`, [chunk]);
      }
    }));
    await writers[0].query('vacuum analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
  } finally {
    await Promise.all(writers.map((w) => w.end()));
  }
}

/** Runs S1 and S2 against a database of its own on `serverUrl`'s server. */
export async function measureSignals(o: SignalsOptions): Promise<SignalsResult> {
  const log = o.log ?? (() => undefined);
  const samples = o.samples ?? 300;
  const waiting = o.waiting ?? 100_000;
  const backlog = o.backlog ?? 20_000;
  const rounds = o.rounds ?? 3;
  const url = await freshDatabase(o.serverUrl, DB_NAME);
  let waitingUrl: string | undefined;
  try {
    log(`S1: ${samples} signals, one at a time, on an idle worker`);
    const s1 = await signalToStart(url, samples);
    log(`S1: p50 ${s1.p50.toFixed(2)} ms, p95 ${s1.p95.toFixed(2)} ms`);
    // the same drain, alternating between a database without waiting runs and one with
    // them (written once, with the flows registered by a first boot of the app)
    waitingUrl = await freshDatabase(o.serverUrl, WAITING_DB_NAME);
    await drain(waitingUrl, 1);
    await setWaiting(waitingUrl, waiting);
    const none: number[] = [];
    const withWaiting: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      none.push(await drain(url, backlog));
      log(`S2 round ${round}: none waiting ${none[none.length - 1].toFixed(0)} tasks/s`);
      withWaiting.push(await drain(waitingUrl, backlog));
      log(`S2 round ${round}: ${waiting} waiting ${withWaiting[withWaiting.length - 1].toFixed(0)} tasks/s`);
    }
    return {
      signalToStart: s1,
      throughput: { backlog, waiting, none, withWaiting, ratio: median(withWaiting) / median(none) },
    };
  } finally {
    await dropDatabase(o.serverUrl, DB_NAME);
    if (waitingUrl) await dropDatabase(o.serverUrl, WAITING_DB_NAME);
  }
}

/** The workload's rows for the performance table. */
export function signalsTable(r: SignalsResult): string {
  const f = (n: number) => n.toFixed(2);
  return [
    '| signal steps (pgflow) | value |',
    '|---|---|',
    `| S1 signal → handler start p50 (target ≤ 5 ms) | ${f(r.signalToStart.p50)} ms |`,
    `| S1 signal → handler start p95 | ${f(r.signalToStart.p95)} ms |`,
    `| S2 W1 drain, none waiting | ${median(r.throughput.none).toFixed(0)} tasks/s |`,
    `| S2 W1 drain, ${r.throughput.waiting.toLocaleString('en-US')} runs waiting | ${median(r.throughput.withWaiting).toFixed(0)} tasks/s |`,
    `| S2 ratio (target ≥ 95 %) | ${(r.throughput.ratio * 100).toFixed(1)} % |`,
  ].join('\n');
}

if (require.main === module) {
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  measureSignals({
    serverUrl: process.env.BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    samples: num('SIGNAL_BENCH_SAMPLES'),
    waiting: num('SIGNAL_BENCH_WAITING'),
    backlog: num('SIGNAL_BENCH_BACKLOG'),
    rounds: num('SIGNAL_BENCH_ROUNDS'),
    log: (msg) => console.log(`[signals ${new Date().toISOString().slice(11, 19)}] ${msg}`),
  }).then((r) => {
    console.log(signalsTable(r));
    console.log(JSON.stringify(r));
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
