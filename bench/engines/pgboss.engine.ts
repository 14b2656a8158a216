import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { BenchConfig } from '../support/bench.config';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { DoneListener } from '../support/done.listener';
import { loadPeer } from '../support/peer.loader';
import { Engine, Workload } from './engine';
import { PGBOSS_QUEUES, PGBOSS_VERSION, PGBOSS_WORK, PgBoss, PgBossConstructor } from './pgboss.types';

const DB = 'bench_pgboss';
const INSERT_CHUNK = 5000;

/** pg-boss: Postgres job queue; chains and fan-out are built from jobs by the handlers. */
export class PgBossEngine implements Engine {
  readonly key = 'pgboss';
  readonly label = 'pg-boss';
  readonly workloads: ReadonlySet<Workload> = new Set<Workload>(['throughput', 'latency', 'fanout', 'memory']);
  readonly notes = [`pg-boss ${PGBOSS_VERSION} (latest for Node 20; 11+ needs Node 22): ${PGBOSS_WORK.loops} work() loops per queue, ` +
    `batchSize ${PGBOSS_WORK.batchSize}, pollingIntervalSeconds ${PGBOSS_WORK.pollingIntervalSeconds} (its minimum; v10 waits ` +
    'that long after every fetch). Chain: each handler sends the next job; fan-out: item handlers decrement a counter row ' +
    'and the last sends the aggregate job; the final handler NOTIFYs the client'];
  private serverUrl = '';
  private url = '';
  private boss?: PgBoss;
  private sql?: Client;
  private done?: DoneListener;

  async setup(config: BenchConfig): Promise<void> {
    this.serverUrl = config.pgUrl;
    this.url = await freshDatabase(config.pgUrl, DB);
    const PgBossClass = loadPeer<PgBossConstructor>('pg-boss');
    const boss = new PgBossClass({ connectionString: this.url, max: 4, supervise: false, schedule: false });
    boss.on('error', (err) => console.error(`[pg-boss] ${err.message}`));
    await boss.start();
    for (const q of [PGBOSS_QUEUES.single, ...PGBOSS_QUEUES.chain, PGBOSS_QUEUES.item, PGBOSS_QUEUES.total]) await boss.createQueue(q);
    this.boss = boss;
    this.sql = await connect(this.url);
    await this.sql.query('create table bench_fanout (id text primary key, remaining int not null)');
    this.done = await DoneListener.connect(this.url);
  }

  async teardown(): Promise<void> {
    await this.done?.close();
    await this.sql?.end();
    await this.boss?.stop({ graceful: false, wait: true });
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    return { BENCH_DB_URL: this.url };
  }

  async reset(): Promise<void> {
    await this.q('truncate pgboss.job, pgboss.archive, bench_fanout');
  }

  async enqueueSingles(n: number): Promise<void> {
    for (let done = 0; done < n; done += INSERT_CHUNK) {
      const jobs = Array.from({ length: Math.min(INSERT_CHUNK, n - done) }, () => ({ name: PGBOSS_QUEUES.single, data: {} }));
      await this.pgboss().insert(jobs);
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
      const jobs = Array.from({ length: Math.min(INSERT_CHUNK, n - done) }, (_, i) => ({ name: PGBOSS_QUEUES.item, data: { id, n: done + i } }));
      await this.pgboss().insert(jobs);
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
