import { PgflowRunStateError } from '../../core/errors/run-state.error';
import { mapSqlError } from '../../core/errors/sql-error.mapper';
import { ListRunsFilter, RunInfo, RunStatus } from '../../interfaces/run-info.interface';
import { RUN_SELECT, RunRow, toRunInfo } from './run.mapper';
import { SqlQuery } from './sql-query';

// Callers check run ids with assertRunId first: these send them as they are.

/** The status retry_run reported when it refused a run (raised with SQLSTATE PGF05, status in DETAIL). */
function refusedStatus(err: unknown): RunStatus | undefined {
  const e = err as { code?: string; detail?: string; driverError?: { code?: string; detail?: string } } | undefined;
  const pg = e?.driverError ?? e;
  return pg?.code === 'PGF05' && pg.detail ? (pg.detail as RunStatus) : undefined;
}

/** The run with its step states, or null if there is none. */
export async function findRun(query: SqlQuery, runId: string): Promise<RunInfo | null> {
  const rows = await query<RunRow>(`${RUN_SELECT} where r.run_id = $1`, [runId]);
  return rows.length ? toRunInfo(rows[0]) : null;
}

/** Runs, newest first (at most `limit`, default 100). */
export async function listRuns(query: SqlQuery, f: ListRunsFilter = {}): Promise<RunInfo[]> {
  const rows = await query<RunRow>(
    `${RUN_SELECT}
      where ($1::text is null or r.flow_slug = $1) and ($2::text is null or r.status = $2)
        and ($3::timestamptz is null or r.created_at < $3)
      order by r.created_at desc limit $4`,
    [f.flowSlug ?? null, f.status ?? null, f.before ?? null, f.limit ?? 100],
  );
  return rows.map(toRunInfo);
}

/**
 * pgflow.cancel_run: resolves with the run's status afterwards, `cancelled` or the
 * final status it already had (then nothing changed). Unknown run: PgflowUnknownRunError.
 */
export async function cancelRun(query: SqlQuery, runId: string): Promise<RunStatus> {
  try {
    const rows = await query<{ status: RunStatus }>('select pgflow.cancel_run($1) as status', [runId]);
    return rows[0].status;
  } catch (err) {
    throw mapSqlError(err, { runId });
  }
}

/**
 * pgflow.retry_run: resumes a failed or cancelled run. PgflowRunStateError when the
 * run is in another status, PgflowUnknownRunError when there is no such run.
 */
export async function retryRun(query: SqlQuery, runId: string): Promise<void> {
  try {
    await query('select 1 from pgflow.retry_run($1)', [runId]);
  } catch (err) {
    const status = refusedStatus(err);
    if (status) {
      throw new PgflowRunStateError(runId, status, `run ${runId} is ${status}: only failed or cancelled runs can be retried`);
    }
    throw mapSqlError(err, { runId });
  }
}
