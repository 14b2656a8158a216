import { DataSource, Migration, MigrationExecutor } from 'typeorm';
import { PGFLOW_MIGRATIONS } from './pgflow-migrations';
import { SQL } from './queries/statement';

// Any fixed 64-bit key works; this one is 0x7067666c6f77, "pgflow" in ASCII. Written in
// decimal: hexadecimal integer literals need Postgres 16.
const MIGRATION_LOCK_KEY = '123589402324855';

/**
 * TypeORM's executor with pgflow's migrations instead of the DataSource's own: it
 * still records them in the DataSource's migrations table (`migrationsTableName`,
 * schema), so `dataSource.runMigrations()` and this runner agree on what ran.
 */
class PgflowMigrationExecutor extends MigrationExecutor {
  protected override getMigrations(): Migration[] {
    return PGFLOW_MIGRATIONS.map((M) => {
      const instance = new M();
      return new Migration(undefined, Number(instance.name.slice(-13)), instance.name, instance);
    });
  }
}

/**
 * Applies pgflow's pending migrations (only pgflow's), recorded in the DataSource's
 * own migrations table so they interoperate with `dataSource.runMigrations()`.
 *
 * Everything happens in one transaction on one connection: a transaction-level
 * advisory lock first, so instances booting at once take turns and each reads what
 * ran only once it holds the lock; then every pending migration; then the commit,
 * which releases the lock. No session state, so it works through a transaction-mode
 * pooler (PgBouncer), where a session lock would be taken on one server connection
 * and the migrations run on another. Works with a DataSource from another copy of
 * typeorm too: only its QueryRunner, driver and manager are used.
 */
export async function runPgflowMigrations(dataSource: DataSource): Promise<void> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    await queryRunner.startTransaction();
    try {
      await queryRunner.query(SQL.migration_lock.text, [MIGRATION_LOCK_KEY]);
      const executor = new PgflowMigrationExecutor(dataSource, queryRunner);
      // the transaction is ours: the executor starts none of its own
      executor.transaction = 'none';
      await executor.executePendingMigrations();
      await queryRunner.commitTransaction();
    } catch (err) {
      if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
      throw err;
    }
  } finally {
    await queryRunner.release();
  }
}
