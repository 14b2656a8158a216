// The dashboard (issue 19), pgflow only.
//
//   D1  W1 (drain a backlog of single-step runs, worker defaults) in the process that serves
//       the dashboard, with STREAMS event streams open vs none, interleaved rounds, medians
//       compared (target ≥ 95 %), the arms' order swapped each round. The spec's case: the
//       streams carry about 1,000 events/s:
//       the dashboard's app watches a database of its own where another process (the pacer,
//       dashboard.pacer.ts) starts and works PACED runs/s, while the same process drains W1
//       in its database on the same server; both arms run the pacer. Beside it, the streams
//       on W1's own database: they carry every change of the drain (far above 1,000/s).
//       The streams are read by another process (dashboard.browsers.ts), as browsers would.
//   D2  GET <path>/api/runs with RUNS finished runs in the table: p50 of the first page,
//       by flow, by status, a page deep in the keyset, and api/flows (counts by status).
//
// Self-contained (the library, pg and Nest on Express):
//   flock /tmp/pgflow-bench.lock npx ts-node --transpile-only bench/workloads/dashboard.workload.ts
// Knobs: DASHBOARD_BENCH_STREAMS (20), DASHBOARD_BENCH_BACKLOG (20000), DASHBOARD_BENCH_PACED
// (runs/s, 375: about 1,000 events/s to each stream), DASHBOARD_BENCH_RUNS (1000000), DASHBOARD_BENCH_ROUNDS (3),
// DASHBOARD_BENCH_FLOOD_ROUNDS (1: rounds of the arm on W1's own database),
// DASHBOARD_BENCH_REQUESTS (50), DASHBOARD_BENCH_SKIP_D2 (1: D1 only), DASHBOARD_BENCH_DETAIL (brief:
// the UI's ?brief=1 streams; full: whole RunEvents); BENCH_PG_URL.
import 'reflect-metadata';
import { INestApplication, INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChildProcess, fork } from 'child_process';
import { AddressInfo } from 'net';
import { join } from 'path';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import { PgflowModule, PgflowWorker, Step, Workflow } from '../../lib';
import { PgflowDashboardModule } from '../../lib/dashboard';
import { dropDatabase, freshDatabase } from '../support/database';
import { until } from '../support/wait';
import { median, percentile } from '../support/stats';
import { PacedFlow } from './dashboard.pacer';

export interface DashboardOptions {
  serverUrl: string;
  streams?: number;
  backlog?: number;
  /** Runs/s the pacer starts in the dashboard's database. */
  paced?: number;
  runs?: number;
  rounds?: number;
  /**
   * Rounds of the arm above the spec's rate (default 1): no target rests on it, and each
   * round is four drains of its own, a minute of the default run.
   */
  floodRounds?: number;
  requests?: number;
  /** D1 only. */
  skipApi?: boolean;
  /** What the streams carry: `brief` (default: what the UI opens) or `full` RunEvents. */
  detail?: 'brief' | 'full';
  log?: (msg: string) => void;
}

/** W1 drains (runs/s) without and with the streams open, and the events/s each stream got. */
export interface DrainSeries {
  none: number[];
  withStreams: number[];
  ratio: number;
  eventsPerStreamPerSecond: number[];
}

export interface DashboardResult {
  streams: { count: number; backlog: number; pacedRunsPerSecond: number; detail: 'brief' | 'full'; paced: DrainSeries; ownDrain: DrainSeries };
  api?: { runs: number; requests: number; p50: Record<string, number> };
}

const DB_NAME = 'pgflow_bench_dashboard';
const PACED_DB_NAME = 'pgflow_bench_dashboard_paced';
const PATH = '/pgflow';

@Injectable()
class Drained {
  n = 0;
}

@Workflow({ slug: 'bench_dash_single' })
class SingleFlow {
  constructor(private readonly drained: Drained) {}

  @Step()
  only() {
    this.drained.n++;
    return null;
  }
}

@Workflow({ slug: 'bench_dash_other' })
class OtherFlow {
  @Step()
  only() {
    return null;
  }
}

function pgflow(url: string) {
  return PgflowModule.forRoot({ dataSource: { type: 'postgres', url, poolSize: 10 }, migrationsRun: true, worker: { autoStart: false } });
}

/** The app that serves the dashboard (and, on W1's database, drains W1). */
function dashboardModule(url: string, flows: Array<new (...args: never[]) => unknown>) {
  @Module({ imports: [pgflow(url), PgflowDashboardModule.forRoot({ path: PATH })], providers: [Drained, ...flows] })
  class DashboardBenchModule {}
  return DashboardBenchModule;
}

