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

  constructor(readonly kind: 'defaults' | 'tuned') {
    this.key = `pgflow-${kind}`;
    this.settings = kind === 'tuned' ? PGFLOW_TUNED : {};
    this.label = kind === 'tuned'
      ? `nestjs-pgflow (tuned: batchSize ${PGFLOW_TUNED.batchSize}, maxConcurrency ${PGFLOW_TUNED.maxConcurrency})`
      : 'nestjs-pgflow (defaults)';
    this.workloads = workloadsOf(kind);
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
    return { BENCH_DB_URL: this.url, [SETTINGS_ENV]: JSON.stringify(this.settings) };
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
