import { randomBytes } from 'crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { PGFLOW_MIGRATIONS } from '../../migrations';
import { adminQuery, withDatabase } from './database';

const LOCAL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Picks the server (DATABASE_URL, else local 127.0.0.1:5432, else a throwaway
 * container) and builds one migrated template database that every test file clones.
 */
export default async function globalSetup(): Promise<void> {
  // each jest project that needs a database names this setup; the first one builds it
  if (process.env.PGFLOW_TEST_TEMPLATE) return;
  let adminUrl: string;
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
    console.log(`\n[pgflow tests] using DATABASE_URL (${new URL(adminUrl).host})`);
  } else if (await reachable(LOCAL_URL)) {
    adminUrl = LOCAL_URL;
    console.log('\n[pgflow tests] using local Postgres at 127.0.0.1:5432');
  } else {
    console.log('\n[pgflow tests] no DATABASE_URL and nothing on 127.0.0.1:5432; starting a container');
    try {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:15-alpine').start();
      (globalThis as { __PGFLOW_CONTAINER__?: unknown }).__PGFLOW_CONTAINER__ = container;
      adminUrl = container.getConnectionUri();
      console.log(`[pgflow tests] using container ${adminUrl}`);
    } catch (err) {
      throw new Error(`[pgflow tests] no Postgres available: set DATABASE_URL, start a server on ` +
        `127.0.0.1:5432, or run Docker for testcontainers (${(err as Error).message})`);
    }
  }

  const template = `pgflow_tpl_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${template}`);
  const ds = new DataSource({
    type: 'postgres',
    url: withDatabase(adminUrl, template),
    migrations: PGFLOW_MIGRATIONS,
    migrationsTableName: 'migrations',
  });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'all' });
  await ds.destroy();

  process.env.PGFLOW_TEST_ADMIN_URL = adminUrl;
  process.env.PGFLOW_TEST_TEMPLATE = template;
}
