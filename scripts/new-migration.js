// Assembles a new migration from migrations/source/, after you edited it:
//
//   node scripts/new-migration.js <name> [--schema]        (npm run migration:new -- <name>)
//
// Creates, with NNNN the next folder number:
//   migrations/sql/NNNN_<name>/functions/<fn>.sql  a frozen copy of each source function whose
//                                                  text differs from what the migrations leave
//   migrations/sql/NNNN_<name>/schema.sql          with --schema, or when a function left the
//                                                  source: its drop, and a stub for your ALTERs
//   migrations/sql/NNNN_<name>/down.sql            drops the new functions, restores the previous
//                                                  text of the others, and a stub to undo schema.sql
//   migrations/<timestamp>-pgflow-<name>.ts        the TypeORM migration, appended to
//                                                  PGFLOW_MIGRATIONS in migrations/index.ts
// then compiles the SQL (scripts/compile-sql.js). Review what it wrote and run the SQL tests:
// test/sql/schema-source.spec.ts fails until the migrated database equals the source.
//
// What it does not do:
// - diff the schema: the ALTERs in schema.sql and their undo in down.sql are yours to write;
// - change a function's arguments or return type: `create or replace` then adds an overload
//   or fails; drop the old signature in schema.sql and restore it in down.sql;
// - read the database: what the migrations leave is worked out from the files (each folder's
//   functions/*.sql, minus `drop function pgflow.<name>` lines of later schema.sql files);
// - know whether the previous migration was released: it always adds a new one.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..', 'migrations');
const sqlRoot = path.join(root, 'sql');
const sourceDir = path.join(root, 'source', 'functions');

const args = process.argv.slice(2);
const withSchema = args.includes('--schema');
const [rawName] = args.filter((a) => !a.startsWith('--'));
if (!rawName || !/^[a-z][a-z0-9]*([_-][a-z0-9]+)*$/.test(rawName)) {
  console.error('usage: node scripts/new-migration.js <name> [--schema]   (name: lower case words, e.g. signal_steps)');
  process.exit(2);
}
const snake = rawName.replace(/-/g, '_');
const kebab = rawName.replace(/_/g, '-');
const pascal = snake.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('');

const read = (file) => fs.readFileSync(file, 'utf8');
const sqlFiles = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort() : []);

// function name → its text, as the migrations leave it, replayed in the order they run
const folders = fs.readdirSync(sqlRoot).filter((f) => /^\d{4}_/.test(f)).sort();
const migrated = new Map();
for (const folder of folders) {
  const schema = path.join(sqlRoot, folder, 'schema.sql');
  if (fs.existsSync(schema)) {
    for (const m of read(schema).matchAll(/^\s*drop\s+function\s+(?:if\s+exists\s+)?pgflow\.(\w+)/gim)) migrated.delete(m[1]);
  }
  const fnDir = path.join(sqlRoot, folder, 'functions');
  for (const f of sqlFiles(fnDir)) migrated.set(f.slice(0, -4), read(path.join(fnDir, f)));
}
const source = new Map(sqlFiles(sourceDir).map((f) => [f.slice(0, -4), read(path.join(sourceDir, f))]));

const changed = [...source.keys()].filter((fn) => source.get(fn) !== migrated.get(fn));
const added = changed.filter((fn) => !migrated.has(fn));
const removed = [...migrated.keys()].filter((fn) => !source.has(fn));
if (!changed.length && !removed.length && !withSchema) {
  console.error('migrations/source/functions/ is what the migrations leave: nothing to migrate ' +
    '(for a schema change only, pass --schema)');
  process.exit(1);
}

const number = String(Number(folders[folders.length - 1].slice(0, 4)) + 1).padStart(4, '0');
const folder = `${number}_${snake}`;
const dir = path.join(sqlRoot, folder);
const timestamps = fs.readdirSync(root).map((f) => /^(\d{13})-.*\.ts$/.exec(f)).filter(Boolean).map((m) => Number(m[1]));
// TypeORM orders migrations by timestamp: a new one must sort after every existing one
const timestamp = Math.max(Date.now(), ...timestamps.map((t) => t + 1));
const className = `Pgflow${pascal}${timestamp}`;
const classFile = `${timestamp}-pgflow-${kebab}`;

fs.mkdirSync(dir);
if (changed.length) fs.mkdirSync(path.join(dir, 'functions'));
for (const fn of changed) fs.writeFileSync(path.join(dir, 'functions', `${fn}.sql`), source.get(fn));

if (withSchema || removed.length) {
  fs.writeFileSync(path.join(dir, 'schema.sql'), [
    `-- ${folder}: runs before functions/.`,
    ...(withSchema ? ['-- TODO: the ALTERs that take a database from the previous migrations to migrations/source/schema/.'] : []),
    ...removed.map((fn) => `drop function pgflow.${fn};`),
    '',
  ].join('\n'));
}
fs.writeFileSync(path.join(dir, 'down.sql'), [
  `-- What down() runs: undoes ${folder}. Frozen: never derived again from other files.`,
  ...added.map((fn) => `drop function pgflow.${fn};`),
  ...[...changed.filter((fn) => migrated.has(fn)), ...removed].sort().map((fn) => '\n' + migrated.get(fn).trimEnd()),
  ...(withSchema ? ['', '-- TODO: undo schema.sql'] : []),
  '',
].join('\n'));

fs.writeFileSync(path.join(root, `${classFile}.ts`), `import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/${folder}.sql';
import { runStatements } from './run-statements';

/** TODO: what this migration changes, and why. */
export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
`);

const indexFile = path.join(root, 'index.ts');
const index = read(indexFile);
const lines = index.split('\n');
const lastImport = lines.map((l) => l.startsWith('import ')).lastIndexOf(true);
lines.splice(lastImport + 1, 0, `import { ${className} } from './${classFile}';`);
const updated = lines.join('\n')
  .replace(/(export const PGFLOW_MIGRATIONS = \[[^\]]*?)(,?\s*\];)/, `$1, ${className}$2`)
  .replace(/(export \{[^}]*?)(,?\s*\};)/, `$1, ${className}$2`);
if (updated.split(className).length !== 4) throw new Error(`migrations/index.ts: could not add ${className}; add it by hand`);
fs.writeFileSync(indexFile, updated);

require('./compile-sql');

const rel = (p) => path.relative(path.join(root, '..'), p);
console.log([
  `created ${rel(dir)}/`,
  ...changed.map((fn) => `  functions/${fn}.sql${added.includes(fn) ? ' (new)' : ''}`),
  ...(withSchema ? ['  schema.sql (TODO: the ALTERs)'] : removed.length ? ['  schema.sql'] : []),
  `  down.sql${withSchema ? ' (TODO: undo schema.sql)' : ''}`,
  `created ${rel(path.join(root, classFile + '.ts'))} (TODO: its doc comment), added to migrations/index.ts`,
  ...removed.map((fn) => `dropped ${fn}: no longer in migrations/source/functions/`),
].join('\n'));
