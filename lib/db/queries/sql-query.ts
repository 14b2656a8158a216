/**
 * Runs one parameterized statement and resolves with its rows. The client passes
 * its PgflowDatabase, the CLI a DataSource of its own: the queries below serve both.
 */
export type SqlQuery = <T>(sql: string, params?: unknown[]) => Promise<T[]>;
