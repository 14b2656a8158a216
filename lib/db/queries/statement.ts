import type { EntityManager } from 'typeorm';
import { SQL } from './sql.generated';

/** A statement of lib/db/queries/sql (`SQL.<file name>`). */
export interface Statement {
  /** Its name as a prepared statement: `pgflow_<file name>`. */
  readonly name: string;
  readonly text: string;
  /** Sent as a named prepared statement, planned once per connection (the hot path). */
  readonly prepared: boolean;
}

/**
 * Runs one statement with bound parameters. The app's PgflowDatabase and the CLI's
 * DataSource both implement it, so the typed queries in this folder serve both.
 */
export interface Queryable {
  /** `manager`: inside the caller's transaction (`startRun({ manager })`). */
  run<T>(statement: Statement, params: readonly unknown[], manager?: EntityManager): Promise<T[]>;
}

export { SQL };
