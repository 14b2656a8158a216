import 'reflect-metadata';
import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { PgflowClient, PgflowModule } from '../../lib';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { BenchConfig } from '../support/bench.config';
import { BENCH_FLOWS, HandledCounter } from '../workers/pgflow.workflows';
import { Engine, Workload } from './engine';

const DB = 'bench_pgflow';
const ENQUEUE_CHUNK = 1000;

/** nestjs-pgflow (this repository's lib/). */
export class PgflowEngine implements Engine {
  readonly key = 'pgflow';
  readonly label = 'nestjs-pgflow';
  readonly workloads: ReadonlySet<Workload> = new Set<Workload>(['throughput', 'latency', 'fanout', 'memory']);
  readonly notes = ['nestjs-pgflow (this repo): module defaults (batchSize 10, maxConcurrency 10, LISTEN/NOTIFY); ' +
    'W2 via PgflowClient.execute (startRun + waitForRun)'];
  private serverUrl = '';
  private url = '';
  private app?: INestApplicationContext;
  private client?: PgflowClient;
  private sql?: Client;

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
  }

  async teardown(): Promise<void> {
    await this.sql?.end();
    await this.app?.close();
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    return { BENCH_DB_URL: this.url };
  }

  async reset(): Promise<void> {
    await this.q('truncate pgflow.runs cascade');
    await this.q('delete from pgflow.workers');
  }

  async enqueueSingles(n: number): Promise<void> {
    // In chunks, each followed by ANALYZE: the functions' cached generic plans are made
    // while the just-truncated tables look empty (seq scans), and one 20,000-run
    // statement would keep them to the end, which is quadratic. ANALYZE replans.
    for (let done = 0; done < n; done += ENQUEUE_CHUNK) {
      await this.q(`select count(pgflow.start_flow('bench_single', '{}'::jsonb)) from generate_series(1, $1)`,
        [Math.min(ENQUEUE_CHUNK, n - done)]);
      await this.q('analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
    }
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
