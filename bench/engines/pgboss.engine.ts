import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { BenchConfig } from '../support/bench.config';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { DoneListener } from '../support/done.listener';
import { loadPeer } from '../support/peer.loader';
import { Engine, SETTINGS_ENV, settingsText, Workload, workloadsOf } from './engine';
import {
  PGBOSS_DEFAULTS, PGBOSS_QUEUES, PGBOSS_TUNED, PGBOSS_VERSION, PgBoss, PgBossModule, PgBossSettings,
} from './pgboss.types';

const DB = 'bench_pgboss';
const INSERT_CHUNK = 5000;

/** pg-boss: Postgres job queue; chains and fan-out are built from jobs by the handlers. */
export class PgBossEngine implements Engine {
  readonly family = 'pgboss';
  readonly worker = 'pgboss';
  readonly key: string;
  readonly label: string;
  readonly workloads: ReadonlySet<Workload>;
  readonly notes: string[];
  private readonly settings: PgBossSettings;

  constructor(readonly kind: 'defaults' | 'tuned') {
    this.key = `pgboss-${kind}`;
    this.settings = kind === 'tuned' ? PGBOSS_TUNED : PGBOSS_DEFAULTS;
    const w = PGBOSS_TUNED.work ?? {};
    this.label = kind === 'tuned'
      ? `pg-boss (tuned: batchSize ${w.batchSize} ×${w.localConcurrency}, LISTEN/NOTIFY)`
      : 'pg-boss (defaults)';
    this.workloads = workloadsOf(kind);
    this.notes = [kind === 'tuned'
      ? `pg-boss ${PGBOSS_VERSION} (declares Node >= 22.12; installed by exact version, runs on this Node 20): ` +
        `new PgBoss({ connectionString, useListenNotify: true }), createQueue(name, { notify: true }), ` +
        `work(name, ${settingsText(w)}, handler) per queue — ` +
        'the throughput and LISTEN/NOTIFY options of its workers docs (docs/api/workers.md); constructor defaults otherwise'
      : `pg-boss ${PGBOSS_VERSION}: its README quick start — new PgBoss(connectionString), createQueue(name), ` +
        'work(name, handler): one worker per queue fetching 1 job, then waiting out pollingIntervalSeconds 2 after a ' +
        'fetch (no LISTEN/NOTIFY)',
    ...(kind === 'tuned' ? ['pg-boss: chain: each handler sends the next job; fan-out: item handlers decrement a counter row ' +
      'per batch and the last sends the aggregate job; the final handler NOTIFYs the client'] : [])];
  }

  private serverUrl = '';
  private url = '';
  private boss?: PgBoss;
  private sql?: Client;
  private done?: DoneListener;

  async setup(config: BenchConfig): Promise<void> {
    this.serverUrl = config.pgUrl;
    this.url = await freshDatabase(config.pgUrl, DB);
    const { PgBoss: PgBossClass } = loadPeer<PgBossModule>('pg-boss');
    // the orchestrator's instance only writes and reads jobs: no maintenance, no cron
    const boss = new PgBossClass({ connectionString: this.url, max: 4, supervise: false, schedule: false });
    boss.on('error', (err) => console.error(`[pg-boss] ${err.message}`));
    await boss.start();
    const queue = { notify: this.settings.notify };
    for (const q of [PGBOSS_QUEUES.single, ...PGBOSS_QUEUES.chain, PGBOSS_QUEUES.item, PGBOSS_QUEUES.total]) await boss.createQueue(q, queue);
    this.boss = boss;
    this.sql = await connect(this.url);
    await this.sql.query('create table bench_fanout (id text primary key, remaining int not null)');
    this.done = await DoneListener.connect(this.url);
  }

  async teardown(): Promise<void> {
    await this.done?.close();
    await this.sql?.end();
    await this.boss?.stop({ graceful: false });
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    return { BENCH_DB_URL: this.url, [SETTINGS_ENV]: JSON.stringify(this.settings) };
  }

  async reset(): Promise<void> {
    await this.q('truncate pgboss.job, bench_fanout');
  }

  async enqueueSingles(n: number): Promise<void> {
    for (let done = 0; done < n; done += INSERT_CHUNK) {
      const jobs = Array.from({ length: Math.min(INSERT_CHUNK, n - done) }, () => ({ data: {} }));
      await this.pgboss().insert(PGBOSS_QUEUES.single, jobs);
    }
    await this.q('analyze pgboss.job');
  }

  async countCompleted(): Promise<number> {
    const r = await this.q(`select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'`, [PGBOSS_QUEUES.single]);
    return r[0].n as number;
  }

  async chain(): Promise<void> {
    const id = randomUUID();
    const finished = this.listener().expect(id, 60_000);
    await this.pgboss().send(PGBOSS_QUEUES.chain[0], { id });
    await finished;
  }

  async fanout(n: number, timeoutMs: number): Promise<void> {
    const id = randomUUID();
    const finished = this.listener().expect(id, timeoutMs);
    await this.q('insert into bench_fanout (id, remaining) values ($1, $2)', [id, n]);
    for (let done = 0; done < n; done += INSERT_CHUNK) {
      const jobs = Array.from({ length: Math.min(INSERT_CHUNK, n - done) }, (_, i) => ({ data: { id, n: done + i } }));
      await this.pgboss().insert(PGBOSS_QUEUES.item, jobs);
    }
    await finished;
  }

  private pgboss(): PgBoss {
    if (!this.boss) throw new Error('setup() first');
    return this.boss;
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
