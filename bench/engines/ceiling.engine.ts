import { Client } from 'pg';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { BenchConfig } from '../support/bench.config';
import { Engine, SETTINGS_ENV, Workload } from './engine';

const DB = 'bench_ceiling';

/** Loops per worker process; see workers/ceiling.worker.ts. */
export const CEILING_LOOPS = 2;

/** What a ceiling worker is told: its loops and how many rows each claims at a time. */
export interface CeilingSettings {
  loops: number;
  claim: number;
}

/**
 * The machine's raw Postgres limit for a job queue: a plain table, a partial index on
 * the queued rows, and per loop `claim N with SKIP LOCKED` then `complete those N`.
 * No inputs, no outputs, no runs or steps: what any Postgres engine pays at least for
 * claims of N.
 */
export class CeilingEngine implements Engine {
  readonly family = 'ceiling';
  readonly worker = 'ceiling';
  readonly kind = 'ceiling';
  readonly key: string;
  readonly label: string;
  readonly workloads: ReadonlySet<Workload> = new Set<Workload>(['throughput']);
  readonly notes: string[];
  private serverUrl = '';
  private url = '';
  private sql?: Client;

  constructor(readonly claim: number) {
    this.key = `ceiling-${claim}`;
    this.label = `raw pg ceiling, claim ${claim} → complete ${claim}`;
    this.notes = [`plain table + partial index on the queued rows; each process runs ${CEILING_LOOPS} connections looping ` +
      `"claim ${claim} (FOR UPDATE SKIP LOCKED) → mark those ${claim} done" (two statements, autocommit)`];
  }

  async setup(config: BenchConfig): Promise<void> {
    this.serverUrl = config.pgUrl;
    this.url = await freshDatabase(config.pgUrl, DB);
    this.sql = await connect(this.url);
    await this.sql.query(`
      create table jobs (
        id bigint generated always as identity primary key,
        status smallint not null default 0,
        payload jsonb not null default '{}',
        claimed_at timestamptz,
        completed_at timestamptz
      );
      create index jobs_queued_idx on jobs (id) where status = 0;
      alter table jobs set (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, fillfactor = 80);`);
  }

  async teardown(): Promise<void> {
    await this.sql?.end();
    await dropDatabase(this.serverUrl, DB);
  }

  workerEnv(): Record<string, string> {
    const settings: CeilingSettings = { loops: CEILING_LOOPS, claim: this.claim };
    return { BENCH_DB_URL: this.url, [SETTINGS_ENV]: JSON.stringify(settings) };
  }

  async reset(): Promise<void> {
    await this.sql?.query('truncate jobs');
  }

  async enqueueSingles(n: number): Promise<void> {
    await this.sql?.query('insert into jobs (payload) select \'{}\'::jsonb from generate_series(1, $1)', [n]);
    await this.sql?.query('analyze jobs');
  }

  async countCompleted(): Promise<number> {
    const r = await this.sql?.query<{ n: number }>('select count(*)::int as n from jobs where status = 2');
    return r?.rows[0].n ?? 0;
  }
}
