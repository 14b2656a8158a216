import { Provider } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { Pool } from 'pg';
import { PgflowModule, PgflowModuleOptions } from '../../lib';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { NotifyListener } from '../../lib/db/notify.listener';
import { Child, startChild } from '../support/child';
import { createTestDatabase, TestDatabase } from '../support/database';
import { PgBouncer, PgBouncerOptions, startPgBouncer } from '../support/pgbouncer';

/** Fixture worker process of these tests: the process tests' flows, through the pooler. */
export const POOLED_WORKER = 'test/pooler/fixtures/pooled-worker.ts';

/** A Nest app on the file's database through the pooler, with what pgflow warned about. */
export interface PooledApp {
  app: TestingModule;
  /** Warnings logged by pgflow's database and notification listener, in order. */
  warnings(): string[];
}

export interface PooledAppOptions {
  providers?: Provider[];
  worker?: PgflowModuleOptions['worker'];
  pgflow?: Partial<PgflowModuleOptions>;
}

export const REFUSED_WARNING = /refused a named prepared statement/;
export const POLLING_WARNING = /^LISTEN\/NOTIFY unavailable \(no notification arrived within 2 s — a transaction-mode pooler such as PgBouncer/;

/** Polls `fn` every 50 ms until it returns a truthy value; throws naming `what` after `timeoutMs`. */
export async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number,
  what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Per-file fixture: a fresh (migrated) database, a private PgBouncer in transaction mode
 * in front of the server, Nest apps and fixture worker processes that reach the database
 * only through it, and a direct pool for the test's own reads. Apps and processes are
 * closed after each test; the pooler is stopped before the database is dropped.
 */
export function usePooledDatabase(opts: PgBouncerOptions = {}): {
  db: () => TestDatabase;
  bouncer: () => PgBouncer;
  /** The file's database through the pooler. */
  pooledUrl: () => string;
  createApp: (opts?: PooledAppOptions) => Promise<PooledApp>;
  closeApp: (app: PooledApp) => Promise<void>;
  /** A fixture worker process (see fixtures/pooled-worker.ts for its env), through the pooler. */
  spawnWorker: (id: string, env?: Record<string, string | number>) => Child;
  /** One query on the file's database, directly (not through the pooler). */
  query: <T>(sql: string, params?: unknown[]) => Promise<T[]>;
} {
  let database: TestDatabase | undefined;
  let pgbouncer: PgBouncer | undefined;
  let pool: Pool | undefined;
  const apps = new Set<PooledApp>();
  const children = new Set<Child>();

  const db = () => {
    if (!database) throw new Error('database used outside a test');
    return database;
  };
  const bouncer = () => {
    if (!pgbouncer) throw new Error('pgbouncer used outside a test');
    return pgbouncer;
  };
  const pooledUrl = () => bouncer().url(db().url);

  async function closeAll(): Promise<void> {
    for (const app of [...apps]) await closeApp(app);
    await Promise.all([...children].map(async (child) => {
      child.kill('SIGKILL');
      await child.exited();
    }));
    children.clear();
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    pgbouncer = await startPgBouncer(database.url, opts);
    pool = new Pool({ connectionString: database.url, max: 2 });
  });
  afterEach(closeAll);
  afterAll(async () => {
    await closeAll();
    await pool?.end();
    await pgbouncer?.stop();
    await database?.drop();
  });

  async function createApp(o: PooledAppOptions = {}): Promise<PooledApp> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        PgflowModule.forRoot({
          dataSource: { type: 'postgres', url: pooledUrl(), poolSize: 10 },
          worker: { pollIntervalMs: 200, heartbeatIntervalMs: 1000, shutdownTimeoutMs: 5000, ...o.worker },
          ...o.pgflow,
        }),
      ],
      providers: o.providers ?? [],
    }).compile();
    // providers exist now; the listener probes and the worker claims only from init()
    const warnings: string[] = [];
    const prepared = moduleRef.get(PgflowDatabase)['prepared'];
    if (!prepared) throw new Error('the pooled DataSource has no pg pool for prepared statements');
    for (const logger of [prepared['logger'], moduleRef.get(NotifyListener)['logger']]) {
      const warn = logger.warn.bind(logger);
      jest.spyOn(logger, 'warn').mockImplementation((message: unknown, ...rest: unknown[]) => {
        warnings.push(String(message));
        warn(message, ...rest);
      });
    }
    const pooled: PooledApp = { app: moduleRef, warnings: () => [...warnings] };
    apps.add(pooled);
    try {
      await moduleRef.init();
    } catch (err) {
      await closeApp(pooled);
      throw err;
    }
    return pooled;
  }

  async function closeApp(app: PooledApp): Promise<void> {
    apps.delete(app);
    await app.app.close();
  }

  function spawnWorker(id: string, env: Record<string, string | number> = {}): Child {
    const vars: Record<string, string> = { DATABASE_URL: pooledUrl(), WORKER_ID: id, NO_COLOR: '1' };
    for (const [k, v] of Object.entries(env)) vars[k] = String(v);
    const child = startChild(POOLED_WORKER, vars);
    children.add(child);
    return child;
  }

  const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    if (!pool) throw new Error('pool used outside a test');
    return (await pool.query(sql, params)).rows as T[];
  };

  return { db, bouncer, pooledUrl, createApp, closeApp, spawnWorker, query };
}
