import { execFile } from 'child_process';
import { mkdtemp, readdir, rm } from 'fs/promises';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { Client } from 'pg';
import { Child, startChild } from '../support/child';
import { PGFLOW_MIGRATIONS } from '../../migrations';
import { createTestDatabase, TestDatabase } from '../support/database';

const SAMPLE = 'sample-app/src/main.ts';
// the embedded run boots PGlite (initdb) and applies the migrations on a shared 2-core machine
const RUN_TIMEOUT_MS = 240_000;

/** What batch-1 always yields: the corpus and the analysis are deterministic. */
const EXPECTED_RESULT = {
  report: {
    batchId: 'batch-1',
    documents: 5,
    words: 146,
    topKeywords: ['dependencies', 'exponential', 'documents', 'exhausted', 'analysed'],
    longest: 'Map steps fan out',
    indexedTerms: 15,
    indexAttempts: 2,
    approvedBy: 'sample reviewer',
  },
};

// PGlite cannot load inside jest's module sandbox (it needs dynamic import), so a
// plain node process reads the data dir the sample left behind.
const READ_PGLITE = `
  const { PGlite } = require('@electric-sql/pglite');
  (async () => {
    const db = await PGlite.create(process.argv[1]);
    const { rows } = await db.query(process.argv[2]);
    await db.close();
    process.stdout.write(JSON.stringify(rows));
  })().catch((err) => { console.error(err); process.exit(1); });`;

async function queryPglite(dir: string, sql: string): Promise<unknown[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', READ_PGLITE, dir, sql],
    { timeout: 120_000, cwd: join(__dirname, '..', '..') });
  return JSON.parse(stdout) as unknown[];
}

interface Finished {
  code: number | null;
  output: string;
}

describe('sample app (npm run sample)', () => {
  const children = new Set<Child>();
  const tempDirs: string[] = [];
  let database: TestDatabase | undefined;

  /** Runs the sample to its end; kills it if it outlives the timeout. */
  async function runSample(env: Record<string, string>, args: string[] = []): Promise<Finished> {
    const child = startChild(SAMPLE, { NO_COLOR: '1', ...env }, args);
    children.add(child);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sample still running after ${RUN_TIMEOUT_MS} ms; output:\n${child.output()}`)),
        RUN_TIMEOUT_MS - 10_000);
    });
    try {
      const code = await Promise.race([child.exited(), deadline]);
      return { code, output: child.output() };
    } finally {
      clearTimeout(timer);
    }
  }

  function resultOf(output: string): unknown {
    const line = output.split('\n').find((l) => l.startsWith('result: '));
    if (!line) throw new Error(`no result line in the output:\n${output}`);
    return JSON.parse(line.slice('result: '.length));
  }

  afterEach(async () => {
    for (const child of children) {
      child.kill('SIGKILL');
      await child.exited();
    }
    children.clear();
  });

  afterAll(async () => {
    await database?.drop();
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });

  it('runs on DATABASE_URL (already migrated: migrationsRun is a no-op) and reports throughput', async () => {
    database = await createTestDatabase();
    const { code, output } = await runSample({ DATABASE_URL: database.url }, ['--runs', '3']);

    expect({ code, result: resultOf(output) }).toEqual({ code: 0, result: EXPECTED_RESULT });
    expect(output).toMatch(/^database: DATABASE_URL \(/m);
    expect(output).toMatch(/^throughput: 3\/3 runs completed in [\d.]+ s \([\d.]+ runs\/s\)$/m);
    expect(output).toMatch(/^\[run 3\/3\] 100% run completed$/m);
    // not a terminal: plain lines, no cursor movement
    expect(output).not.toContain('\x1b[');

    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      const runs = await client.query(
        `select status, count(*)::int as n from pgflow.runs where flow_slug = 'document_pipeline' group by status`);
      const migrations = await client.query('select name from migrations order by id');
      expect({ runs: runs.rows, migrations: migrations.rows.map((r) => r.name) })
        .toEqual({ runs: [{ status: 'completed', n: 3 }], migrations: PGFLOW_MIGRATIONS.map((m) => m.name) });
    } finally {
      await client.end();
    }
  }, RUN_TIMEOUT_MS);

  it('runs on an embedded PGlite when DATABASE_URL is unset, and removes its temp dir', async () => {
    // the sample makes its data dir under TMPDIR: a directory of our own shows what it leaves behind
    const tmp = await mkdtemp(join(tmpdir(), 'pgflow-sample-test-'));
    tempDirs.push(tmp);
    const { code, output } = await runSample({ DATABASE_URL: '', TMPDIR: tmp });

    expect({ code, result: resultOf(output) }).toEqual({ code: 0, result: EXPECTED_RESULT });
    expect(output).toMatch(/^database: embedded PGlite on 127\.0\.0\.1:\d+ /m);
    expect(output).toContain(`(data: ${join(tmp, 'pgflow-sample-')}`);
    expect(output).toMatch(/falling back to polling/);
    // progress lines; which intermediate states a poll catches is timing, the end is not
    expect(output).toMatch(/^\[run 1\/1\] +\d+% indexDocuments completed$/m);
    // the approve step waited for the reviewer's signal (the runner sends it on seeing this)
    expect(output).toMatch(/^\[run 1\/1\] +\d+% approve waiting$/m);
    expect(output).toMatch(/^\[run 1\/1\] 100% run completed$/m);
    expect(output).toMatch(/^throughput: 1\/1 runs completed/m);
    // (ts-node may leave its compile cache there; that is not ours to judge)
    expect((await readdir(tmp)).filter((name) => name.startsWith('pgflow-sample-'))).toEqual([]);
  }, RUN_TIMEOUT_MS);

  it('keeps the embedded database in --data DIR, and boots again on it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgflow-sample-data-'));
    tempDirs.push(dir);
    const first = await runSample({ DATABASE_URL: '' }, ['--data', dir]);
    expect({ code: first.code, result: resultOf(first.output) }).toEqual({ code: 0, result: EXPECTED_RESULT });
    expect(first.output).toContain(`(data: ${dir})`);
    // second boot: migrations already applied, flow definitions unchanged
    const second = await runSample({ DATABASE_URL: '' }, ['--data', dir, '--runs', '2']);
    expect({ code: second.code, result: resultOf(second.output) }).toEqual({ code: 0, result: EXPECTED_RESULT });

    expect({
      runs: await queryPglite(dir, 'select status, count(*)::int as n from pgflow.runs group by status'),
      migrations: await queryPglite(dir, 'select name from migrations order by id'),
    }).toEqual({ runs: [{ status: 'completed', n: 3 }], migrations: PGFLOW_MIGRATIONS.map((m) => ({ name: m.name })) });
  }, 2 * RUN_TIMEOUT_MS);
});
