import { Pool, PoolClient } from 'pg';
import { createTestDatabase, TestDatabase } from './database';

/**
 * Per-file fixture for SQL-level tests: a fresh migrated database and a pg pool,
 * both torn down after the file.
 */
export function useSqlDatabase(): { pool: () => Pool; db: () => TestDatabase } {
  let database: TestDatabase | undefined;
  let pool: Pool | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new Pool({ connectionString: database.url, max: 6 });
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });
  return {
    pool: () => {
      if (!pool) throw new Error('pool used outside a test');
      return pool;
    },
    db: () => {
      if (!database) throw new Error('database used outside a test');
      return database;
    },
  };
}

/** Runs fn on one dedicated connection (for LISTEN or session-level state). */
export async function withClient<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}
