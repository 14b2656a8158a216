import { listRuns } from '../../db/queries/run.queries';
import { DatabaseCommand } from '../cli.command';
import { RUN_COLUMNS, runRow } from './run.format';

const DEFAULT_LIMIT = 20;

/** `runs`: the newest runs, optionally of one flow or status. */
export const runsCommand: DatabaseCommand = {
  name: 'runs',
  synopsis: `runs [--flow <slug>] [--status <status>] [--limit <n, default ${DEFAULT_LIMIT}>]`,
  summary: 'list runs, newest first',
  arity: 0,
  flags: ['flow', 'status', 'limit'],
  database: true,
  async run({ db, options, out }) {
    const runs = await listRuns(db, {
      flowSlug: options.flow, status: options.status, limit: options.limit ?? DEFAULT_LIMIT,
    });
    if (out.json) out.data(runs);
    else if (runs.length === 0) out.line('no runs');
    else out.table(RUN_COLUMNS, runs.map(runRow));
    return 0;
  },
};
