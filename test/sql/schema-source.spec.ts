import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import { readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import { promisify } from 'util';
import { adminQuery, createTestDatabase, TestDatabase, testServer, withDatabase } from '../support/database';

const SOURCE = join(__dirname, '..', '..', 'migrations', 'source');
const NEW_MIGRATION = 'run `npm run migration:new -- <name>` to write the migration';

const sqlFiles = (dir: string) => readdirSync(join(SOURCE, dir)).filter((f) => f.endsWith('.sql')).sort()
  .map((f) => ({ file: `migrations/source/${dir}/${f}`, text: readFileSync(join(SOURCE, dir, f), 'utf8') }));

/** Builds pgflow from migrations/source/ alone: the schema files, then the functions, in file order. */
async function applySource(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('begin');
    await client.query('set local check_function_bodies = off'); // as the migrations run
    for (const { text } of [...sqlFiles('schema'), ...sqlFiles('functions')]) await client.query(text);
    await client.query('commit');
  } finally {
    await client.end();
  }
}

/** signature (`pgflow.name(argtypes)`) → pg_get_functiondef */
async function functionDefs(url: string): Promise<Map<string, string>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ signature: string; def: string }>(
      `select p.oid::regprocedure::text as signature, pg_get_functiondef(p.oid) as def
         from pg_proc p where p.pronamespace = 'pgflow'::regnamespace`);
    return new Map(rows.map((r) => [r.signature, r.def]));
  } finally {
    await client.end();
  }
}

/**
 * `pg_dump --schema-only` of schema pgflow, split into its objects (`TABLE workers` → its
 * SQL). pg_dump orders objects by type and name, not by when they were created. The only
 * run-dependent text, the `\restrict <random key>` lines of pg_dump ≥ 15.14, is dropped.
 */
async function dumpObjects(url: string): Promise<Map<string, string>> {
  const { stdout } = await promisify(execFile)('pg_dump',
    ['--schema-only', '--schema=pgflow', '--no-owner', '--no-privileges', '--dbname', url], { maxBuffer: 64 << 20 });
  const text = stdout.replace(/^\\(un)?restrict .*$/gm, '');
  const objects = new Map<string, string>();
  const parts = text.split(/^--\n-- Name: (.*); Type: (.*); Schema: .*\n--\n/m);
  objects.set('(preamble)', parts[0].replace(/^-- Dumped (from database|by pg_dump) version .*$/gm, ''));
  for (let i = 1; i < parts.length; i += 3) objects.set(`${parts[i + 1]} ${parts[i]}`, parts[i + 2].trim());
  return objects;
}

/** Where two texts first differ, for a message that points at the change. */
function firstDifference(migrated: string, source: string): string {
  const a = migrated.split('\n');
  const b = source.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const n = i < 0 ? a.length : i;
  return `line ${n + 1}: migrations have ${JSON.stringify(a[n] ?? '(end)')}, source has ${JSON.stringify(b[n] ?? '(end)')}`;
}

/**
 * migrations/source/ is the current definition of pgflow's database, where a function
 * or table is edited; migrations are frozen once released. A database migrated by all
 * migrations must equal one built from the source alone, so a source edit without its
 * migration — or a migration without its source edit — fails here.
 */
describe('migrations/source', () => {
  const { adminUrl } = testServer();
  const sourceName = `pgflow_src_${randomBytes(6).toString('hex')}`;
  const sourceUrl = withDatabase(adminUrl, sourceName);
  let migrated: TestDatabase;

  beforeAll(async () => {
    migrated = await createTestDatabase();
    await adminQuery(adminUrl, `create database ${sourceName}`);
    await applySource(sourceUrl);
  });

  afterAll(async () => {
    await migrated?.drop();
    await adminQuery(adminUrl, `drop database if exists ${sourceName}`);
  });

  it('holds one function per file, named after it', () => {
    const problems = sqlFiles('functions').flatMap(({ file, text }) => {
      const names = [...text.matchAll(/^create\s+(?:or\s+replace\s+)?function\s+pgflow\.(\w+)/gim)].map((m) => m[1]);
      const expected = file.replace(/^.*\//, '').slice(0, -4);
      return names.length === 1 && names[0] === expected ? [] : [`${file} defines ${names.join(', ') || 'no function'}`];
    });
    expect(problems).toEqual([]);
  });

  it('defines every function as the migrations leave it', async () => {
    const [fromMigrations, fromSource] = await Promise.all([functionDefs(migrated.url), functionDefs(sourceUrl)]);
    const problems: string[] = [];
    for (const [fn, def] of fromMigrations) {
      const file = `migrations/source/functions/${fn.replace(/^pgflow\.|\(.*$/g, '')}.sql`;
      const source = fromSource.get(fn);
      if (source === undefined) {
        problems.push(`${fn} is created by the migrations but not by migrations/source/: add it to ${file}, ` +
          `or drop it in a new migration (${NEW_MIGRATION})`);
      } else if (source !== def) {
        problems.push(`${fn} in ${file} differs from what the migrations create (${firstDifference(def, source)}): ` +
          NEW_MIGRATION);
      }
    }
    for (const fn of fromSource.keys()) {
      if (!fromMigrations.has(fn)) problems.push(`${fn} is in migrations/source/ but no migration creates it: ${NEW_MIGRATION}`);
    }
    expect(problems).toEqual([]);
  });

  it('defines the schema as the migrations leave it (pg_dump --schema-only)', async () => {
    const [fromMigrations, fromSource] = await Promise.all([dumpObjects(migrated.url), dumpObjects(sourceUrl)]);
    const problems: string[] = [];
    for (const [object, sql] of fromMigrations) {
      const source = fromSource.get(object);
      if (source === undefined) problems.push(`${object}: created by the migrations, not by migrations/source/`);
      else if (source !== sql) problems.push(`${object}: differs (${firstDifference(sql, source)})`);
    }
    for (const object of fromSource.keys()) {
      if (!fromMigrations.has(object)) problems.push(`${object}: in migrations/source/, created by no migration`);
    }
    if (problems.length) {
      problems.push(`edit migrations/source/ and ${NEW_MIGRATION} (schema changes: --schema, then write its ALTERs)`);
    }
    expect(problems).toEqual([]);
  });
});
