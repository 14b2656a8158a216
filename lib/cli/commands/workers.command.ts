import { listWorkers } from '../../db/queries/worker.queries';
import { OPTION_DEFAULTS } from '../../core/options.resolver';
import { DatabaseCommand } from '../cli.command';
import { time } from '../cli.output';

/** `workers`: worker processes known to the database, with their heartbeats. */
export const workersCommand: DatabaseCommand = {
  name: 'workers',
  synopsis: 'workers',
  summary: 'list worker processes and their heartbeats (stale: no heartbeat for 15 s)',
  arity: 0,
  flags: [],
  database: true,
  async run({ db, out }) {
    // the CLI cannot know each worker's heartbeatIntervalMs: judged by the default
    const workers = await listWorkers(db, OPTION_DEFAULTS.worker.heartbeatIntervalMs);
    if (out.json) out.data(workers);
    else if (workers.length === 0) out.line('no workers');
    else {
      out.table(['WORKER', 'STATUS', 'FLOWS', 'STARTED', 'LAST HEARTBEAT'], workers.map((w) => [
        w.workerId, w.status, w.flows.length ? w.flows.join(',') : '-', time(w.startedAt), time(w.lastHeartbeatAt),
      ]));
    }
    return 0;
  },
};
