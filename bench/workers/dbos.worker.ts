import { loadPeer } from '../support/peer.loader';
import { workerSettings } from '../engines/engine';
import { DBOS_APP, DBOS_QUEUE, DBOS_WORKFLOWS, DBOSModule, DBOSSettings } from '../engines/dbos.types';
import { runWorker } from './worker.runtime';

runWorker(async (progress, env) => {
  const settings = workerSettings<DBOSSettings>();
  // one executor ID per process (read when the SDK loads), as DBOS asks of processes sharing
  // a database: with the default 'local' for all, each launch recovers the others' workflows
  process.env.DBOS__VMID = `bench-worker-${env.index}`;
  const { DBOS } = loadPeer<DBOSModule>('@dbos-inc/dbos-sdk');
  DBOS.setConfig({ name: DBOS_APP, systemDatabaseUrl: env.dbUrl, logLevel: 'warn' });
  const noop = async (): Promise<number> => 1;

  DBOS.registerWorkflow(async () => {
    await DBOS.runStep(noop, { name: 'only' });
    progress.handled++;
  }, { name: DBOS_WORKFLOWS.single });

  DBOS.registerWorkflow(async () => {
    const one = await DBOS.runStep(noop, { name: 'one' });
    const two = await DBOS.runStep(async () => one + 1, { name: 'two' });
    return DBOS.runStep(async () => two + 1, { name: 'three' });
  }, { name: DBOS_WORKFLOWS.chain });

  const item = DBOS.registerWorkflow(async (n: number) => DBOS.runStep(async () => n, { name: 'item' }), { name: DBOS_WORKFLOWS.item });

  DBOS.registerWorkflow(async (n: number) => {
    const start = DBOS.startWorkflow(item, { queueName: DBOS_QUEUE });
    const handles = await Promise.all(Array.from({ length: n }, (_, i) => start(i)));
    await DBOS.waitAll(handles, { pollingIntervalMs: settings.resultPollMs });
    const values = await Promise.all(handles.map((h) => h.getResult()));
    return values.reduce((a, b) => a + b, 0);
  }, { name: DBOS_WORKFLOWS.fanout });

  return {
    start: () => DBOS.launch(),
    stop: () => DBOS.shutdown(),
  };
});
