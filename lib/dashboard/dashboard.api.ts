import { Injectable } from '@nestjs/common';
import { PgflowClient } from '../client/pgflow.client';
import { PgflowUnknownRunError, PgflowValidationError } from '../core/errors/pgflow.error';
import { RUN_STATUSES } from '../core/pgflow.constants';
import { PgflowDatabase } from '../db/pgflow.database';
import {
  countRunsByStatus, findRunsByKey, FlowGraph, listFlowGraphs, listRunSignals, listRunsPage, RunSignalInfo, RunsPageFilter,
} from '../db/queries';
import { RunInfo, RunStatus, SignalResult, TaskInfo, WorkerInfo } from '../interfaces/run-info.interface';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Most runs one page may ask for. */
const MAX_LIMIT = 500;
/** Most runs one bulk action touches. */
const MAX_BULK = 1000;

/** A run as its dashboard page shows it: the RunInfo, its tasks, and the signals sent to it. */
export interface DashboardRun extends RunInfo {
  /** Each task with its latest state and its attempts (the last 20), as `PgflowClient.getTasks` answers. */
  tasks: TaskInfo[];
  signals: RunSignalInfo[];
}

/** A flow's definition and how many runs it has in each status. */
export interface DashboardFlow extends FlowGraph {
  counts: Partial<Record<RunStatus, number>>;
}

/** Query string of `GET <path>/api/runs`. */
export interface RunsQuery {
  flow?: string;
  status?: string;
  before?: string;
  limit?: string;
  /** The runs started with this idempotency key (the other filters are ignored). */
  key?: string;
}

/** What a bulk cancel or retry did to the runs of a filter. */
export interface BulkResult {
  /** Runs the filter matched (at most `limit`). */
  matched: number;
  /** Runs cancelled, or resumed. */
  changed: number;
}

/** What the dashboard's routes do, independent of the HTTP layer: checks input, calls the client and the query layer. */
@Injectable()
export class DashboardApi {
  constructor(
    private readonly client: PgflowClient,
    private readonly db: PgflowDatabase,
  ) {}

  /**
   * Runs newest first, filtered; `before` pages back: the id of the last run of the
   * previous page (a keyset, exact however many runs share a creation time), or an ISO time.
   */
  listRuns(q: RunsQuery): Promise<RunInfo[]> {
    if (q.key) return findRunsByKey(this.db, String(q.key));
    return listRunsPage(this.db, this.filter(q, 50, MAX_LIMIT));
  }

  private filter(q: RunsQuery, defaultLimit: number, maxLimit: number): RunsPageFilter {
    const f: RunsPageFilter = { limit: defaultLimit };
    if (q.flow) f.flowSlug = String(q.flow);
    if (q.status) {
      if (!RUN_STATUSES.includes(q.status as RunStatus)) {
        throw new PgflowValidationError(`status must be one of ${RUN_STATUSES.join(', ')} (got ${JSON.stringify(q.status)})`);
      }
      f.status = q.status as RunStatus;
    }
    if (q.before && UUID.test(String(q.before))) {
      f.afterRunId = String(q.before);
    } else if (q.before) {
      const before = new Date(String(q.before));
      if (isNaN(before.getTime())) throw new PgflowValidationError(`before must be a run id or an ISO date (got ${JSON.stringify(q.before)})`);
      f.before = before;
    }
    if (q.limit !== undefined && q.limit !== '') {
      const limit = Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
        throw new PgflowValidationError(`limit must be an integer from 1 to ${maxLimit} (got ${JSON.stringify(q.limit)})`);
      }
      f.limit = limit;
    }
    return f;
  }

  /**
   * Cancels, or resumes, the runs a filter matches (`{ flow?, status?, before?, limit? }`,
   * at most 1000, default 1000), one run at a time; reports how many it matched and changed.
   * Runs already finished (cancel) or not failed or cancelled (retry) are left as they are.
   */
  async bulk(verb: 'cancel' | 'retry', body: unknown): Promise<BulkResult> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new PgflowValidationError('the body must be an object { flow?, status?, before?, limit? }');
    }
    const b = body as Record<string, unknown>;
    const q: RunsQuery = {};
    for (const k of ['flow', 'status', 'before', 'limit'] as const) {
      if (b[k] !== undefined && b[k] !== null) q[k] = String(b[k]);
    }
    const runs = await listRunsPage(this.db, this.filter(q, MAX_BULK, MAX_BULK));
    let changed = 0;
    for (const run of runs) {
      if (verb === 'cancel' && (run.status === 'queued' || run.status === 'started')) {
        await this.client.cancelRun(run.runId);
        changed++;
      } else if (verb === 'retry' && (run.status === 'failed' || run.status === 'cancelled')) {
        const ok = await this.client.retryRun(run.runId).then(() => true, (err: unknown) => {
          if (err instanceof PgflowValidationError || err instanceof PgflowUnknownRunError) return false;
          throw err;
        });
        if (ok) changed++;
      }
    }
    return { matched: runs.length, changed };
  }

  /** The run with its tasks and signals; PgflowUnknownRunError when there is none. */
  async getRun(runId: string): Promise<DashboardRun> {
    const run = await this.client.getRun(runId);
    if (!run) throw new PgflowUnknownRunError(runId);
    const [tasks, signals] = await Promise.all([this.client.getTasks(runId), listRunSignals(this.db, runId)]);
    return { ...run, tasks, signals };
  }

  /** Every stored flow with its steps and counts of runs by status. */
  async listFlows(): Promise<DashboardFlow[]> {
    const [flows, counts] = await Promise.all([listFlowGraphs(this.db), countRunsByStatus(this.db)]);
    return flows.map((f) => ({ ...f, counts: counts[f.flowSlug] ?? {} }));
  }

  /** Workers known to the database. */
  listWorkers(): Promise<WorkerInfo[]> {
    return this.client.listWorkers();
  }

  /** Cancels the run (a finished one stays as it is) and answers it as it is now. */
  async cancel(runId: string): Promise<RunInfo> {
    await this.client.cancelRun(runId);
    const run = await this.client.getRun(runId);
    if (!run) throw new PgflowUnknownRunError(runId);
    return run;
  }

  /** Resumes a failed or cancelled run. */
  retry(runId: string): Promise<RunInfo> {
    return this.client.retryRun(runId);
  }

  /** Sends signal `name` to the run (`body`: `{ name, payload, id? }`). */
  signal(runId: string, body: unknown): Promise<SignalResult> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new PgflowValidationError('the body must be an object { name, payload, id? }');
    }
    const { name, payload, id } = body as { name?: unknown; payload?: unknown; id?: unknown };
    if (typeof name !== 'string') throw new PgflowValidationError('name must be a string');
    if (id !== undefined && typeof id !== 'string') throw new PgflowValidationError('id must be a string');
    return this.client.signal(runId, name, payload, id === undefined ? {} : { id });
  }
}
