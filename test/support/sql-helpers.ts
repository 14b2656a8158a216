import { Client, DatabaseError, Pool, PoolClient } from 'pg';
import { TestDatabase } from './database';

/**
 * Small helpers for SQL-level tests: they call the pgflow functions with bound
 * parameters only (jsonb values are always sent as JSON text and cast).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Db = Pool | PoolClient;

export interface FlowOptions {
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
  runTimeout?: number;
}

export interface StepDef {
  slug: string;
  deps?: string[];
  /** 'run' or the slug of the dependency to iterate over */
  map?: string;
  initialTasks?: number;
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
  startDelay?: number;
  if?: Json;
  ifNot?: Json;
  whenUnmet?: string;
  whenExhausted?: string;
  signal?: string;
  signalTimeout?: number;
  subflow?: string;
  compensate?: boolean;
}

export interface RunRow {
  run_id: string;
  flow_slug: string;
  status: string;
  input: Json;
  output: Json;
  error: Json;
  remaining_steps: number;
  priority: number;
  idempotency_key: string | null;
  start_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  cancelled_at: Date | null;
}

export interface StepStateRow {
  step_slug: string;
  status: string;
  remaining_deps: number;
  total_tasks: number | null;
  remaining_tasks: number | null;
  skip_cascade: boolean;
  output: Json;
  error_message: string | null;
}

export interface TaskRow {
  run_id: string;
  step_slug: string;
  task_index: number;
  status: string;
  attempts_count: number;
  priority: number;
  visible_at: Date;
  claimed_by: string | null;
  lease_expires_at: Date | null;
  input: Json;
  output: Json;
  error_message: string | null;
}

export interface ClaimedTask {
  run_id: string;
  flow_slug: string;
  step_slug: string;
  task_index: number;
  attempt: number;
  input: Json;
  run_input: Json;
  timeout_seconds: number;
  lease_expires_at: Date;
  attempt_number: number;
}

/** What identifies one attempt of a task. */
export interface TaskAttempt {
  run_id: string;
  step_slug: string;
  task_index: number;
  attempt: number;
}

const json = (v: Json | undefined): string | null => (v === undefined ? null : JSON.stringify(v));

/** StepDef key -> add_step argument name and SQL type (names are fixed; values are bound). */
const STEP_ARGS: ReadonlyArray<[keyof StepDef, string, string]> = [
  ['deps', 'p_deps', 'text[]'],
  ['map', 'p_map_source', 'text'],
  ['initialTasks', 'p_initial_tasks', 'int'],
  ['maxAttempts', 'p_max_attempts', 'int'],
  ['baseDelay', 'p_base_delay', 'int'],
  ['timeout', 'p_timeout', 'int'],
  ['startDelay', 'p_start_delay', 'int'],
  ['if', 'p_if', 'jsonb'],
  ['ifNot', 'p_if_not', 'jsonb'],
  ['whenUnmet', 'p_when_unmet', 'text'],
  ['whenExhausted', 'p_when_exhausted', 'text'],
  ['signal', 'p_signal', 'text'],
  ['subflow', 'p_subflow', 'text'],
  ['compensate', 'p_compensate', 'boolean'],
  ['signalTimeout', 'p_signal_timeout', 'int'],
];

export async function createFlow(db: Db, slug: string, opts: FlowOptions = {}): Promise<void> {
  await db.query(
    `select pgflow.create_flow(p_flow_slug => $1, p_max_attempts => $2, p_base_delay => $3, p_timeout => $4,
                               p_run_timeout => $5)`,
    [slug, opts.maxAttempts ?? null, opts.baseDelay ?? null, opts.timeout ?? null, opts.runTimeout ?? null],
  );
}

/** add_step with only the given options passed, so the SQL defaults apply to the rest. */
export async function addStep(db: Db, flow: string, step: StepDef): Promise<void> {
  const args = ['p_flow_slug => $1', 'p_step_slug => $2'];
  const values: unknown[] = [flow, step.slug];
  for (const [key, name, type] of STEP_ARGS) {
    const v = step[key];
    if (v === undefined) continue;
    values.push(type === 'jsonb' ? json(v as Json) : v);
    args.push(`${name} => $${values.length}::${type}`);
  }
  await db.query(`select pgflow.add_step(${args.join(', ')})`, values);
}

