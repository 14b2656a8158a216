import { WorkerInfo } from '../../interfaces/run-info.interface';
import { Queryable, SQL } from './statement';
import { TaskAttempt } from './task.types';

/**
 * A worker's heartbeat: registers it, or updates its flows, status and last heartbeat.
 * With `leaseSeconds`, renews the leases of all its running tasks in the same statement
 * and resolves with the attempts it still holds.
 */
export function upsertWorker(db: Queryable, workerId: string, flows: readonly string[],
  status: 'online' | 'stopped', leaseSeconds?: number): Promise<TaskAttempt[]> {
  return db.run<TaskAttempt>(SQL.upsert_worker, [workerId, flows, status, leaseSeconds ?? null]);
}

/**
 * Workers known to the database, oldest first; `stale`: online but without a
 * heartbeat for three intervals (at least 15 s).
 */
export async function listWorkers(db: Queryable, heartbeatIntervalMs: number): Promise<WorkerInfo[]> {
  const staleMs = Math.max(3 * heartbeatIntervalMs, 15_000);
  const rows = await db.run<{ worker_id: string; flows: string[]; status: string; started_at: Date;
    last_heartbeat_at: Date }>(SQL.list_workers, []);
  return rows.map((r) => ({
    workerId: r.worker_id,
    flows: r.flows,
    startedAt: r.started_at,
    lastHeartbeatAt: r.last_heartbeat_at,
    status: r.status === 'stopped' ? 'stopped'
      : Date.now() - r.last_heartbeat_at.getTime() > staleMs ? 'stale' : 'online',
  }));
}
