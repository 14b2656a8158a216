import { CliCommand } from './cli.command';
import { COMMANDS } from './commands';

const CONNECTION = '[--url <postgres url>] [--json]';

/** The full help: commands, flags, exit codes. */
export function usage(): string {
  const rows = [...COMMANDS.map((c) => [c.synopsis, c.summary]), ['help [<command>]', 'show this help, or one command\'s']];
  return [
    `usage: nestjs-pgflow <command> ${CONNECTION}`,
    '',
    'commands:',
    ...rows.map(([synopsis, summary]) => `  ${synopsis}\n      ${summary}`),
    '',
    'options:',
    '  --url <postgres url>  the database (default: $DATABASE_URL)',
    '  --json                print JSON instead of text',
    '  -h, --help            show help',
    '',
    'exit codes: 0 done; 1 refused (unknown run, run in the wrong state, schema behind,',
    '            database unreachable); 2 usage error',
  ].join('\n');
}

/** One command's usage line and what it does. */
export function commandUsage(command: CliCommand): string {
  const connection = command.database ? CONNECTION : '[--json]';
  return `usage: nestjs-pgflow ${command.synopsis} ${connection}\n${command.summary}`;
}

/** The line printed after a usage error. */
export function usageHint(command: CliCommand | undefined): string {
  return command ? commandUsage(command).split('\n')[0]
    : `usage: nestjs-pgflow <command> ${CONNECTION} (nestjs-pgflow --help lists the commands)`;
}
