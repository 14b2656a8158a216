import { sqlState } from '../core/errors/sql-error.mapper';
import { CliInvocation, FlagName, parseCommandLine } from './cli.args';
import { CliCommand } from './cli.command';
import { databaseUrl, openDatabase } from './cli.database';
import { CliUsageError, EXIT } from './cli.errors';
import { CliIo, CliOutput } from './cli.output';
import { commandUsage, usage, usageHint } from './cli.usage';
import { COMMANDS } from './commands';

const ALWAYS: readonly FlagName[] = ['json', 'help'];
/** SQLSTATEs of a database without (the current) pgflow schema: undefined table, schema, function. */
const NOT_MIGRATED = new Set(['42P01', '3F000', '42883']);

/**
 * Runs one command line and resolves with the exit code; never rejects. Output goes
 * to `io`: results on stdout, a refusal or error as one line on stderr.
 */
export async function runCli(argv: string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let command: CliCommand | undefined;
  const report = new CliOutput(io, false);
  try {
    const invocation = parseCommandLine(argv);
    const out = new CliOutput(io, invocation.options.json);
    if (invocation.command === undefined && invocation.options.help) {
      out.line(usage());
      return EXIT.ok;
    }
    if (invocation.command === 'help') return help(invocation, out);
    command = find(invocation.command);
    if (invocation.options.help) {
      out.line(commandUsage(command));
      return EXIT.ok;
    }
    check(command, invocation);
    command.check?.(invocation.args);
    const ctx = { args: invocation.args, options: invocation.options, out };
    if (!command.database) return await command.run(ctx);
    const db = await openDatabase(databaseUrl(invocation.options.url, env), invocation.options.migrationsTable);
    try {
      return await command.run({ ...ctx, db });
    } finally {
      await db.close().catch(() => undefined);
    }
  } catch (err) {
    if (err instanceof CliUsageError) {
      report.error(oneLine(err.message));
      io.stderr(`${usageHint(command ?? COMMANDS.find((c) => c.name === err.command))}\n`);
      return EXIT.usage;
    }
    report.error(describe(err));
    return EXIT.refused;
  }
}

function help(invocation: CliInvocation, out: CliOutput): number {
  if (invocation.args.length > 1) throw new CliUsageError('help takes at most one command');
  out.line(invocation.args.length ? commandUsage(find(invocation.args[0])) : usage());
  return EXIT.ok;
}

function find(name: string | undefined): CliCommand {
  if (name === undefined) throw new CliUsageError('no command given');
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new CliUsageError(`unknown command "${name}"`);
  return command;
}

/** Refuses arguments and flags the command has no use for (a typo must not be ignored silently). */
function check(command: CliCommand, invocation: CliInvocation): void {
  const { arity } = command;
  if (invocation.args.length < arity) {
    throw new CliUsageError(`${command.name}: missing argument ${command.synopsis.split(' ')[invocation.args.length + 1]}`);
  }
  if (invocation.args.length > arity) {
    throw new CliUsageError(`${command.name}: unexpected argument "${invocation.args[arity]}"`);
  }
  const accepted = [...ALWAYS, ...command.flags, ...(command.database ? ['url'] : [])];
  const extra = invocation.given.find((f) => !accepted.includes(f));
  if (extra) throw new CliUsageError(`${command.name} does not take --${extra}`);
}

/** One line for a refusal or failure; never a stack trace. */
function describe(err: unknown): string {
  const message = oneLine(err instanceof Error ? err.message : String(err));
  const code = sqlState(err);
  if (code && NOT_MIGRATED.has(code)) {
    return `${message} (is the pgflow schema missing or behind? run \`nestjs-pgflow status\`)`;
  }
  return message || (err instanceof Error ? err.name : 'failed');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
