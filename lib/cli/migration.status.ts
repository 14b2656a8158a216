import { DataSource, MigrationExecutor } from 'typeorm';
import { PGFLOW_MIGRATIONS } from '../db/pgflow-migrations';

/** One of pgflow's migrations and whether the database's migrations table records it. */
export interface MigrationState {
  name: string;
  applied: boolean;
}

/** Names of pgflow's migrations, oldest first (as TypeORM records them). */
export function pgflowMigrationNames(): string[] {
  return PGFLOW_MIGRATIONS.map((M) => new M().name ?? M.name);
}

/** pgflow's migrations against the DataSource's migrations table; reads only (a missing table: none applied). */
export async function migrationStates(dataSource: DataSource): Promise<MigrationState[]> {
  const executed = new Set((await new MigrationExecutor(dataSource).getExecutedMigrations()).map((m) => m.name));
  return pgflowMigrationNames().map((name) => ({ name, applied: executed.has(name) }));
}
