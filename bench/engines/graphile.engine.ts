import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { BenchConfig } from '../support/bench.config';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { DoneListener } from '../support/done.listener';
import { loadPeer } from '../support/peer.loader';
import { Engine, SETTINGS_ENV, settingsText, Workload, workloadsOf } from './engine';
import {
  GRAPHILE_DEFAULTS, GRAPHILE_TASKS, GRAPHILE_TUNED, GRAPHILE_VERSION, GraphileSettings, GraphileWorkerModule,
  GraphileWorkerUtils, quietLogger,
} from './graphile.types';

const DB = 'bench_graphile';
const ADD_CHUNK = 5000;

/** graphile-worker: Postgres job queue (LISTEN/NOTIFY); completed jobs are deleted. */
export class GraphileEngine implements Engine {
  readonly family = 'graphile';
  readonly worker = 'graphile';
  readonly key: string;
  readonly label: string;
  readonly workloads: ReadonlySet<Workload>;
  readonly notes: string[];
  private readonly settings: GraphileSettings;

  constructor(readonly kind: 'defaults' | 'tuned') {
    this.key = `graphile-${kind}`;
    this.settings = kind === 'tuned' ? GRAPHILE_TUNED : GRAPHILE_DEFAULTS;
    const t = GRAPHILE_TUNED;
    this.label = kind === 'tuned'
      ? `graphile-worker (tuned: localQueue ${t.localQueue?.size}, batched completion, concurrency ${t.concurrentJobs})`
      : 'graphile-worker (defaults)';
    this.workloads = workloadsOf(kind);
    this.notes = [kind === 'tuned'
      ? `graphile-worker ${GRAPHILE_VERSION} (declares Node >= 22.18; installed by exact version, runs on this Node 20): ` +
        `run({ connectionString, taskList, preset: { worker: ${settingsText(t)} } }) — the configuration of its ` +
        'performance docs (worker.graphile.org/docs/performance); chain: each task adds the next job; fan-out: item tasks ' +
        'decrement a counter row and the last adds the aggregate job; the final task NOTIFYs the client'
      : `graphile-worker ${GRAPHILE_VERSION}: run({ connectionString, taskList }) with its defaults — concurrentJobs 1, ` +
        'maxPoolSize 10, pollInterval 2000 (LISTEN/NOTIFY wakes it), no local queue, each completion its own statement'];
  }

  private serverUrl = '';
  private url = '';
  private utils?: GraphileWorkerUtils;
  private sql?: Client;
  private done?: DoneListener;
  private enqueued = 0;

  async setup(config: BenchConfig): Promise<void> {
    this.serverUrl = config.pgUrl;
    this.url = await freshDatabase(config.pgUrl, DB);
    const graphile = loadPeer<GraphileWorkerModule>('graphile-worker');
    const logger = quietLogger(graphile);
    await graphile.runMigrations({ connectionString: this.url, logger });
    this.utils = await graphile.makeWorkerUtils({ connectionString: this.url, logger });
    this.sql = await connect(this.url);
    await this.sql.query('create table bench_fanout (id text primary key, remaining int not null)');
    this.done = await DoneListener.connect(this.url);
  }

  async teardown(): Promise<void> {
    await this.done?.close();
    await this.sql?.end();
    await this.utils?.release();
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    return { BENCH_DB_URL: this.url, NO_LOG_SUCCESS: '1', [SETTINGS_ENV]: JSON.stringify(this.settings) };
  }

  async reset(): Promise<void> {
    await this.q('truncate graphile_worker._private_jobs, bench_fanout cascade');
    this.enqueued = 0;
  }

  async enqueueSingles(n: number): Promise<void> {
    for (let done = 0; done < n; done += ADD_CHUNK) {
      const specs = Array.from({ length: Math.min(ADD_CHUNK, n - done) }, () => ({ identifier: GRAPHILE_TASKS.single, payload: {} }));
      await this.workerUtils().addJobs(specs);
    }
    this.enqueued += n;
    await this.q('analyze graphile_worker._private_jobs');
  }

  async countCompleted(): Promise<number> {
    // a successful job is deleted: completed = enqueued − still present
    const r = await this.q(`select count(*)::int as n from graphile_worker._private_jobs j
      join graphile_worker._private_tasks t on t.id = j.task_id where t.identifier = $1`, [GRAPHILE_TASKS.single]);
    return this.enqueued - (r[0].n as number);
  }

  async chain(): Promise<void> {
    const id = randomUUID();
    const finished = this.listener().expect(id, 60_000);
    await this.workerUtils().addJobs([{ identifier: GRAPHILE_TASKS.chain[0], payload: { id } }]);
    await finished;
  }

  async fanout(n: number, timeoutMs: number): Promise<void> {
    const id = randomUUID();
    const finished = this.listener().expect(id, timeoutMs);
    await this.q('insert into bench_fanout (id, remaining) values ($1, $2)', [id, n]);
    for (let done = 0; done < n; done += ADD_CHUNK) {
      const specs = Array.from({ length: Math.min(ADD_CHUNK, n - done) }, (_, i) =>
        ({ identifier: GRAPHILE_TASKS.item, payload: { id, n: done + i } }));
      await this.workerUtils().addJobs(specs);
    }
    await finished;
  }

  private workerUtils(): GraphileWorkerUtils {
    if (!this.utils) throw new Error('setup() first');
    return this.utils;
  }

  private listener(): DoneListener {
    if (!this.done) throw new Error('setup() first');
    return this.done;
  }

  private async q(sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    if (!this.sql) throw new Error('setup() first');
    return (await this.sql.query(sql, params)).rows;
  }
}
