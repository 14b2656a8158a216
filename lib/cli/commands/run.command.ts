import { findRun } from '../../db/queries/run.queries';
import { listTasks } from '../../db/queries/task-history.queries';
import { PgflowUnknownRunError } from '../../core/errors/pgflow.error';
import { runIdArgument } from '../cli.args';
import { DatabaseCommand } from '../cli.command';
import { cell, time } from '../cli.output';
import { runError, taskProgress } from './run.format';

/** `run <runId>`: one run with its steps and tasks. */
export const runCommand: DatabaseCommand = {
  name: 'run',
  synopsis: 'run <runId>',
  summary: 'show a run, its steps and its tasks',
  arity: 1,
  flags: [],
  check: runIdArgument,
  database: true,
  async run({ db, args, out }) {
    const runId = runIdArgument(args);
    const run = await findRun(db, runId);
    if (!run) throw new PgflowUnknownRunError(runId);
    const tasks = await listTasks(db, runId);
    if (out.json) {
      out.data({ ...run, tasks });
      return 0;
    }
    out.fields([
      ['run', run.runId], ['flow', run.flowSlug], ['status', run.status],
      ['progress', `${run.progress.completedSteps}/${run.progress.totalSteps} steps`],
      ['created', time(run.createdAt)], ['started', time(run.startedAt)],
      ['completed', time(run.completedAt)], ['failed', time(run.failedAt)],
      ['error', runError(run)], ['input', cell(JSON.stringify(run.input), 500)], ['output', cell(JSON.stringify(run.output), 500)],
    ]);
    out.line();
    out.table(['STEP', 'STATUS', 'TASKS', 'ERROR'],
      run.steps.map((s) => [s.stepSlug, s.status, taskProgress(s), cell(s.error)]));
    out.line();
    out.table(['STEP', 'TASK', 'STATUS', 'ATTEMPTS', 'WORKER', 'STARTED', 'ENDED', 'ERROR'], tasks.map((t) => [
      t.stepSlug, String(t.taskIndex), t.status, String(t.attempts), t.workerId ?? '-',
      time(t.startedAt), time(t.completedAt ?? t.failedAt), cell(t.error),
    ]));
    return 0;
  },
};
