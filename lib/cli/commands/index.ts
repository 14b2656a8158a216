import { CliCommand } from '../cli.command';
import { cancelCommand } from './cancel.command';
import { migrateCommand } from './migrate.command';
import { retryCommand } from './retry.command';
import { runCommand } from './run.command';
import { runsCommand } from './runs.command';
import { sqlCommand } from './sql.command';
import { statusCommand } from './status.command';
import { workersCommand } from './workers.command';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  migrateCommand, statusCommand, sqlCommand, runsCommand, runCommand, retryCommand, cancelCommand, workersCommand,
];