/** W1's worker without a dashboard, beside a dashboard app on another database in the same process. */
function drainModule(url: string) {
  @Module({ imports: [pgflow(url)], providers: [Drained, SingleFlow, OtherFlow] })
  class DrainBenchModule {}
  return DrainBenchModule;
}

async function startApp(url: string, flows: Array<new (...args: never[]) => unknown>): Promise<{ app: INestApplication; base: string }> {
  const app = await NestFactory.create(dashboardModule(url, flows), { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}${PATH}` };
}

/** A child process of this folder, under ts-node as this one runs; resolves once it reported ready. */
function child(file: string, env: Record<string, string>): Promise<{ proc: ChildProcess; ask: <T>(m: object, reply?: string) => Promise<T>; stop: () => Promise<void> }> {
  const proc = fork(join(__dirname, file), [], {
    env: { ...process.env, ...env },
    execArgv: __filename.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const next = <T>(type: string) => new Promise<T>((resolve, reject) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== type) return;
      proc.off('message', onMessage);
      proc.off('exit', onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null) => reject(new Error(`${file} exited with ${code} before ${type}`));
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
  return next('ready').then(() => ({
    proc,
    ask: <T>(m: object, reply?: string) => {
      const answer = reply ? next<T>(reply) : Promise.resolve(undefined as T);
      proc.send(m);
      return answer;
    },
    stop: async () => {
      if (proc.connected) proc.send({ type: 'stop' });
      const timer = setTimeout(() => proc.kill(), 20_000);
      await exited;
      clearTimeout(timer);
    },
  }));
}

interface DrainSetup {
  /** W1's database. */
  url: string;
  backlog: number;
  streams: number;
  /** What the streams carry: `brief` (what the UI opens, ?brief=1) or `full` RunEvents. */
  detail: 'brief' | 'full';
  /** The dashboard's own database with the pacer running in it; absent: the dashboard is on W1's database. */
  paced?: { url: string; runsPerSecond: number };
}

/** One W1 drain in the process serving the dashboard, with `streams` event streams open during it. */
async function drain(s: DrainSetup): Promise<{ rate: number; eventsPerStream: number }> {
  const closers: Array<() => Promise<unknown>> = [];
  const pg = new Client({ connectionString: s.url });
  await pg.connect();
  closers.push(() => pg.end());
  try {
    let worker: INestApplicationContext;
    let base: string;
    if (s.paced) {
      const dash = await startApp(s.paced.url, [PacedFlow]);
      closers.push(() => dash.app.close());
      worker = await NestFactory.createApplicationContext(drainModule(s.url), { logger: ['error', 'warn'] });
      closers.push(() => worker.close());
      base = dash.base;
      // each paced drain starts from an empty table, as W1 does
      const paced = new Client({ connectionString: s.paced.url });
      await paced.connect();
      await paced.query('truncate pgflow.runs cascade').finally(() => paced.end());
      const pacer = await child('dashboard.pacer.ts', { DASHBOARD_PACED_URL: s.paced.url, DASHBOARD_PACED_RUNS: String(s.paced.runsPerSecond) });
      closers.push(() => pacer.stop());
    } else {
      const dash = await startApp(s.url, [SingleFlow, OtherFlow]);
      closers.push(() => dash.app.close());
      worker = dash.app;
      base = dash.base;
    }
    await pg.query(`truncate pgflow.runs cascade`);
    await pg.query(`select pgflow.start_flow('bench_dash_single', '{}'::jsonb) from generate_series(1, $1::int)`, [s.backlog]);
    await pg.query('vacuum analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
    const browsers = s.streams
      ? await child('dashboard.browsers.ts', { DASHBOARD_EVENTS_URL: `${base}/api/events${s.detail === 'full' ? '' : '?brief=1'}`, DASHBOARD_STREAMS: String(s.streams) })
      : undefined;
    if (browsers) closers.push(() => browsers.stop());
    // let the pacer's rate and the streams settle before the clock starts
    await new Promise((r) => setTimeout(r, s.paced ? 1500 : 0));
    const drained = worker.get(Drained);
    drained.n = 0;
    await browsers?.ask({ type: 'reset' });
    const t0 = performance.now();
    await worker.get(PgflowWorker).start();
    await until(() => drained.n >= s.backlog, 600_000, 'the backlog to drain');
    await until(async () => (await pg.query(
      `select 1 from pgflow.runs where status <> 'completed' limit 1`)).rowCount === 0, 60_000, 'the last completions');
    const seconds = (performance.now() - t0) / 1000;
    const counts = browsers ? (await browsers.ask<{ events: number[] }>({ type: 'count' }, 'count')).events : [];
    return { rate: s.backlog / seconds, eventsPerStream: counts.length ? median(counts) / seconds : 0 };
  } finally {
    for (const close of closers.reverse()) await close().catch((err: Error) => console.error(`closing: ${err.message}`));
  }
}

/** `runs` finished runs of two flows over 30 days, written directly (the API reads only the runs table). */
async function fill(url: string, runs: number): Promise<void> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    await pg.query('truncate pgflow.runs cascade');
    for (let done = 0; done < runs; done += 250_000) {
      await pg.query(`
        insert into pgflow.runs (flow_slug, status, input, output, error, remaining_steps, created_at, started_at,
                                 completed_at, failed_at, cancelled_at)
        select case when i % 10 = 0 then 'bench_dash_other' else 'bench_dash_single' end, s.status,
               '{}'::jsonb, case when s.status = 'completed' then 'null'::jsonb end,
               case when s.status = 'failed' then '{"message":"boom"}'::jsonb end, 0, t, t,
               case when s.status = 'completed' then t end, case when s.status = 'failed' then t end,
               case when s.status = 'cancelled' then t end
          from generate_series($1::int, $2::int) i,
               lateral (select now() - (i * interval '2.592 seconds') as t,
                               case when i % 20 = 1 then 'failed' when i % 20 = 2 then 'cancelled' else 'completed' end as status) s`,
      [done + 1, Math.min(runs, done + 250_000)]);
    }
    await pg.query('vacuum analyze pgflow.runs');
  } finally {
    await pg.end();
  }
}

async function timeRequests(url: string, requests: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < requests + 5; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    await res.arrayBuffer();
    if (i >= 5) ms.push(performance.now() - t0);
  }
  return percentile(ms, 50);
}

export async function measureDashboard(o: DashboardOptions): Promise<DashboardResult> {
  const log = o.log ?? (() => undefined);
  const streams = o.streams ?? 20;
  const backlog = o.backlog ?? 20_000;
  const pacedRunsPerSecond = o.paced ?? 375;
  const runs = o.runs ?? 1_000_000;
  const detail = o.detail ?? 'brief';
  const rounds = o.rounds ?? 3;
  const floodRounds = Math.min(rounds, o.floodRounds ?? 1);
  const requests = o.requests ?? 50;
  const url = await freshDatabase(o.serverUrl, DB_NAME);
  const pacedUrl = await freshDatabase(o.serverUrl, PACED_DB_NAME);
  const series = (): DrainSeries => ({ none: [], withStreams: [], ratio: NaN, eventsPerStreamPerSecond: [] });
  const paced = series();
  const ownDrain = series();
  try {
    const paces = { url: pacedUrl, runsPerSecond: pacedRunsPerSecond };
    for (let round = 1; round <= rounds; round++) {
      const arms = [['paced', paced, { paced: paces }], ['own drain', ownDrain, {}]] as const;
      for (const [name, s, setup] of round <= floodRounds ? arms : arms.slice(0, 1)) {
        // the arms swap order each round: whatever the drain before leaves behind (autovacuum,
        // a checkpoint) falls on each arm alike
        const order = round % 2 ? [0, streams] : [streams, 0];
        const [first, second] = [await drain({ url, backlog, streams: order[0], detail, ...setup }),
          await drain({ url, backlog, streams: order[1], detail, ...setup })];
        const [none, d] = order[0] === 0 ? [first, second] : [second, first];
        s.none.push(none.rate);
        s.withStreams.push(d.rate);
        s.eventsPerStreamPerSecond.push(d.eventsPerStream);
        log(`D1 ${name} round ${round}: ${none.rate.toFixed(0)} runs/s without streams, ${d.rate.toFixed(0)} with ${streams} ` +
          `(${d.eventsPerStream.toFixed(0)} events/s each)`);
      }
    }
    for (const s of [paced, ownDrain]) s.ratio = median(s.withStreams) / median(s.none);
    const d1 = { count: streams, backlog, pacedRunsPerSecond, detail, paced, ownDrain };
    if (o.skipApi) return { streams: d1 };
    log(`D2: writing ${runs.toLocaleString('en-US')} finished runs`);
    await fill(url, runs);
    const { app, base } = await startApp(url, [SingleFlow, OtherFlow]);
    const p50: Record<string, number> = {};
    try {
      const page = (await (await fetch(`${base}/api/runs?limit=50`)).json()) as Array<{ runId: string }>;
      // a run half-way down the keyset: the last of the page a user reaches after 10,000 pages
      const pg = new Client({ connectionString: url });
      await pg.connect();
      const [{ run_id: deep }] = (await pg.query<{ run_id: string }>(
        'select run_id from pgflow.runs order by created_at desc, run_id desc offset $1 limit 1', [Math.floor(runs / 2)])).rows;
      await pg.end();
      if (!page.length) throw new Error('api/runs answered no runs');
      p50['api/runs'] = await timeRequests(`${base}/api/runs?limit=50`, requests);
      p50['api/runs?flow='] = await timeRequests(`${base}/api/runs?flow=bench_dash_other&limit=50`, requests);
      p50['api/runs?status=failed'] = await timeRequests(`${base}/api/runs?status=failed&limit=50`, requests);
      p50['api/runs?before= (half-way)'] = await timeRequests(`${base}/api/runs?before=${deep}&limit=50`, requests);
      p50['api/flows'] = await timeRequests(`${base}/api/flows`, Math.min(requests, 10));
      log(`D2: ${Object.entries(p50).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')}`);
    } finally {
      await app.close();
    }
    return { streams: d1, api: { runs, requests, p50 } };
  } finally {
    await dropDatabase(o.serverUrl, DB_NAME);
    await dropDatabase(o.serverUrl, PACED_DB_NAME);
  }
}

