import type { EntityManager } from 'typeorm';
import { PgflowRunStateError } from '../../core/errors/run-state.error';
import { mapSqlError } from '../../core/errors/sql-error.mapper';
import { ListRunsFilter, RunInfo, RunStatus } from '../../interfaces/run-info.interface';
import { RunRow, toRunInfo } from './run.mapper';
import { Queryable, SQL } from './statement';

// Callers check run ids with assertRunId first: these send them as they are.

/** What `pgflow.start_flow` takes besides the flow and its input (JSON text). */
export interface StartFlowOptions {
  runId?: string;
  idempotencyKey?: string;
  priority?: number;
  startAt?: Date;
  manager?: EntityManager;
  /** W3C traceparent of the span that starts the run. */
  traceparent?: string;
  /** Replaces the key of every keyed limit of the run. */
  concurrencyKey?: string;
}

/** Starts a run (or returns the run of the same idempotency key); resolves with its id. */
export async function startFlow(db: Queryable, flowSlug: string, inputJson: string, o: StartFlowOptions = {}): Promise<string> {
  try {
    const rows = await db.run<{ run_id: string }>(SQL.start_flow,
      [flowSlug, inputJson, o.runId ?? null, o.idempotencyKey ?? null, o.priority ?? 0, o.startAt ?? null,
        o.traceparent ?? null, o.concurrencyKey ?? null], o.manager);
    return rows[0].run_id;
  } catch (err) {
    throw mapSqlError(err, { flowSlug });
  }
}

/** The run with its step states, or null if there is none. */
export async function findRun(db: Queryable, runId: string, manager?: EntityManager): Promise<RunInfo | null> {
  const rows = await db.run<RunRow>(SQL.find_run, [runId], manager);
  return rows.length ? toRunInfo(rows[0]) : null;
}

/** The runs of `runIds` that exist, in no particular order. */
export async function findRuns(db: Queryable, runIds: readonly string[]): Promise<RunInfo[]> {
  const rows = await db.run<RunRow>(SQL.find_runs, [runIds]);
  return rows.map(toRunInfo);
}

/** Runs, newest first (at most `limit`, default 100). */
export async function listRuns(db: Queryable, f: ListRunsFilter = {}): Promise<RunInfo[]> {
  const rows = await db.run<RunRow>(SQL.list_runs,
    [f.flowSlug ?? null, f.status ?? null, f.before ?? null, f.limit ?? 100, f.parentRunId ?? null]);
  return rows.map(toRunInfo);
}

/** A run's status, or undefined when there is no such run. */
export async function runStatus(db: Queryable, runId: string): Promise<RunStatus | undefined> {
  const rows = await db.run<{ status: RunStatus }>(SQL.run_status, [runId]);
  return rows[0]?.status;
}

/** Which of `runIds` were cancelled or failed. */
export function endedRuns(db: Queryable, runIds: readonly string[]): Promise<Array<{ run_id: string; status: RunStatus }>> {
  return db.run(SQL.ended_runs, [runIds]);
}

/**
 * pgflow.cancel_run: resolves with the run's status afterwards, `cancelled` or the
 * final status it already had (then nothing changed). Unknown run: PgflowUnknownRunError.
 */
export async function cancelRun(db: Queryable, runId: string, compensate = true): Promise<RunStatus> {
  try {
    const rows = await db.run<{ status: RunStatus }>(SQL.cancel_run, [runId, compensate]);
    return rows[0].status;
  } catch (err) {
    throw mapSqlError(err, { runId });
  }
}

/** The status retry_run reported when it refused a run (raised with SQLSTATE PGF05, status in DETAIL). */
function refusedStatus(err: unknown): RunStatus | undefined {
  const e = err as { code?: string; detail?: string; driverError?: { code?: string; detail?: string } } | undefined;
  const pg = e?.driverError ?? e;
  return pg?.code === 'PGF05' && pg.detail ? (pg.detail as RunStatus) : undefined;
}

/**
 * pgflow.retry_run: resumes a failed or cancelled run. PgflowRunStateError when the
 * run is in another status, PgflowUnknownRunError when there is no such run.
 */
export async function retryRun(db: Queryable, runId: string): Promise<void> {
  try {
    await db.run(SQL.retry_run, [runId]);
  } catch (err) {
    const status = refusedStatus(err);
    if (status) {
      throw new PgflowRunStateError(runId, status, `run ${runId} is ${status}: only failed or cancelled runs can be retried`);
    }
    throw mapSqlError(err, { runId });
  }
}
