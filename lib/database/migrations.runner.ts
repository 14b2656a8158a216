import { DataSource } from 'typeorm';
import { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';
import { PGFLOW_MIGRATIONS } from '../../migrations';

// Any fixed 64-bit key works; this one is 0x7067666c6f77, "pgflow" in ASCII. Written in
// decimal: hexadecimal integer literals need Postgres 16.
const MIGRATION_LOCK_KEY = '123589402324855';

/**
 * Applies pgflow's pending migrations (only pgflow's), recorded in the DataSource's
 * own migrations table so they interoperate with `dataSource.runMigrations()`.
 * A session advisory lock serializes instances that boot at the same time.
 */
export async function runPgflowMigrations(dataSource: DataSource): Promise<void> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query(`select pg_advisory_lock(${MIGRATION_LOCK_KEY}::bigint)`);
    const runner = new DataSource({
      ...(dataSource.options as PostgresConnectionOptions),
      name: undefined,
      entities: [],
      subscribers: [],
      migrations: PGFLOW_MIGRATIONS,
      synchronize: false,
      migrationsRun: false,
      dropSchema: false,
      logging: false,
      poolSize: 1,
    });
    await runner.initialize();
    try {
      await runner.runMigrations({ transaction: 'each' });
    } finally {
      await runner.destroy();
    }
  } finally {
    await lock.query(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY}::bigint)`).catch(() => undefined);
    await lock.release();
  }
}
