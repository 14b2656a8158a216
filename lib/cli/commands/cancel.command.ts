import { cancelRun } from '../../db/queries/run.queries';
import { runIdArgument } from '../cli.args';
import { DatabaseCommand } from '../cli.command';

/** `cancel <runId>`: cancels a queued or started run; a finished run is left as it is (exit code 0). */
export const cancelCommand: DatabaseCommand = {
  name: 'cancel',
  synopsis: 'cancel <runId>',
  summary: 'cancel a run and its unfinished steps and tasks (a finished run is left as it is)',
  arity: 1,
  flags: [],
  check: runIdArgument,
  database: true,
  async run({ db, args, out }) {
    const runId = runIdArgument(args);
    // like PgflowClient.cancelRun, safe to repeat: a run that already ended keeps its status
    const status = await cancelRun(db, runId);
    if (out.json) out.data({ runId, status });
    else if (status === 'cancelled') out.line(`run ${runId} cancelled`);
    else out.line(`run ${runId} had already ended (${status}): left as it is`);
    return 0;
  },
};
