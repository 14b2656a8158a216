import { QueryRunner } from 'typeorm';
import { PGFLOW_MIGRATIONS } from '../db/pgflow-migrations';

/** A migration's `up()` as the statements it sends, in order. */
export interface MigrationSql {
  name: string;
  statements: string[];
}

/**
 * Runs each migration's `up()` against a query runner that records instead of
 * executing, so the SQL printed is exactly what `migrate` sends, whatever each
 * migration assembles (a migration may re-apply functions of an earlier one).
 */
export async function migrationSql(): Promise<MigrationSql[]> {
  const result: MigrationSql[] = [];
  for (const M of PGFLOW_MIGRATIONS) {
    const migration = new M();
    const statements: string[] = [];
    const recorder = {
      // the CLI's `sql` output is applied one migration per transaction (its header says so)
      isTransactionActive: true,
      query: async (sql: string, params?: unknown[]): Promise<void> => {
        if (params?.length) throw new Error(`${migration.name} sends a statement with parameters; it cannot be printed`);
        statements.push(sql);
      },
    };
    // pgflow's migrations only call query(); any other QueryRunner method would fail with a TypeError
    await migration.up(recorder as unknown as QueryRunner);
    result.push({ name: migration.name ?? M.name, statements });
  }
  return result;
}
