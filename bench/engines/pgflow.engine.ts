import 'reflect-metadata';
import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { PgflowClient, PgflowModule, PgflowWorkerOptions } from '../../lib';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { BenchConfig } from '../support/bench.config';
import { BENCH_FLOWS, HandledCounter } from '../workers/pgflow.workflows';
import { Engine, SETTINGS_ENV, Workload, workloadsOf } from './engine';

const DB = 'bench_pgflow';
const SMALL_CHUNK = 1000;
const SMALL_UNTIL = 5000;
const CHUNK = 5000;
const WRITERS = 2;

/** Worker settings of our configurations (PgflowModule.forRoot({ worker })). */
export type PgflowSettings = Pick<PgflowWorkerOptions, 'batchSize' | 'maxConcurrency'>;

/**
 * The throughput setup the README recommends: claims of 100 tasks, up to 200 running
 * (two claims in flight, so one is prepared while the other runs).
 */
/**
 * Issue 18's overhead rows, our defaults otherwise: `sdk` with the OTel SDK registered
 * (exporting nowhere), `no-api` with @opentelemetry/api not installed (see
 * workers/pgflow.telemetry.ts). The defaults row has the API installed and no SDK.
 */
export type PgflowTelemetry = 'sdk' | 'no-api';

export const PGFLOW_TUNED: Required<PgflowSettings> = { batchSize: 100, maxConcurrency: 200 };

/** nestjs-pgflow (this repository's lib/), in its defaults or its tuned setup. */
export class PgflowEngine implements Engine {
  readonly family = 'pgflow';
  readonly worker = 'pgflow';
  readonly key: string;
  readonly label: string;
  readonly workloads: ReadonlySet<Workload>;
  readonly notes: string[];
  private readonly settings: PgflowSettings;

  /** Set on the telemetry variants: the report compares them with our defaults, never as ours. */
  readonly variant?: string;
  private readonly telemetry?: PgflowTelemetry;

  constructor(readonly kind: 'defaults' | 'tuned', telemetry?: PgflowTelemetry) {
    this.settings = kind === 'tuned' ? PGFLOW_TUNED : {};
    this.telemetry = telemetry;
    this.workloads = telemetry ? new Set<Workload>(['throughput', 'latency']) : workloadsOf(kind);
    if (telemetry) {
      this.key = `otel-${telemetry}`;
      this.variant = telemetry;
      this.label = telemetry === 'sdk'
        ? 'nestjs-pgflow (defaults, OpenTelemetry SDK registered)'
        : 'nestjs-pgflow (defaults, @opentelemetry/api not installed)';
      this.notes = [telemetry === 'sdk'
        ? 'our defaults with the OTel SDK 2 registered as in production (AsyncLocalStorage context manager, ' +
          'BatchSpanProcessor, PeriodicExportingMetricReader every 1 s) exporting nowhere: the cost of our spans and ' +
          'metrics, not of an exporter (× = ÷ defaults, where the API is installed and no SDK registered)'
        : 'our defaults with @opentelemetry/api unresolvable, as in an app that never installed it (× = ÷ defaults)'];
      return;
    }
    this.key = `pgflow-${kind}`;
    this.label = kind === 'tuned'
      ? `nestjs-pgflow (tuned: batchSize ${PGFLOW_TUNED.batchSize}, maxConcurrency ${PGFLOW_TUNED.maxConcurrency})`
      : 'nestjs-pgflow (defaults)';
    this.notes = [kind === 'tuned'
      ? `worker: { batchSize: ${PGFLOW_TUNED.batchSize}, maxConcurrency: ${PGFLOW_TUNED.maxConcurrency} } (the README's ` +
        'throughput recommendation), LISTEN/NOTIFY, everything else default'
      : 'module defaults: worker batchSize 10, maxConcurrency 10, pollIntervalMs 1000, LISTEN/NOTIFY; W2 via ' +
        'PgflowClient.execute (startRun + waitForRun)'];
  }

  private serverUrl = '';
  private url = '';
  private app?: INestApplicationContext;
  private client?: PgflowClient;
  private sql?: Client;
  /** Connections that write the backlog in parallel (not timed; keeps the default run short). */
  private writers: Client[] = [];

  async setup(config: BenchConfig): Promise<void> {
    this.serverUrl = config.pgUrl;
    this.url = await freshDatabase(config.pgUrl, DB);
    // client-only app: applies the migrations and stores the flow definitions
    @Module({
      imports: [PgflowModule.forRoot({
        dataSource: { type: 'postgres', url: this.url },
        migrationsRun: true,
        worker: { enabled: false },
      })],
      providers: [HandledCounter, ...BENCH_FLOWS],
    })
    class BenchClientModule {}
    this.app = await NestFactory.createApplicationContext(BenchClientModule, { logger: ['error', 'warn'] });
    this.client = this.app.get(PgflowClient);
    this.sql = await connect(this.url);
    this.writers = await Promise.all(Array.from({ length: WRITERS }, () => connect(this.url)));
  }

  async teardown(): Promise<void> {
    await this.sql?.end();
    await Promise.all(this.writers.map((w) => w.end()));
    await this.app?.close();
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    return { BENCH_DB_URL: this.url, [SETTINGS_ENV]: JSON.stringify({ ...this.settings, telemetry: this.telemetry }) };
  }

  async reset(): Promise<void> {
    await this.q('truncate pgflow.runs cascade');
    await this.q('delete from pgflow.workers');
  }

  async enqueueSingles(n: number): Promise<void> {
    // Small chunks, each followed by ANALYZE, while the tables are small: the
    // functions' cached generic plans are made while the just-truncated tables look
    // empty (seq scans), and one 20,000-run statement would keep them to its end,
    // which is quadratic. ANALYZE replans; past a few thousand rows the plans use the
    // indexes however large the tables grow, and the rest goes in big chunks.
    let done = 0;
    while (done < Math.min(n, SMALL_UNTIL)) {
      const chunk = Math.min(SMALL_CHUNK, n - done);
      await this.startSingles(this.sql, chunk);
      await this.q('analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
      done += chunk;
    }
    const rest = n - done;
    await Promise.all(this.writers.map(async (w, i) => {
      let mine = Math.floor(rest / WRITERS) + (i < rest % WRITERS ? 1 : 0);
      while (mine > 0) {
        const chunk = Math.min(CHUNK, mine);
        await this.startSingles(w, chunk);
        mine -= chunk;
      }
    }));
    if (rest > 0) await this.q('analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
  }

  private async startSingles(c: Client | undefined, n: number): Promise<void> {
    if (!c) throw new Error('setup() first');
    await c.query(`select count(pgflow.start_flow('bench_single', '{}'::jsonb)) from generate_series(1, $1)`, [n]);
  }

  async countCompleted(): Promise<number> {
    const r = await this.q(`select count(*)::int as n from pgflow.runs where flow_slug = 'bench_single' and status = 'completed'`);
    return r[0].n as number;
  }

  async chain(): Promise<void> {
    await this.pgflow().execute('bench_chain', {}, { timeoutMs: 60_000 });
  }

  async fanout(n: number, timeoutMs: number): Promise<void> {
    const input = Array.from({ length: n }, (_, i) => i);
    await this.pgflow().execute('bench_fanout', input, { timeoutMs });
  }

  private pgflow(): PgflowClient {
    if (!this.client) throw new Error('setup() first');
    return this.client;
  }

  private async q(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    if (!this.sql) throw new Error('setup() first');
    return (await this.sql.query(sql, params)).rows;
  }
}
