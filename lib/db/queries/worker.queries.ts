import { WorkerInfo } from '../../interfaces/run-info.interface';
import { SqlQuery } from './sql-query';

/**
 * Workers known to the database, oldest first; `stale`: online but without a
 * heartbeat for three intervals (at least 15 s).
 */
export async function listWorkers(query: SqlQuery, heartbeatIntervalMs: number): Promise<WorkerInfo[]> {
  const staleMs = Math.max(3 * heartbeatIntervalMs, 15_000);
  const rows = await query<{ worker_id: string; flows: string[]; status: string; started_at: Date;
    last_heartbeat_at: Date }>(
    'select worker_id, flows, status, started_at, last_heartbeat_at from pgflow.workers order by started_at',
  );
  return rows.map((r) => ({
    workerId: r.worker_id,
    flows: r.flows,
    startedAt: r.started_at,
    lastHeartbeatAt: r.last_heartbeat_at,
    status: r.status === 'stopped' ? 'stopped'
      : Date.now() - r.last_heartbeat_at.getTime() > staleMs ? 'stale' : 'online',
  }));
}