export async function defineFlow(db: Db, slug: string, steps: StepDef[], opts: FlowOptions = {}): Promise<void> {
  await createFlow(db, slug, opts);
  for (const step of steps) await addStep(db, slug, step);
}

export interface StartOptions {
  runId?: string;
  idempotencyKey?: string;
  priority?: number;
  startAt?: Date;
}

export async function startFlow(db: Db, flow: string, input: Json = {}, opts: StartOptions = {}): Promise<RunRow> {
  const { rows } = await db.query<RunRow>(
    `select * from pgflow.start_flow(p_flow_slug => $1, p_input => $2::jsonb, p_run_id => $3::uuid,
                                     p_idempotency_key => $4, p_priority => $5, p_start_at => $6::timestamptz)`,
    [flow, json(input), opts.runId ?? null, opts.idempotencyKey ?? null, opts.priority ?? 0, opts.startAt ?? null],
  );
  return rows[0];
}

/** start_tasks for the given flows (null: every flow). */
export async function claim(
  db: Db, flows: string[] | string | null, batchSize = 10, workerId = 'worker-1',
): Promise<ClaimedTask[]> {
  const slugs = flows === null ? null : Array.isArray(flows) ? flows : [flows];
  const { rows } = await db.query<ClaimedTask>('select * from pgflow.start_tasks($1, $2, $3)', [slugs, workerId, batchSize]);
  return rows;
}

export async function complete(db: Db, task: TaskAttempt, output: Json): Promise<boolean> {
  const { rows } = await db.query<{ accepted: boolean }>(
    'select pgflow.complete_task($1, $2, $3, $4, $5::jsonb) as accepted',
    [task.run_id, task.step_slug, task.task_index, task.attempt, json(output)],
  );
  return rows[0].accepted;
}

export interface BatchResult {
  run_id: string;
  step_slug: string;
  task_index: number;
  accepted: boolean;
}

export async function completeMany(db: Db, results: Array<TaskAttempt & { output: Json }>): Promise<BatchResult[]> {
  const payload = results.map((r) => ({
    run_id: r.run_id, step_slug: r.step_slug, task_index: r.task_index, attempt: r.attempt, output: r.output,
  }));
  const { rows } = await db.query<BatchResult>('select * from pgflow.complete_tasks($1::jsonb)', [JSON.stringify(payload)]);
  return rows;
}

export async function fail(db: Db, task: TaskAttempt, error: string, nonRetryable = false): Promise<string> {
  const { rows } = await db.query<{ outcome: string }>(
    'select pgflow.fail_task($1, $2, $3, $4, $5, $6) as outcome',
    [task.run_id, task.step_slug, task.task_index, task.attempt, error, nonRetryable],
  );
  return rows[0].outcome;
}

export async function getRun(db: Db, runId: string): Promise<RunRow> {
  const { rows } = await db.query<RunRow>('select * from pgflow.runs where run_id = $1', [runId]);
  if (rows.length !== 1) throw new Error(`run ${runId} not found`);
  return rows[0];
}

/** The run's step states keyed by step slug. */
export async function stepStates(db: Db, runId: string): Promise<Record<string, StepStateRow>> {
  const { rows } = await db.query<StepStateRow>(
    `select step_slug, status, remaining_deps, total_tasks, remaining_tasks, skip_cascade, output, error_message
       from pgflow.step_states where run_id = $1`,
    [runId],
  );
  return Object.fromEntries(rows.map((r) => [r.step_slug, r]));
}

/** step slug -> status, for compact assertions. */
export async function stepStatuses(db: Db, runId: string): Promise<Record<string, string>> {
  const states = await stepStates(db, runId);
  return Object.fromEntries(Object.entries(states).map(([k, v]) => [k, v.status]));
}

