import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync } from 'fs';
import { join } from 'path';
import { Client, Pool } from 'pg';
import { PGFLOW_MIGRATIONS } from '../../migrations';
import { adminQuery, createTestDatabase, TestDatabase, testServer, withDatabase } from '../support/database';
import { claim, defineFlow, drain, fail, getRun, startFlow, tasksOf } from '../support/sql-helpers';

/**
 * The built `nestjs-pgflow` executable, run as a child process the way `npx` runs it,
 * against real databases: an empty one for the migration commands, a migrated clone
 * for the run commands.
 */

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'nestjs-pgflow.js');
const MIGRATION_NAMES = PGFLOW_MIGRATIONS.map((M) => new M().name);
const UNKNOWN_RUN = '00000000-0000-4000-8000-00000000c11a';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args`; DATABASE_URL is unset unless `env` sets it. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const proc = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 45_000);
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI with --json and parses stdout, after checking the exit code. */
async function cliJson<T>(args: string[], code = 0): Promise<T> {
  const r = await cli([...args, '--json']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code, stderr: expect.any(String) });
  return JSON.parse(r.stdout) as T;
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
/** A stack frame as Node prints them. */
const STACK_FRAME = /^\s+at /m;

/** Asserts a refusal: that exit code, and exactly one line on stderr, without a stack trace. */
function expectRefused(r: CliResult, message: string | RegExp): void {
  expect(r.code).toBe(1);
  expect(lines(r.stderr)).toEqual([typeof message === 'string' ? `nestjs-pgflow: ${message}` : expect.stringMatching(message)]);
  expect(r.stderr).not.toMatch(STACK_FRAME);
}

/** Asserts a usage error: exit code 2, the problem, then a usage line. */
function expectUsageError(r: CliResult, message: string | RegExp): void {
  expect(r.code).toBe(2);
  const [first, second, ...rest] = lines(r.stderr);
  expect(first).toMatch(typeof message === 'string' ? `nestjs-pgflow: ${message}` : message);
  expect(second).toMatch(/^usage: nestjs-pgflow /);
  expect(rest).toEqual([]);
  expect(r.stdout).toBe('');
}

/** Creates an empty database (no pgflow schema) and returns its URL. */
async function emptyDatabase(created: string[]): Promise<string> {
  const { adminUrl } = testServer();
  const name = `pgflow_cli_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${name}`);
  created.push(name);
  return withDatabase(adminUrl, name);
}

async function withPg<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('nestjs-pgflow CLI', () => {
  const created: string[] = [];

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'lib', 'cli', 'main.js'))) {
      throw new Error('dist/lib/cli/main.js is missing: run `npm run build` before this test');
    }
  });

  afterAll(async () => {
    const { adminUrl } = testServer();
    for (const name of created) await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
  });

  describe('command line', () => {
    it('prints usage for --help and help, and one command\'s usage for help <command>', async () => {
      const help = await cli(['--help']);
      expect(help.code).toBe(0);
      for (const command of ['migrate', 'status', 'sql', 'runs', 'run <runId>', 'retry <runId>', 'cancel <runId>', 'workers']) {
        expect(help.stdout).toContain(`  ${command}`);
      }
      expect(help.stdout).toMatch(/^usage: nestjs-pgflow <command> \[--url <postgres url>\]/);
      expect(help.stderr).toBe('');
      expect((await cli(['help'])).stdout).toBe(help.stdout);

      const run = await cli(['help', 'run']);
      expect(run).toEqual({ code: 0, stderr: '', stdout: expect.stringMatching(/^usage: nestjs-pgflow run <runId> /) });
      expect((await cli(['retry', '--help'])).stdout).toMatch(/^usage: nestjs-pgflow retry <runId> /);
    });

    it('answers usage errors with exit code 2, the problem and a usage line', async () => {
      expectUsageError(await cli(['frobnicate']), 'unknown command "frobnicate"');
      expectUsageError(await cli([]), 'no command given');
      expectUsageError(await cli(['run']), 'run: missing argument <runId>');
      expectUsageError(await cli(['workers', 'extra']), 'workers: unexpected argument "extra"');
      expectUsageError(await cli(['runs', '--bogus']), "unknown option '--bogus'");
      expectUsageError(await cli(['runs', '--limit', 'ten']), '--limit must be an integer from 1 to 10000 (got "ten")');
      expectUsageError(await cli(['runs', '--status', 'done']), /--status must be one of queued, started, /);
      expectUsageError(await cli(['workers', '--flow', 'x']), 'workers does not take --flow');
      // a malformed id is refused before any connection is tried (this URL would not connect)
      expectUsageError(await cli(['run', 'not-a-uuid', '--url', 'postgres://postgres@127.0.0.1:1/x']),
        'invalid run id "not-a-uuid": expected a uuid');
    });

    it('needs a database URL: none, or a malformed one, is a usage error', async () => {
      expectUsageError(await cli(['runs']), 'no database given: pass --url <postgres url> or set DATABASE_URL');
      expectUsageError(await cli(['runs', '--url', 'not a url']), '--url is not a URL');
      expectUsageError(await cli(['status'], { DATABASE_URL: 'mysql://root@localhost/db' }),
        'DATABASE_URL must start with postgres:// or postgresql://');
    });

    it('reports an unreachable server in one line, without a stack trace', async () => {
      const r = await cli(['runs', '--url', 'postgres://postgres:secret@127.0.0.1:1/x']);
      expectRefused(r, /^nestjs-pgflow: cannot connect to 127\.0\.0\.1:1\/x: .*ECONNREFUSED/);
      expect(r.stderr).not.toContain('secret');
      expect(r.stdout).toBe('');
    });
  });

  describe('migrate, status and sql', () => {
    it('migrates an empty database: status behind, two concurrent migrates, a no-op repeat, status up to date', async () => {
      const url = await emptyDatabase(created);

      const behind = await cli(['status', '--url', url]);
      expectRefused(behind, `pgflow schema is behind: ${MIGRATION_NAMES.length} of ${MIGRATION_NAMES.length} migrations pending (run \`nestjs-pgflow migrate\`)`);
      expect(behind.stdout).toContain(`pending  ${MIGRATION_NAMES[0]}`);
      expectRefused(await cli(['runs', '--url', url]), /relation "pgflow\.runs" does not exist .*nestjs-pgflow status/);

      const both = await Promise.all([cli(['migrate', '--url', url]), cli(['migrate'], { DATABASE_URL: url })]);
      for (const r of both) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(both[0].stdout).toContain(`pgflow schema is up to date (${MIGRATION_NAMES[MIGRATION_NAMES.length - 1]})`);
      await withPg(url, async (c) => {
        expect((await c.query('select name from migrations order by id')).rows.map((r) => r.name)).toEqual(MIGRATION_NAMES);
        await c.query(`select pgflow.create_flow('after_migrate')`);
      });

      const again = await cli(['migrate', '--url', url]);
      expect(again).toEqual({ code: 0, stderr: '', stdout: expect.stringMatching(/^nothing to migrate: pgflow schema is up to date/) });
      expect(await cliJson(['migrate', '--url', url])).toEqual({ applied: [], latest: MIGRATION_NAMES[MIGRATION_NAMES.length - 1] });

      const status = await cli(['status'], { DATABASE_URL: url });
      expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
      expect(status.stdout).toContain('pgflow schema is up to date');
      expect(await cliJson(['status', '--url', url])).toEqual({
        upToDate: true, migrations: MIGRATION_NAMES.map((name) => ({ name, applied: true })),
      });
    });

    it('uses the migrations table named by --migrations-table', async () => {
      const url = await emptyDatabase(created);
      expect((await cli(['migrate', '--url', url, '--migrations-table', 'app_migrations'])).code).toBe(0);
      expect((await cli(['status', '--url', url, '--migrations-table', 'app_migrations'])).code).toBe(0);
      // the default table knows nothing of them
      expect((await cli(['status', '--url', url])).code).toBe(1);
      await withPg(url, async (c) => {
        expect((await c.query('select name from app_migrations order by id')).rows.map((r) => r.name)).toEqual(MIGRATION_NAMES);
      });
    });

    it('prints SQL that builds the same schema as migrate, and a working one', async () => {
      const sql = await cli(['sql']);
      expect({ code: sql.code, stderr: sql.stderr }).toEqual({ code: 0, stderr: '' });
      const headers = sql.stdout.match(/^-- migration \S+$/gm);
      expect(headers).toEqual(MIGRATION_NAMES.map((name) => `-- migration ${name}`));

      const url = await emptyDatabase(created);
      await withPg(url, (c) => c.query(sql.stdout));

      // every pgflow function and table as `migrate` leaves them (the template was migrated with TypeORM)
      const { adminUrl, template } = testServer();
      const shape = (c: Client) => c.query(
        `select p.oid::regprocedure::text as name, md5(p.prosrc) as body from pg_proc p
          where p.pronamespace = 'pgflow'::regnamespace
         union all
         select c.relname || ':' || c.relkind::text, md5(string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ',' order by a.attnum))
           from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          where c.relnamespace = 'pgflow'::regnamespace group by c.relname, c.relkind
         order by 1`,
      ).then((r) => r.rows);
      const printed = await withPg(url, shape);
      expect(printed.length).toBeGreaterThan(20);
      expect(printed).toEqual(await withPg(withDatabase(adminUrl, template), shape));

      const pool = new Pool({ connectionString: url, max: 1 });
      try {
        await defineFlow(pool, 'from_sql', [{ slug: 'only' }]);
        const run = await startFlow(pool, 'from_sql', { n: 1 });
        await drain(pool, 'from_sql', () => 'ok');
        expect(await getRun(pool, run.run_id)).toMatchObject({ status: 'completed', output: { only: 'ok' } });
      } finally {
        await pool.end();
      }
    });

    it('prints the migrations after a given one with --after, and JSON with --json', async () => {
      const all = await cliJson<Array<{ name: string; statements: string[] }>>(['sql']);
      expect(all.map((m) => m.name)).toEqual(MIGRATION_NAMES);
      expect(all.every((m) => m.statements.length > 0)).toBe(true);
      const later = await cliJson<Array<{ name: string }>>(['sql', '--after', MIGRATION_NAMES[0]]);
      expect(later.map((m) => m.name)).toEqual(MIGRATION_NAMES.slice(1));
      expectUsageError(await cli(['sql', '--after', 'Nope1']), /--after: no pgflow migration "Nope1"/);
    });
  });

  describe('runs, run, retry, cancel, workers', () => {
    let db: TestDatabase;
    let pool: Pool;
    let url: string;
    let failed: string;
    let completed: string;
    let pending: string;

    beforeAll(async () => {
      db = await createTestDatabase();
      url = db.url;
      pool = new Pool({ connectionString: url, max: 3 });
      await defineFlow(pool, 'cli_chain', [{ slug: 'first' }, { slug: 'second', deps: ['first'] }], { maxAttempts: 1 });
      await defineFlow(pool, 'cli_other', [{ slug: 'only' }]);
      await defineFlow(pool, 'cli_later', [{ slug: 'wait' }]);

      failed = (await startFlow(pool, 'cli_chain', { order: 1 })).run_id;
      const [task] = await claim(pool, 'cli_chain', 1, 'cli-worker');
      expect(await fail(pool, task, 'card declined\nby the bank')).toBe('failed');
      completed = (await startFlow(pool, 'cli_other', { order: 2 })).run_id;
      await drain(pool, 'cli_other', () => 'done');
      pending = (await startFlow(pool, 'cli_later', { order: 3 })).run_id;

      await pool.query(
        `insert into pgflow.workers (worker_id, flows, status, started_at, last_heartbeat_at) values
           ('w-online', array['cli_chain'], 'online', now() - interval '1 minute', now()),
           ('w-stale', array['cli_other'], 'online', now() - interval '2 hours', now() - interval '1 hour'),
           ('w-stopped', '{}', 'stopped', now() - interval '3 hours', now() - interval '2 hours')`,
      );
    });

    afterAll(async () => {
      await pool?.end();
      await db?.drop();
    });

    it('runs lists runs newest first, filtered by flow and status, limited', async () => {
      const table = await cli(['runs', '--url', url]);
      expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: '' });
      const rows = lines(table.stdout);
      expect(rows[0]).toMatch(/^RUN\s+FLOW\s+STATUS\s+STEPS\s+CREATED\s+ERROR$/);
      expect(rows.slice(1).map((r) => r.split(/\s+/).slice(0, 4))).toEqual([
        [pending, 'cli_later', 'started', '0/1'], [completed, 'cli_other', 'completed', '1/1'],
        [failed, 'cli_chain', 'failed', '0/2'],
      ]);
      expect(rows[3]).toContain('step "first" task 0: card declined by the bank');

      const ids = async (args: string[]) =>
        (await cliJson<Array<{ runId: string }>>(['runs', '--url', url, ...args])).map((r) => r.runId);
      expect(await ids(['--flow', 'cli_chain'])).toEqual([failed]);
      expect(await ids(['--status', 'completed'])).toEqual([completed]);
      expect(await ids(['--flow', 'cli_chain', '--status', 'completed'])).toEqual([]);
      expect(await ids(['--flow', 'cli_chain', '--status', 'failed'])).toEqual([failed]);
      expect(await ids(['--limit', '1'])).toEqual([pending]);
      expect(lines((await cli(['runs', '--url', url, '--flow', 'no_such_flow'])).stdout)).toEqual(['no runs']);
    });

    it('run shows a run with its steps and tasks', async () => {
      const r = await cli(['run', failed, '--url', url]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^run +${failed}$`, 'm'));
      expect(r.stdout).toMatch(/^status +failed$/m);
      expect(r.stdout).toMatch(/^error +step "first" task 0: card declined\n +by the bank$/m);
      expect(r.stdout).toMatch(/^input +\{"order":1\}$/m);
      expect(r.stdout).toMatch(/^first +failed +0\/1 +card declined by the bank$/m);
      expect(r.stdout).toMatch(/^second +cancelled +- +-$/m);
      expect(r.stdout).toMatch(/^first +0 +failed +1 +cli-worker +\S+ \S+ +\S+ \S+ +card declined by the bank$/m);

      const json = await cliJson<{ runId: string; status: string; steps: Array<{ stepSlug: string; status: string }>;
        tasks: Array<{ stepSlug: string; taskIndex: number; status: string; attempts: number; workerId: string; error: string }> }>(
        ['run', completed, '--url', url]);
      expect(json).toMatchObject({ runId: completed, status: 'completed', output: { only: 'done' } });
      expect(json.steps).toEqual([{ stepSlug: 'only', status: 'completed', totalTasks: 1, remainingTasks: 0, output: 'done' }]);
      expect(json.tasks).toEqual([expect.objectContaining({
        stepSlug: 'only', taskIndex: 0, status: 'completed', attempts: 1, workerId: 'worker-1', error: null,
      })]);
    });

    it('retry resumes a failed run and refuses a completed one', async () => {
      const refused = await cli(['retry', completed, '--url', url]);
      expectRefused(refused, `run ${completed} is completed: only failed or cancelled runs can be retried`);
      expect(refused.stdout).toBe('');
      expect((await getRun(pool, completed)).status).toBe('completed');

      const resumed = await cli(['retry', failed, '--url', url]);
      expect(resumed).toEqual({ code: 0, stderr: '', stdout: `run ${failed} resumed: started, 0/2 steps done\n` });
      expect((await tasksOf(pool, failed)).map((t) => [t.step_slug, t.status])).toEqual([['first', 'queued']]);
      await drain(pool, 'cli_chain', (t) => `${t.step_slug} again`);
      expect(await getRun(pool, failed)).toMatchObject({
        status: 'completed', output: { second: 'second again' }, error: null,
      });
    });

    it('cancel cancels an unfinished run and leaves a finished one as it is', async () => {
      const r = await cli(['cancel', pending, '--url', url]);
      expect(r).toEqual({ code: 0, stderr: '', stdout: `run ${pending} cancelled\n` });
      expect((await getRun(pool, pending)).status).toBe('cancelled');
      expect(await cliJson(['cancel', pending, '--url', url])).toEqual({ runId: pending, status: 'cancelled' });

      const finished = await cli(['cancel', completed, '--url', url]);
      expect(finished).toEqual({ code: 0, stderr: '', stdout: `run ${completed} had already ended (completed): left as it is\n` });
      expect((await getRun(pool, completed)).status).toBe('completed');
    });

    it('run, retry and cancel of an unknown run are refused with exit code 1', async () => {
      for (const command of ['run', 'retry', 'cancel']) {
        const r = await cli([command, UNKNOWN_RUN, '--url', url]);
        expectRefused(r, `unknown run ${UNKNOWN_RUN}`);
        expect(r.stdout).toBe('');
      }
    });

    it('workers lists workers with their heartbeat status', async () => {
      // the heartbeat written with the fixtures may be older than 15 s by now on a loaded machine
      await pool.query(`update pgflow.workers set last_heartbeat_at = now() where worker_id = 'w-online'`);
      const table = await cli(['workers', '--url', url]);
      expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: '' });
      expect(lines(table.stdout).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([
        ['WORKER', 'STATUS', 'FLOWS'], ['w-stopped', 'stopped', '-'], ['w-stale', 'stale', 'cli_other'],
        ['w-online', 'online', 'cli_chain'],
      ]);
      const json = await cliJson<Array<{ workerId: string; status: string; flows: string[]; lastHeartbeatAt: string }>>(
        ['workers', '--url', url]);
      expect(json.map((w) => [w.workerId, w.status, w.flows])).toEqual([
        ['w-stopped', 'stopped', []], ['w-stale', 'stale', ['cli_other']], ['w-online', 'online', ['cli_chain']],
      ]);
      expect(new Date(json[2].lastHeartbeatAt).getTime()).toBeGreaterThan(Date.now() - 10 * 60_000);
    });
  });
});
