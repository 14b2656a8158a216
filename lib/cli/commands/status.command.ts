import { DatabaseCommand } from '../cli.command';
import { EXIT } from '../cli.errors';
import { migrationStates } from '../migration.status';

/** `status`: which of pgflow's migrations the database has; exit code 1 when any is pending. */
export const statusCommand: DatabaseCommand = {
  name: 'status',
  synopsis: 'status [--migrations-table <name>]',
  summary: "show which of pgflow's migrations are applied; exit code 1 when the schema is behind",
  arity: 0,
  flags: ['migrations-table'],
  database: true,
  async run({ db, out }) {
    const states = await migrationStates(db.dataSource);
    const pending = states.filter((m) => !m.applied);
    if (out.json) {
      out.data({ upToDate: pending.length === 0, migrations: states });
    } else {
      out.table(['STATE', 'MIGRATION'], states.map((m) => [m.applied ? 'applied' : 'pending', m.name]));
    }
    if (pending.length === 0) {
      if (!out.json) out.line('pgflow schema is up to date');
      return EXIT.ok;
    }
    out.error(`pgflow schema is behind: ${pending.length} of ${states.length} migrations pending ` +
      '(run `nestjs-pgflow migrate`)');
    return EXIT.refused;
  },
};
