import { resolve } from 'path';
import { parseArgs } from 'util';

/** Command-line options of the sample. */
export interface SampleOptions {
  /** Runs to start (`--runs N`). Default `1`. */
  runs: number;
  /** Data directory of the embedded Postgres (`--data DIR`). Default: a temporary directory. */
  dataDir?: string;
  /** `--help` was given. */
  help: boolean;
}

/** Usage text printed by `--help` and after a bad argument. */
export const USAGE = `usage: npm run sample -- [--runs N] [--data DIR]
  --runs N    start N runs of the document pipeline and report throughput (default 1)
  --data DIR  keep the embedded Postgres in DIR (default: a temporary directory);
              ignored when DATABASE_URL is set`;

/** Parses argv (without node and the script); throws with a readable message on bad input. */
export function parseSampleOptions(argv: string[]): SampleOptions {
  const { values } = parseArgs({
    args: argv,
    options: { runs: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  const runs = values.runs === undefined ? 1 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 10_000) {
    throw new Error(`--runs must be an integer from 1 to 10000 (got ${values.runs})`);
  }
  if (values.data === '') throw new Error('--data needs a directory');
  return { runs, dataDir: values.data === undefined ? undefined : resolve(values.data), help: values.help ?? false };
}
