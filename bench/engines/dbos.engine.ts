import { Client } from 'pg';
import { BenchConfig } from '../support/bench.config';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { loadPeer } from '../support/peer.loader';
import { Engine, Workload } from './engine';
import {
  DBOS_APP, DBOS_QUEUE, DBOS_QUEUE_OPTIONS, DBOS_RESULT_POLL_MS, DBOS_VERSION, DBOS_WORKFLOWS, DBOSClient, DBOSEnqueueOptions, DBOSModule,
} from './dbos.types';

const DB = 'bench_dbos';

/** DBOS Transact: durable workflows whose steps are checkpointed in Postgres; work reaches workers through a queue. */
export class DbosEngine implements Engine {
  readonly key = 'dbos';
  readonly label = 'DBOS Transact';
  readonly workloads: ReadonlySet<Workload> = new Set<Workload>(['throughput', 'latency', 'fanout', 'memory']);
  readonly notes = [`@dbos-inc/dbos-sdk ${DBOS_VERSION}: workflows enqueued by DBOSClient on a queue with workerConcurrency ` +
    `${DBOS_QUEUE_OPTIONS.workerConcurrency} and minPollingIntervalMs ${DBOS_QUEUE_OPTIONS.minPollingIntervalMs} (default 1000); ` +
    `results polled every ${DBOS_RESULT_POLL_MS} ms (default 1000). W1: one-step workflows, enqueued in one transaction; W2: one ` +
    'workflow of 3 steps; W3: a workflow starting 10,000 child workflows on the queue, waiting for all, summing results'];
  private serverUrl = '';
  private url = '';
  private client?: DBOSClient;
  private sql?: Client;

  async setup(config: BenchConfig): Promise<void> {
    this.serverUrl = config.pgUrl;
    this.url = await freshDatabase(config.pgUrl, DB);
    const dbos = loadPeer<DBOSModule>('@dbos-inc/dbos-sdk');
    await dbos.DBOS.migrate(this.url);
    this.client = await dbos.DBOSClient.create({ systemDatabaseUrl: this.url, applicationName: DBOS_APP });
    await this.client.registerQueue(DBOS_QUEUE, { ...DBOS_QUEUE_OPTIONS, applicationName: DBOS_APP, onConflict: 'always_update' });
    this.sql = await connect(this.url);
  }

  async teardown(): Promise<void> {
    await this.sql?.end();
    await this.client?.destroy();
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    return { BENCH_DB_URL: this.url };
  }

  async reset(): Promise<void> {
    await this.q('truncate dbos.workflow_status cascade');
  }

  async enqueueSingles(n: number): Promise<void> {
    const sql = this.db();
    await sql.query('begin');
    try {
      for (let i = 0; i < n; i++) await this.dbos().enqueueInTransaction(sql, this.opts(DBOS_WORKFLOWS.single));
      await sql.query('commit');
    } catch (err) {
      await sql.query('rollback');
      throw err;
    }
    await this.q('analyze dbos.workflow_status');
  }

  async countCompleted(): Promise<number> {
    const r = await this.q(`select count(*)::int as n from dbos.workflow_status where name = $1 and status = 'SUCCESS'`,
      [DBOS_WORKFLOWS.single]);
    return r[0].n as number;
  }

  async chain(): Promise<void> {
    const handle = await this.dbos().enqueue(this.opts(DBOS_WORKFLOWS.chain));
    await handle.getResult({ pollingIntervalMs: DBOS_RESULT_POLL_MS });
  }

  async fanout(n: number, timeoutMs: number): Promise<void> {
    const handle = await this.dbos().enqueue(this.opts(DBOS_WORKFLOWS.fanout), n);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        handle.getResult({ pollingIntervalMs: DBOS_RESULT_POLL_MS }),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`fan-out not done within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private opts(workflowName: string): DBOSEnqueueOptions {
    return { queueName: DBOS_QUEUE, workflowName, applicationName: DBOS_APP };
  }

  private dbos(): DBOSClient {
    if (!this.client) throw new Error('setup() first');
    return this.client;
  }

  private db(): Client {
    if (!this.sql) throw new Error('setup() first');
    return this.sql;
  }

  private async q(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    return (await this.db().query(sql, params)).rows;
  }
}