export function dashboardTable(r: DashboardResult): string {
  const k = (n: number) => n.toLocaleString('en-US');
  const rounds = (v: number[]) => v.map((x) => k(Math.round(x))).join(', ');
  const { paced, ownDrain } = r.streams;
  const count = `${r.streams.count} event streams (${r.streams.detail === 'brief' ? "the UI's, ?brief=1" : 'full RunEvents'})`;
  const events = (s: DrainSeries) => k(Math.round(median(s.eventsPerStreamPerSecond)));
  return [
    '| dashboard (pgflow) | value |',
    '|---|---|',
    `| D1 W1 drain in the dashboard's process, no event stream (pacer: ${k(r.streams.pacedRunsPerSecond)} runs/s in the dashboard's database) | ` +
      `${k(Math.round(median(paced.none)))} runs/s (rounds: ${rounds(paced.none)}) |`,
    `| D1 the same, ${count} open, ${events(paced)} events/s to each (rounds: ${rounds(paced.eventsPerStreamPerSecond)}) | ` +
      `${k(Math.round(median(paced.withStreams)))} runs/s (rounds: ${rounds(paced.withStreams)}) |`,
    `| D1 ratio at ~1,000 events/s per stream (target ≥ 95 %) | ${(paced.ratio * 100).toFixed(1)} % |`,
    `| D1 above the spec's rate: ${count} of W1's own drain, ${events(ownDrain)} events/s to each, ÷ no stream ` +
      `(${k(Math.round(median(ownDrain.withStreams)))} ÷ ${k(Math.round(median(ownDrain.none)))} runs/s` +
      `${ownDrain.none.length === 1 ? ', one round' : `, medians of ${ownDrain.none.length} rounds`}) | ${(ownDrain.ratio * 100).toFixed(1)} % |`,
    ...Object.entries(r.api?.p50 ?? {}).map(([route, ms]) =>
      `| D2 GET ${route} with ${k(r.api?.runs ?? 0)} runs, p50${route === 'api/runs' ? ' (target ≤ 50 ms)' : ''} | ${ms.toFixed(1)} ms |`),
  ].join('\n');
}

if (require.main === module) {
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  measureDashboard({
    serverUrl: process.env.BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    streams: num('DASHBOARD_BENCH_STREAMS'),
    backlog: num('DASHBOARD_BENCH_BACKLOG'),
    paced: num('DASHBOARD_BENCH_PACED'),
    skipApi: process.env.DASHBOARD_BENCH_SKIP_D2 === '1',
    detail: process.env.DASHBOARD_BENCH_DETAIL === 'full' ? 'full' : 'brief',
    runs: num('DASHBOARD_BENCH_RUNS'),
    rounds: num('DASHBOARD_BENCH_ROUNDS'),
    floodRounds: num('DASHBOARD_BENCH_FLOOD_ROUNDS'),
    requests: num('DASHBOARD_BENCH_REQUESTS'),
    log: (msg) => console.log(`[dashboard ${new Date().toISOString().slice(11, 19)}] ${msg}`),
  }).then((r) => console.log(dashboardTable(r)), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
