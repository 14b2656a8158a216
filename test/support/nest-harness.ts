import { INestApplicationContext, Provider, Type } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { PgflowModule, PgflowModuleOptions } from '../../lib';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { createTestDatabase, TestDatabase } from './database';

export interface AppOptions {
  providers?: Provider[];
  imports?: Type<unknown>[];
  worker?: PgflowModuleOptions['worker'];
  pgflow?: Partial<PgflowModuleOptions>;
}

/**
 * Per-file fixture for e2e tests: a fresh database, and a factory of real Nest
 * application contexts on it; every app and the database are closed after the file.
 */
export function useNestApps(): {
  db: () => TestDatabase;
  createApp: (opts?: AppOptions) => Promise<TestingModule>;
  closeApp: (app: TestingModule) => Promise<void>;
  /** A plain pg connection to the file's database, opened on first use, closed before the drop. */
  sql: () => Promise<Client>;
  /** One query on the file's database, through `sql()`; returns the rows. */
  query: <T>(text: string, params?: unknown[]) => Promise<T[]>;
} {
  let database: TestDatabase | undefined;
  let client: Promise<Client> | undefined;
  const apps = new Set<TestingModule>();
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    for (const app of [...apps]) await closeApp(app);
  });
  afterAll(async () => {
    if (client) await (await client).end();
    await database?.drop();
  });
  const db = () => {
    if (!database) throw new Error('database used outside a test');
    return database;
  };
  async function createApp(opts: AppOptions = {}): Promise<TestingModule> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        PgflowModule.forRoot({
          dataSource: { type: 'postgres', url: db().url, poolSize: 10 },
          worker: { pollIntervalMs: 200, heartbeatIntervalMs: 1000, shutdownTimeoutMs: 5000, ...opts.worker },
          ...opts.pgflow,
        }),
        ...(opts.imports ?? []),
      ],
      providers: opts.providers ?? [],
    }).compile();
    apps.add(moduleRef);
    try {
      await moduleRef.init();
    } catch (err) {
      await closeApp(moduleRef);
      throw err;
    }
    return moduleRef;
  }
  async function closeApp(app: TestingModule): Promise<void> {
    apps.delete(app);
    await app.close();
  }
  const sql = () => {
    client ??= (async () => {
      const c = new Client({ connectionString: db().url });
      await c.connect();
      return c;
    })();
    return client;
  };
  const query = async <T>(text: string, params: unknown[] = []): Promise<T[]> =>
    (await (await sql()).query(text, params)).rows as T[];
  return { db, createApp, closeApp, sql, query };
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000,
  what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Ad-hoc SQL on an app's own DataSource (what a test inspects or sets up directly). */
export function appSql(app: Pick<INestApplicationContext, 'get'>): {
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
} {
  const { dataSource } = app.get<PgflowDatabase>(PgflowDatabase);
  return { query: (text, params = []) => dataSource.query(text, params) };
}
