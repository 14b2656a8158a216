import { runPgflowMigrations } from '../../db/migrations.runner';
import { DatabaseCommand } from '../cli.command';
import { migrationStates } from '../migration.status';

/** `migrate`: applies pgflow's pending migrations (advisory-locked: concurrent runs wait for each other). */
export const migrateCommand: DatabaseCommand = {
  name: 'migrate',
  synopsis: 'migrate [--migrations-table <name>]',
  summary: "apply pgflow's pending migrations (safe to run concurrently and to repeat)",
  arity: 0,
  flags: ['migrations-table'],
  database: true,
  async run({ db, out }) {
    // pending before, applied after: by this process, or by a concurrent migrate it waited for
    const applied = (await migrationStates(db.dataSource)).filter((m) => !m.applied).map((m) => m.name);
    await runPgflowMigrations(db.dataSource);
    const states = await migrationStates(db.dataSource);
    const missing = states.filter((m) => !m.applied);
    if (missing.length) throw new Error(`migrations still pending after migrate: ${missing.map((m) => m.name).join(', ')}`);
    if (out.json) {
      out.data({ applied, latest: states[states.length - 1].name });
    } else if (applied.length) {
      for (const name of applied) out.line(`applied ${name}`);
      out.line(`pgflow schema is up to date (${states[states.length - 1].name})`);
    } else {
      out.line(`nothing to migrate: pgflow schema is up to date (${states[states.length - 1].name})`);
    }
    return 0;
  },
};
