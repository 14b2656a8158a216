import { CliOptions, FlagName } from './cli.args';
import { CliDatabase } from './cli.database';
import { CliOutput } from './cli.output';

/** What every command gets: its arguments, the flags, and where to print. */
export interface CommandContext {
  args: string[];
  options: CliOptions;
  out: CliOutput;
}

interface CommandDefinition {
  name: string;
  /** The command line after `nestjs-pgflow`, e.g. `run <runId>`. */
  synopsis: string;
  summary: string;
  /** Positional arguments it takes, exactly. */
  arity: number;
  /** Flags it accepts besides --json and --help (and --url when it connects). */
  flags: readonly FlagName[];
  /** Checks the arguments before a connection is opened; throws CliUsageError. */
  check?(args: string[]): void;
}

/** A command that needs no database (e.g. `sql`). */
export interface OfflineCommand extends CommandDefinition {
  database: false;
  /** Resolves with the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** A command run on one connection pool opened from --url / DATABASE_URL. */
export interface DatabaseCommand extends CommandDefinition {
  database: true;
  /** Resolves with the exit code. */
  run(ctx: CommandContext & { db: CliDatabase }): Promise<number>;
}

/** One `nestjs-pgflow <command>`. */
export type CliCommand = OfflineCommand | DatabaseCommand;