export async function tasksOf(db: Db, runId: string, stepSlug?: string): Promise<TaskRow[]> {
  const { rows } = await db.query<TaskRow>(
    `select run_id, step_slug, task_index, status, attempts_count, priority, visible_at, claimed_by,
            lease_expires_at, input, output, error_message
       from pgflow.step_tasks where run_id = $1 and ($2::text is null or step_slug = $2)
      order by step_slug, task_index`,
    [runId, stepSlug ?? null],
  );
  return rows;
}

/** Makes a run's queued tasks visible now (instead of waiting out a retry delay). */
export async function makeVisible(db: Db, runId: string): Promise<void> {
  await db.query(`update pgflow.step_tasks set visible_at = now() where run_id = $1 and status = 'queued'`, [runId]);
}

/** Lets the leases of a run's started tasks run out. */
export async function expireLeases(db: Db, runId: string): Promise<void> {
  await db.query(
    `update pgflow.step_tasks set lease_expires_at = now() - interval '1 second'
      where run_id = $1 and status = 'started'`,
    [runId],
  );
}

/**
 * Claims and completes the flow's tasks with handler's outputs until nothing is
 * claimable; returns every task handled, in claim order.
 */
export async function drain(
  db: Db, flow: string, handler: (task: ClaimedTask) => Json, batchSize = 50,
): Promise<ClaimedTask[]> {
  const handled: ClaimedTask[] = [];
  for (;;) {
    const tasks = await claim(db, flow, batchSize);
    if (tasks.length === 0) return handled;
    handled.push(...tasks);
    await completeMany(db, tasks.map((t) => ({ ...t, output: handler(t) })));
  }
}

/** Asserts that the promise rejects with a Postgres error of that SQLSTATE and message (a string must be contained). */
export async function expectPgError(p: Promise<unknown>, code: string, message: RegExp | string): Promise<DatabaseError> {
  const err = await p.then(
    () => new Error(`expected SQLSTATE ${code}, but the statement succeeded`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatabaseError);
  const dbErr = err as DatabaseError;
  const expected = typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message);
  expect({ code: dbErr.code, message: dbErr.message }).toEqual({ code, message: expected });
  return dbErr;
}

export async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`select count(*) as n from (${sql}) x`, params);
  return Number(rows[0].n);
}

/** Asserts the run completed with exactly this output (toMatchObject would accept extra keys). */
export async function expectCompleted(db: Db, runId: string, output: Json): Promise<RunRow> {
  const run = await getRun(db, runId);
  expect({ status: run.status, output: run.output, error: run.error }).toEqual({ status: 'completed', output, error: null });
  return run;
}

/**
 * Commits to this file's database skip waiting for the WAL flush. Nothing about the
 * semantics under test changes (a crash is not part of any test); it only keeps
 * commit-heavy tests fast on a busy disk. Set on the database from a separate
 * connection before the pool opens any, so every pooled connection inherits it.
 */
export function useAsyncCommit(db: () => TestDatabase): void {
  beforeAll(async () => {
    const client = new Client({ connectionString: db().url });
    await client.connect();
    try {
      await client.query(`do $$ begin
        execute format('alter database %I set synchronous_commit = off', current_database());
      end $$`);
    } finally {
      await client.end();
    }
  });
}

/**
 * Runs `fn` with auto_explain logging every statement on `c`, nested ones included (the
 * statements inside pgflow's functions), and returns the logged plans.
 */
export async function nestedPlans(c: PoolClient, fn: () => Promise<void>): Promise<string[]> {
  const notices: string[] = [];
  const onNotice = (n: { message?: string }) => notices.push(n.message ?? '');
  c.on('notice', onNotice);
  try {
    await c.query(`load 'auto_explain'`);
    await c.query(`set auto_explain.log_min_duration = 0`);
    await c.query(`set auto_explain.log_nested_statements = on`);
    await c.query(`set auto_explain.log_level = notice`);
    await c.query(`set client_min_messages = notice`);
    await fn();
  } finally {
    await c.query('reset auto_explain.log_min_duration');
    await c.query('reset client_min_messages');
    c.removeListener('notice', onNotice);
  }
  return notices.filter((n) => n.includes('plan:'));
}
