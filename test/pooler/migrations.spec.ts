import { randomBytes } from 'crypto';
import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { PgflowClient, PGFLOW_MIGRATIONS, Step, Workflow } from '../../lib';
import { runPgflowMigrations } from '../../lib/db/migrations.runner';
import { adminQuery, testServer, withDatabase } from '../support/database';
import { usePooledDatabase } from './pooler-harness';

@Workflow({ slug: 'pooled_echo' })
class PooledEchoFlow {
  @Step()
  echo(input: { run: unknown }) {
    return input.run;
  }
}

/** An app's own migration: pgflow's runner must leave it to the app. */
class AppTable1700000000000 implements MigrationInterface {
  name = 'AppTable1700000000000';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('create table app_table (id int)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('drop table app_table');
  }
}

const NAMES = PGFLOW_MIGRATIONS.map((M) => new M().name);

describe('pgflow migrations through PgBouncer in transaction mode', () => {
  const { bouncer, createApp, closeApp } = usePooledDatabase();
  const { adminUrl } = testServer();
  const created: string[] = [];

  /** A new, empty database: its direct URL and its URL through the pooler. */
  async function emptyDatabase(): Promise<{ direct: string; pooled: string }> {
    const name = `pgflow_pooled_${randomBytes(6).toString('hex')}`;
    await adminQuery(adminUrl, `create database ${name}`);
    created.push(name);
    const direct = withDatabase(adminUrl, name);
    return { direct, pooled: bouncer().url(direct) };
  }

  async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** Advisory locks held on the database, by any session (a pooled server connection would keep one). */
  const advisoryLocks = (direct: string) => query<{ n: number }>(direct,
    `select count(*)::int n from pg_locks where locktype = 'advisory' and database =
       (select oid from pg_database where datname = current_database())`);

  afterAll(async () => {
    // the pooler (stopped by the fixture) may still hold server connections to these
    for (const name of created) await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
  });

  it('migrationsRun: two apps booting at once on an empty database both succeed; the schema is made once', async () => {
    const { direct, pooled } = await emptyDatabase();
    const boot = () => createApp({
      providers: [PooledEchoFlow],
      pgflow: { dataSource: { type: 'postgres', url: pooled, poolSize: 4 }, migrationsRun: true },
    });
    const [a, b] = await Promise.all([boot(), boot()]);
    expect(await query(direct, `select count(*)::int n from pg_namespace where nspname = 'pgflow'`)).toEqual([{ n: 1 }]);
    expect(await query(direct, 'select name from migrations order by id')).toEqual(NAMES.map((name) => ({ name })));
    expect(await advisoryLocks(direct)).toEqual([{ n: 0 }]);
    await expect(a.app.get(PgflowClient).execute(PooledEchoFlow, 'a', { timeoutMs: 30_000 })).resolves.toEqual({ echo: 'a' });
    await expect(b.app.get(PgflowClient).execute(PooledEchoFlow, 'b', { timeoutMs: 30_000 })).resolves.toEqual({ echo: 'b' });
    await closeApp(a);
    await closeApp(b);

    // a later boot finds nothing to do, and is not kept waiting by a lock left behind
    const c = await boot();
    expect(await query(direct, 'select count(*)::int n from migrations')).toEqual([{ n: NAMES.length }]);
    await closeApp(c);
  });

  it('runs only pgflow\'s migrations, in the DataSource\'s own table, with a DataSource from another copy of typeorm', async () => {
    const { direct, pooled } = await emptyDatabase();
    let Foreign!: typeof DataSource;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      Foreign = (require('typeorm') as typeof import('typeorm')).DataSource;
    });
    expect(Foreign).not.toBe(DataSource);
    const options = { type: 'postgres' as const, url: pooled, migrationsTableName: 'app_migrations', logging: false };
    const foreign = new Foreign({ ...options, migrations: [AppTable1700000000000] });
    await foreign.initialize();
    try {
      // the app already applied pgflow's first migration itself
      const first = new DataSource({ ...options, migrations: PGFLOW_MIGRATIONS.slice(0, 1) });
      await first.initialize();
      await first.runMigrations({ transaction: 'each' });
      await first.destroy();

      await runPgflowMigrations(foreign);
      expect(await query(direct, 'select name from app_migrations order by id')).toEqual(NAMES.map((name) => ({ name })));
      expect(await query(direct, `select to_regclass('app_table') is null as absent`)).toEqual([{ absent: true }]);
      expect(await query(direct, `select to_regclass('migrations') is null as absent`)).toEqual([{ absent: true }]);
      expect(await advisoryLocks(direct)).toEqual([{ n: 0 }]);

      // and TypeORM agrees: with pgflow's migrations nothing is pending; the app's own one still is
      const later = new DataSource({ ...options, migrations: [...PGFLOW_MIGRATIONS, AppTable1700000000000] });
      await later.initialize();
      try {
        const ran = await later.runMigrations({ transaction: 'each' });
        expect(ran.map((m) => m.name)).toEqual(['AppTable1700000000000']);
      } finally {
        await later.destroy();
      }
      await runPgflowMigrations(foreign); // nothing left: a no-op
      expect(await query(direct, 'select count(*)::int n from app_migrations')).toEqual([{ n: NAMES.length + 1 }]);
    } finally {
      await foreign.destroy();
    }
  });

  it('applies all pending migrations in one transaction: a failure leaves nothing behind, and a retry succeeds', async () => {
    const { direct, pooled } = await emptyDatabase();
    // 0001 creates pgflow.flows and pgflow.steps before it fails on this table
    await query(direct, 'create schema pgflow; create table pgflow.step_tasks (x int)');
    const ds = new DataSource({ type: 'postgres', url: pooled, logging: false });
    await ds.initialize();
    try {
      await expect(runPgflowMigrations(ds)).rejects.toThrow(/relation "step_tasks" already exists/);
      expect(await query(direct, `select to_regclass('pgflow.flows') is null as absent`)).toEqual([{ absent: true }]);
      expect(await query(direct, `select to_regclass('migrations') is null as absent`)).toEqual([{ absent: true }]);
      expect(await advisoryLocks(direct)).toEqual([{ n: 0 }]);

      await query(direct, 'drop table pgflow.step_tasks');
      await runPgflowMigrations(ds);
      expect(await query(direct, 'select name from migrations order by id')).toEqual(NAMES.map((name) => ({ name })));
    } finally {
      await ds.destroy();
    }
  });
});
