import { DONE_CHANNEL } from '../support/done.listener';
import { loadPeer } from '../support/peer.loader';
import { workerSettings } from '../engines/engine';
import {
  GRAPHILE_TASKS, GraphileJobHelpers, GraphileRunner, GraphileSettings, GraphileTask, GraphileWorkerModule, quietLogger,
} from '../engines/graphile.types';
import { runWorker } from './worker.runtime';

function idOf(payload: unknown): string {
  return (payload as { id: string }).id;
}

runWorker(async (progress, env) => {
  const settings = workerSettings<GraphileSettings>();
  const graphile = loadPeer<GraphileWorkerModule>('graphile-worker');
  const notifyDone = (helpers: GraphileJobHelpers, id: string) => helpers.query(`select pg_notify('${DONE_CHANNEL}', $1)`, [id]);
  const [one, two, three] = GRAPHILE_TASKS.chain;
  const taskList: Record<string, GraphileTask> = {
    [GRAPHILE_TASKS.single]: () => {
      progress.handled++;
    },
    [one]: async (payload, helpers) => {
      await helpers.addJob(two, payload);
    },
    [two]: async (payload, helpers) => {
      await helpers.addJob(three, payload);
    },
    [three]: async (payload, helpers) => {
      await notifyDone(helpers, idOf(payload));
    },
    [GRAPHILE_TASKS.item]: async (payload, helpers) => {
      const id = idOf(payload);
      const left = await helpers.query('update bench_fanout set remaining = remaining - 1 where id = $1 returning remaining', [id]);
      if (left.rows[0]?.remaining === 0) await helpers.addJob(GRAPHILE_TASKS.total, { id });
    },
    [GRAPHILE_TASKS.total]: async (payload, helpers) => {
      await notifyDone(helpers, idOf(payload));
    },
  };
  let runner: GraphileRunner | undefined;
  return {
    async start() {
      runner = await graphile.run({
        connectionString: env.dbUrl,
        // signals are the bench runtime's (it stops the runner on 'stop')
        noHandleSignals: true,
        taskList,
        logger: quietLogger(graphile),
        preset: { worker: settings },
      });
    },
    async stop() {
      await runner?.stop();
    },
  };
});
