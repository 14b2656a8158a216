import { RunInfo } from '../../interfaces/run-info.interface';
import { RunRow, toRunInfo } from './run.mapper';
import { Queryable, SQL } from './statement';

/** A step of a stored flow definition, as the dashboard draws it. */
export interface FlowGraphStep {
  stepSlug: string;
  stepType: 'single' | 'map';
  /** `run` or the dependency a map step iterates over; null for single steps. */
  mapSource: string | null;
  /** The signal the step waits for; null when it waits for none. */
  signalName: string | null;
  dependsOn: string[];
}

/** A stored flow definition with its steps in declaration order. */
export interface FlowGraph {
  flowSlug: string;
  deprecated: boolean;
  steps: FlowGraphStep[];
}

/** Every stored flow with its steps, by slug. */
export async function listFlowGraphs(db: Queryable): Promise<FlowGraph[]> {
  const rows = await db.run<{ flow_slug: string; deprecated: boolean; steps: FlowGraphStep[] }>(SQL.list_flow_graphs, []);
  return rows.map((r) => ({ flowSlug: r.flow_slug, deprecated: r.deprecated, steps: r.steps }));
}

/** Runs per flow and status: `{ <flowSlug>: { <status>: count } }`. */
export async function countRunsByStatus(db: Queryable): Promise<Record<string, Record<string, number>>> {
  const rows = await db.run<{ flow_slug: string; status: string; runs: number }>(SQL.count_runs_by_status, []);
  const counts: Record<string, Record<string, number>> = {};
  for (const r of rows) (counts[r.flow_slug] ??= {})[r.status] = r.runs;
  return counts;
}

/** A signal sent to a run. */
export interface RunSignalInfo {
  name: string;
  signalId: string;
  payload: unknown;
  /** The step whose wait took it; null while buffered. */
  consumedBy: string | null;
  createdAt: Date;
  consumedAt: Date | null;
}

/** The signals sent to a run, oldest first. */
export async function listRunSignals(db: Queryable, runId: string): Promise<RunSignalInfo[]> {
  const rows = await db.run<{ name: string; signal_id: string; payload: unknown; consumed_by: string | null;
    created_at: Date; consumed_at: Date | null }>(SQL.list_run_signals, [runId]);
  return rows.map((r) => ({ name: r.name, signalId: r.signal_id, payload: r.payload, consumedBy: r.consumed_by,
    createdAt: r.created_at, consumedAt: r.consumed_at }));
}

/** A page of the dashboard's runs list. */
export interface RunsPageFilter {
  flowSlug?: string;
  status?: string;
  /** Only runs created before this time. */
  before?: Date;
  /** Only runs after this one, newest first by (created_at, run_id). */
  afterRunId?: string;
  limit: number;
}

/** Runs newest first by (created_at, run_id): keyset pages that stay as fast deep down as at the top. */
export async function listRunsPage(db: Queryable, f: RunsPageFilter): Promise<RunInfo[]> {
  const rows = await db.run<RunRow>(SQL.list_runs_page,
    [f.flowSlug ?? null, f.status ?? null, f.before ?? null, f.limit, f.afterRunId ?? null]);
  return rows.map(toRunInfo);
}

/** The runs started with this idempotency key, one per flow at most, newest first. */
export async function findRunsByKey(db: Queryable, idempotencyKey: string): Promise<RunInfo[]> {
  const rows = await db.run<RunRow>(SQL.find_runs_by_key, [idempotencyKey]);
  return rows.map(toRunInfo);
}
