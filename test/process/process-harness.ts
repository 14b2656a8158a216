import { Pool } from 'pg';
import { Child, startChild } from '../support/child';
import { createTestDatabase, TestDatabase } from '../support/database';

/** Entry point of the fixture worker process (see worker-fixture/knobs.ts for its env). */
export const WORKER_FIXTURE = 'test/process/worker-fixture/main.ts';

/** A fixture worker process. */
export interface WorkerProcess {
  id: string;
  child: Child;
  /** Resolves once the worker claims tasks. */
  ready(): Promise<void>;
  /** Sends a signal (default SIGKILL) and resolves with the exit code (null when killed). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exitCode(): number | null;
  /** Every line of its output matching `pattern`. */
  lines(pattern: RegExp): string[];
}

const EXECUTIONS_TABLE = `
  create table executions (
    run_id uuid not null, step text not null, idx int not null, attempt int not null,
    worker text not null, seq int not null, at timestamptz not null default clock_timestamp(),
    unique (worker, seq)
  )`;

/** Envs a positive integer knob, e.g. PGFLOW_STRESS_RUNS. */
export function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw ? Number(raw) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number (got ${raw})`);
  return value;
}

/**
 * Per-file fixture of the process tests: a fresh database with an `executions`
 * table (one row per handler execution, written by the workers), a pg pool on it,
 * and a factory of worker processes. Every process is SIGKILLed after each test,
 * passed or failed, before the database is dropped.
 */
export function useWorkerProcesses(): {
  db: () => TestDatabase;
  pool: () => Pool;
  spawn: (id: string, env?: Record<string, string | number>) => WorkerProcess;
  until: <T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string) => Promise<T>;
  query: <T>(sql: string, params?: unknown[]) => Promise<T[]>;
} {
  let database: TestDatabase | undefined;
  let pg: Pool | undefined;
  const workers = new Set<WorkerProcess>();

  const db = () => {
    if (!database) throw new Error('database used outside a test');
    return database;
  };
  const pool = () => {
    if (!pg) throw new Error('pool used outside a test');
    return pg;
  };

  async function killAll(): Promise<void> {
    await Promise.all([...workers].map((w) => w.stop('SIGKILL')));
    workers.clear();
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    pg = new Pool({ connectionString: database.url, max: 4 });
    // the outage test terminates these connections too
    pg.on('error', () => undefined);
    await pg.query(EXECUTIONS_TABLE);
  });
  afterEach(killAll);
  afterAll(async () => {
    await killAll();
    await pg?.end();
    await database?.drop();
  });

  function spawn(id: string, env: Record<string, string | number> = {}): WorkerProcess {
    const vars: Record<string, string> = { DATABASE_URL: db().url, WORKER_ID: id, NO_COLOR: '1' };
    for (const [k, v] of Object.entries(env)) vars[k] = String(v);
    const child = startChild(WORKER_FIXTURE, vars);
    let code: number | null | undefined;
    const exited = child.exited().then((c) => (code = c));
    const worker: WorkerProcess = {
      id,
      child,
      ready: async () => {
        await child.waitFor(/^READY /m, 60_000);
      },
      async stop(signal = 'SIGKILL', timeoutMs = 60_000) {
        child.kill(signal);
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`worker ${id} did not exit within ${timeoutMs} ms of ${signal}`)),
            timeoutMs);
        });
        try {
          return await Promise.race([exited, deadline]);
        } catch (err) {
          child.kill('SIGKILL');
          await exited;
          throw err;
        } finally {
          clearTimeout(timer);
        }
      },
      exitCode: () => (code === undefined ? null : code),
      lines: (pattern) => child.output().split('\n').filter((l) => pattern.test(l)),
    };
    workers.add(worker);
    return worker;
  }

  async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await pool().query(sql, params)).rows as T[];
  }

  /** Polls `fn` every 100 ms until it returns a truthy value; on timeout shows every worker's output tail. */
  async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = await fn();
        if (value) return value;
      } catch (err) {
        lastError = err; // e.g. our own connection terminated by the outage test: poll again
      }
      if (Date.now() > deadline) {
        const tails = [...workers].map((w) => `--- ${w.id} ---\n${w.child.output().slice(-3000)}`).join('\n');
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
          (lastError ? ` (last error: ${(lastError as Error).message})` : '') + `\n${tails}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return { db, pool, spawn, until, query };
}

/** Starts `count` fanout runs with inputs n = from … from+count-1, from SQL (as a trigger would). */
export async function startFanoutRuns(pool: Pool, from: number, count: number): Promise<void> {
  for (let done = 0; done < count; done += 500) {
    const n = Math.min(500, count - done);
    await pool.query(
      `select pgflow.start_flow('fanout', jsonb_build_object('n', g)) from generate_series($1::int, $2::int) g`,
      [from + done, from + done + n - 1]);
  }
}
