import { findRun, retryRun } from '../../db/queries/run.queries';
import { PgflowUnknownRunError } from '../../core/errors/pgflow.error';
import { runIdArgument } from '../cli.args';
import { DatabaseCommand } from '../cli.command';

/** `retry <runId>`: resumes a failed or cancelled run; refuses runs in any other status. */
export const retryCommand: DatabaseCommand = {
  name: 'retry',
  synopsis: 'retry <runId>',
  summary: 'resume a failed or cancelled run (completed steps keep their outputs)',
  arity: 1,
  flags: [],
  check: runIdArgument,
  database: true,
  async run({ db, args, out }) {
    const runId = runIdArgument(args);
    await retryRun(db, runId);
    const run = await findRun(db, runId);
    if (!run) throw new PgflowUnknownRunError(runId); // pruned in between
    if (out.json) out.data(run);
    else out.line(`run ${runId} resumed: ${run.status}, ${run.progress.completedSteps}/${run.progress.totalSteps} steps done`);
    return 0;
  },
};
