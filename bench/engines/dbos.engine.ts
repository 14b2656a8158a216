import { Client } from 'pg';
import { BenchConfig } from '../support/bench.config';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { loadPeer } from '../support/peer.loader';
import { Engine, SETTINGS_ENV, settingsText, Workload, workloadsOf } from './engine';
import {
  DBOS_APP, DBOS_DEFAULTS, DBOS_QUEUE, DBOS_TUNED, DBOS_VERSION, DBOS_WORKFLOWS, DBOSClient, DBOSEnqueueOptions, DBOSModule, DBOSSettings,
} from './dbos.types';

const DB = 'bench_dbos';

/** DBOS Transact: durable workflows whose steps are checkpointed in Postgres; work reaches workers through a queue. */
export class DbosEngine implements Engine {
  readonly family = 'dbos';
  readonly worker = 'dbos';
  readonly key: string;
  readonly label: string;
  readonly workloads: ReadonlySet<Workload>;
  readonly notes: string[];
  private readonly settings: DBOSSettings;

  constructor(readonly kind: 'defaults' | 'tuned') {
    this.key = `dbos-${kind}`;
    this.settings = kind === 'tuned' ? DBOS_TUNED : DBOS_DEFAULTS;
    this.label = kind === 'tuned'
      ? `DBOS Transact (tuned: workerConcurrency ${DBOS_TUNED.queue.workerConcurrency}, polling ${DBOS_TUNED.queue.minPollingIntervalMs} ms)`
      : 'DBOS Transact (defaults)';
    this.workloads = workloadsOf(kind);
    this.notes = [kind === 'tuned'
      ? `registerQueue(name, ${settingsText(DBOS_TUNED.queue)}), getResult/waitAll({ pollingIntervalMs: ` +
        `${DBOS_TUNED.resultPollMs} }): fast polling and the worker concurrency that drained fastest here (30, 100, 200, ` +
        '400 tried; without a limit, its default, a poll starts every queued workflow at once and the drain stalls, see ' +
        'the defaults row). W1: one-step workflows, enqueued ' +
        'by its SQL function dbos.enqueue_workflow in one statement; W2: one workflow of 3 steps; W3: a workflow starting ' +
        '10,000 child workflows on the queue, waiting for all, summing results'
      : `@dbos-inc/dbos-sdk ${DBOS_VERSION}: DBOSClient.registerQueue(name) with no parameters (no concurrency limit, ` +
        'minPollingIntervalMs 1000: a poll dequeues every ready workflow), getResult() polling every 1000 ms'];
  }

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
    await this.client.registerQueue(DBOS_QUEUE, { ...this.settings.queue, applicationName: DBOS_APP, onConflict: 'always_update' });
    this.sql = await connect(this.url);
  }

  async teardown(): Promise<void> {
    await this.sql?.end();
    await this.client?.destroy();
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    return { BENCH_DB_URL: this.url, [SETTINGS_ENV]: JSON.stringify(this.settings) };
  }

  async reset(): Promise<void> {
    await this.q('truncate dbos.workflow_status cascade');
  }

  async enqueueSingles(n: number): Promise<void> {
    // DBOS's SQL entry point (what DBOSClient.enqueue writes, one row per workflow), in
    // one statement: the client's enqueueInTransaction took 15 s for 20,000 here
    await this.q('select count(dbos.enqueue_workflow($1, $2, application_name => $3)) from generate_series(1, $4)',
      [DBOS_WORKFLOWS.single, DBOS_QUEUE, DBOS_APP, n]);
    await this.q('analyze dbos.workflow_status');
  }

  async countCompleted(): Promise<number> {
    const r = await this.q(`select count(*)::int as n from dbos.workflow_status where name = $1 and status = 'SUCCESS'`,
      [DBOS_WORKFLOWS.single]);
    return r[0].n as number;
  }

  async chain(): Promise<void> {
    const handle = await this.dbos().enqueue(this.opts(DBOS_WORKFLOWS.chain));
    await handle.getResult(this.polling());
  }

  async fanout(n: number, timeoutMs: number): Promise<void> {
    const handle = await this.dbos().enqueue(this.opts(DBOS_WORKFLOWS.fanout), n);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        handle.getResult(this.polling()),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`fan-out not done within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private polling(): { pollingIntervalMs?: number } {
    return { pollingIntervalMs: this.settings.resultPollMs };
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
