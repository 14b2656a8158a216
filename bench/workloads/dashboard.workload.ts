// The dashboard (issue 19), pgflow only.
//
//   D1  W1 (drain a backlog of single-step runs, worker defaults, in the app that serves
//       the dashboard) with STREAMS event streams open vs none, interleaved rounds,
//       medians compared (target ≥ 95 %); the events each stream received per second.
//   D2  GET <path>/api/runs with RUNS finished runs in the table: p50 of the first page,
//       by flow, by status, a page deep in the keyset, and api/flows (counts by status).
//
// Self-contained (the library, pg and Nest on Express):
//   flock /tmp/pgflow-bench.lock npx ts-node --transpile-only bench/workloads/dashboard.workload.ts
// Knobs: DASHBOARD_BENCH_STREAMS (20), DASHBOARD_BENCH_BACKLOG (20000), DASHBOARD_BENCH_RUNS
// (1000000), DASHBOARD_BENCH_ROUNDS (3), DASHBOARD_BENCH_REQUESTS (50); BENCH_PG_URL.
import 'reflect-metadata';
import { INestApplication, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { get, IncomingMessage } from 'http';
import { AddressInfo } from 'net';
import { performance } from 'perf_hooks';
import { Client } from 'pg';
import { PgflowModule, PgflowWorker, Step, Workflow } from '../../lib';
import { PgflowDashboardModule } from '../../lib/dashboard';
import { dropDatabase, freshDatabase } from '../support/database';
import { until } from '../support/wait';
import { median, percentile } from '../support/stats';

export interface DashboardOptions {
  serverUrl: string;
  streams?: number;
  backlog?: number;
  runs?: number;
  rounds?: number;
  requests?: number;
  log?: (msg: string) => void;
}

export interface DashboardResult {
  streams: { count: number; backlog: number; none: number[]; withStreams: number[]; ratio: number; eventsPerStreamPerSecond: number[] };
  api: { runs: number; requests: number; p50: Record<string, number> };
}

const DB_NAME = 'pgflow_bench_dashboard';
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

function appModule(url: string) {
  @Module({
    imports: [
      PgflowModule.forRoot({ dataSource: { type: 'postgres', url, poolSize: 10 }, migrationsRun: true, worker: { autoStart: false } }),
      PgflowDashboardModule.forRoot({ path: PATH }),
    ],
    providers: [Drained, SingleFlow, OtherFlow],
  })
  class DashboardBenchModule {}
  return DashboardBenchModule;
}

async function startApp(url: string): Promise<{ app: INestApplication; base: string }> {
  const app = await NestFactory.create(appModule(url), { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}${PATH}` };
}

/** An event stream as a browser holds it; counts the events (blank-line separated) it receives. */
function openStream(url: string): Promise<{ events: () => number; close: () => void }> {
  return new Promise((resolve, reject) => {
    let events = 0;
    let tail = '';
    const req = get(url, { headers: { accept: 'text/event-stream' } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const text = tail + chunk;
        const parts = text.split('\n\n');
        tail = parts.pop() ?? '';
        events += parts.filter((p) => p.includes('data:')).length;
      });
      res.on('error', () => undefined);
      resolve({ events: () => events, close: () => req.destroy() });
    });
    req.on('error', (err) => (events === 0 ? reject(err) : undefined));
  });
}

/** One W1 drain in the dashboard's app, with `streams` event streams open during it. */
async function drain(url: string, backlog: number, streams: number): Promise<{ rate: number; eventsPerStream: number }> {
  const { app, base } = await startApp(url);
  const pg = new Client({ connectionString: url });
  await pg.connect();
  const open: Array<{ events: () => number; close: () => void }> = [];
  try {
    await pg.query(`truncate pgflow.runs cascade`);
    await pg.query(`select pgflow.start_flow('bench_dash_single', '{}'::jsonb) from generate_series(1, $1::int)`, [backlog]);
    await pg.query('vacuum analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
    for (let i = 0; i < streams; i++) open.push(await openStream(`${base}/api/events`));
    const drained = app.get(Drained);
    drained.n = 0;
    const t0 = performance.now();
    await app.get(PgflowWorker).start();
    await until(() => drained.n >= backlog, 600_000, 'the backlog to drain');
    await until(async () => (await pg.query(
      `select 1 from pgflow.runs where status <> 'completed' limit 1`)).rowCount === 0, 60_000, 'the last completions');
    const seconds = (performance.now() - t0) / 1000;
    const events = open.length ? median(open.map((s) => s.events())) : 0;
    return { rate: backlog / seconds, eventsPerStream: events / seconds };
  } finally {
    for (const s of open) s.close();
    await pg.end();
    await app.close();
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
  const runs = o.runs ?? 1_000_000;
  const rounds = o.rounds ?? 3;
  const requests = o.requests ?? 50;
  const url = await freshDatabase(o.serverUrl, DB_NAME);
  try {
    const none: number[] = [];
    const withStreams: number[] = [];
    const eventsPerStreamPerSecond: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      none.push((await drain(url, backlog, 0)).rate);
      const d = await drain(url, backlog, streams);
      withStreams.push(d.rate);
      eventsPerStreamPerSecond.push(d.eventsPerStream);
      log(`D1 round ${round}: ${none[none.length - 1].toFixed(0)} runs/s without streams, ${d.rate.toFixed(0)} with ${streams} ` +
        `(${d.eventsPerStream.toFixed(0)} events/s each)`);
    }
    log(`D2: writing ${runs.toLocaleString('en-US')} finished runs`);
    await fill(url, runs);
    const { app, base } = await startApp(url);
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
    return {
      streams: { count: streams, backlog, none, withStreams, ratio: median(withStreams) / median(none), eventsPerStreamPerSecond },
      api: { runs, requests, p50 },
    };
  } finally {
    await dropDatabase(o.serverUrl, DB_NAME);
  }
}

export function dashboardTable(r: DashboardResult): string {
  const k = (n: number) => n.toLocaleString('en-US');
  return [
    '| dashboard (pgflow) | value |',
    '|---|---|',
    `| D1 W1 drain in the dashboard's app, no event stream | ${k(Math.round(median(r.streams.none)))} runs/s |`,
    `| D1 W1 drain, ${r.streams.count} event streams open | ${k(Math.round(median(r.streams.withStreams)))} runs/s ` +
      `(${k(Math.round(median(r.streams.eventsPerStreamPerSecond)))} events/s to each) |`,
    `| D1 ratio (target ≥ 95 %) | ${(r.streams.ratio * 100).toFixed(1)} % |`,
    ...Object.entries(r.api.p50).map(([route, ms]) =>
      `| D2 GET ${route} with ${k(r.api.runs)} runs, p50${route === 'api/runs' ? ' (target ≤ 50 ms)' : ''} | ${ms.toFixed(1)} ms |`),
  ].join('\n');
}

if (require.main === module) {
  const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
  measureDashboard({
    serverUrl: process.env.BENCH_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    streams: num('DASHBOARD_BENCH_STREAMS'),
    backlog: num('DASHBOARD_BENCH_BACKLOG'),
    runs: num('DASHBOARD_BENCH_RUNS'),
    rounds: num('DASHBOARD_BENCH_ROUNDS'),
    requests: num('DASHBOARD_BENCH_REQUESTS'),
    log: (msg) => console.log(`[dashboard ${new Date().toISOString().slice(11, 19)}] ${msg}`),
  }).then((r) => console.log(dashboardTable(r)), (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
