import { parseArgs } from 'util';
import { assertRunId } from '../core/errors/sql-error.mapper';
import { RUN_STATUSES } from '../core/pgflow.constants';
import { RunStatus } from '../interfaces/run-info.interface';
import { CliUsageError } from './cli.errors';

const FLAGS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  flow: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  'migrations-table': { type: 'string' },
} as const;

/** A flag the CLI knows (each command accepts some of them). */
export type FlagName = keyof typeof FLAGS;

const MAX_LIMIT = 10_000;

/** The flags of a command line, checked and typed. */
export interface CliOptions {
  url?: string;
  json: boolean;
  help: boolean;
  flow?: string;
  status?: RunStatus;
  limit?: number;
  after?: string;
  migrationsTable?: string;
}

/** A parsed command line: the command name, its arguments, the flags given. */
export interface CliInvocation {
  command: string | undefined;
  args: string[];
  options: CliOptions;
  /** Flags present on the command line (each command refuses those it has no use for). */
  given: FlagName[];
}

/** Parses argv (without node and the script); throws CliUsageError on an unknown or malformed flag. */
export function parseCommandLine(argv: string[]): CliInvocation {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    // Node's messages go on to explain `--`; the first sentence says what is wrong
    const message = (err as Error).message.split('. ')[0];
    const loose = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: false });
    throw new CliUsageError(message.charAt(0).toLowerCase() + message.slice(1), loose.positionals[0]);
  }
  const { values, positionals } = parsed;
  try {
    return { command: positionals[0], args: positionals.slice(1), options: typed(values), given: flagsOf(values) };
  } catch (err) {
    throw err instanceof CliUsageError ? new CliUsageError(err.message, positionals[0]) : err;
  }
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
}

type Values = ReturnType<typeof parse>['values'];

function flagsOf(values: Values): FlagName[] {
  return Object.keys(values).filter((k): k is FlagName => k in FLAGS);
}

function typed(values: Values): CliOptions {
  return {
    url: values.url,
    json: values.json ?? false,
    help: values.help ?? false,
    flow: values.flow,
    status: values.status === undefined ? undefined : runStatus(values.status),
    limit: values.limit === undefined ? undefined : limit(values.limit),
    after: values.after,
    migrationsTable: values['migrations-table'],
  };
}

function runStatus(value: string): RunStatus {
  const status = RUN_STATUSES.find((s) => s === value);
  if (!status) throw new CliUsageError(`--status must be one of ${RUN_STATUSES.join(', ')} (got "${value}")`);
  return status;
}

function limit(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new CliUsageError(`--limit must be an integer from 1 to ${MAX_LIMIT} (got "${value}")`);
  }
  return n;
}

/** The run id argument, checked to be a uuid. */
export function runIdArgument(args: string[]): string {
  const runId = args[0];
  try {
    assertRunId(runId);
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  return runId;
}
