import { OfflineCommand } from '../cli.command';
import { CliUsageError } from '../cli.errors';
import { migrationSql } from '../migration.sql';

/** `sql`: prints the SQL of pgflow's migrations, oldest first, for another migration tool. */
export const sqlCommand: OfflineCommand = {
  name: 'sql',
  synopsis: 'sql [--after <migration>]',
  summary: "print the SQL of pgflow's migrations, oldest first (--after: only those newer than one)",
  arity: 0,
  flags: ['after'],
  database: false,
  async run({ options, out }) {
    let migrations = await migrationSql();
    if (options.after !== undefined) {
      const i = migrations.findIndex((m) => m.name === options.after);
      if (i < 0) {
        throw new CliUsageError(`--after: no pgflow migration "${options.after}" ` +
          `(known: ${migrations.map((m) => m.name).join(', ')})`);
      }
      migrations = migrations.slice(i + 1);
    }
    if (out.json) {
      out.data(migrations);
      return 0;
    }
    out.line("-- pgflow's migrations, oldest first. Apply each one in a single transaction.");
    for (const m of migrations) {
      out.line();
      out.line(`-- migration ${m.name}`);
      for (const sql of m.statements) {
        const text = sql.trim();
        out.line(text.endsWith(';') ? text : `${text}\n;`);
        out.line();
      }
    }
    return 0;
  },
};
