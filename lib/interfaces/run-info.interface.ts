/** Status of a run. */
export type RunStatus = 'queued' | 'started' | 'completed' | 'failed' | 'cancelled' | 'compensating'
  | 'compensation_failed';
/** Status of a step within a run; `waiting`: ready, waiting for its signal. */
export type StepStatus = 'created' | 'waiting' | 'started' | 'completed' | 'failed' | 'skipped' | 'cancelled';

/** Why a run failed. */
export interface RunError {
  stepSlug: string;
  taskIndex: number;
  message: string;
  /** `'compensation_failed'`: the failure that made the run compensate, if it failed. */
  cause?: RunError;
}

/** A step's state within a run. */
export interface StepInfo {
  stepSlug: string;
  status: StepStatus;
  totalTasks: number | null;
  remainingTasks: number | null;
  output?: unknown;
  error?: string;
  /** A subflow step's child run ids, by task index (children not started yet are absent). */
  childRunIds?: string[];
}

/** A run as stored, with progress and step states. */
export interface RunInfo {
  runId: string;
  flowSlug: string;
  status: RunStatus;
  input: unknown;
  output: unknown | null;
  error: RunError | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  failedAt: Date | null;
  /** The run whose subflow step started this run; null for a run started otherwise. */
  parentRunId: string | null;
  progress: { totalSteps: number; completedSteps: number; percentage: number };
  steps: StepInfo[];
}

/** A change of a run or of one of its steps, emitted by `watchRun`. */
export type RunEvent =
  | { type: 'run'; runId: string; status: RunStatus; run: RunInfo }
  | { type: 'step'; runId: string; stepSlug: string; status: StepStatus; step: StepInfo }
  | { type: 'progress'; runId: string; stepSlug: string; taskIndex: number; value: unknown };

/** A worker process as seen in the `workers` table. */
export interface WorkerInfo {
  workerId: string;
  flows: string[];
  startedAt: Date;
  lastHeartbeatAt: Date;
  /** `stale`: online but no heartbeat for three intervals. */
  status: 'online' | 'stale' | 'stopped';
}

/** Options of `PgflowClient.startRun`. */
export interface StartRunOptions {
  /** Caller-chosen run id (uuid). */
  runId?: string;
  /** A second start with the same key (and flow) returns the existing run. */
  idempotencyKey?: string;
  /** Higher runs' tasks are claimed first. Default `0`. */
  priority?: number;
  /** The run stays `queued` and its root tasks become claimable at this time. */
  startAt?: Date;
  /** Start inside the caller's transaction (visible to workers only if it commits). */
  manager?: import('typeorm').EntityManager;
  /**
   * Replaces the key of every keyed `concurrency`/`rateLimit` of this run (instead of
   * the value at the limit's `key` path in the input). Default: none.
   */
  concurrencyKey?: string;
}

/** Filter of `PgflowClient.listRuns`. */
export interface ListRunsFilter {
  flowSlug?: string;
  status?: RunStatus;
  /** Default `100`. */
  limit?: number;
  /** Only runs created before this time. */
  before?: Date;
  /** Only the child runs of this run (its subflow steps' runs). */
  parentRunId?: string;
}

/** Options of `PgflowClient.cancelRun`. */
export interface CancelRunOptions {
  /** Run the compensations of completed steps (the run is `'compensating'` meanwhile). Default `true`. */
  compensate?: boolean;
}

/** Options of `PgflowClient.signal`. */
export interface SignalOptions {
  /** Deduplicates per run and name: a second signal with this id is not stored again. Default: a new uuid. */
  id?: string;
  /** Send the signal inside the caller's transaction: it acts only if that commits. */
  manager?: import('typeorm').EntityManager;
}

/** What `PgflowClient.signal` resolves with. */
export interface SignalResult {
  /** The stored signal's id (`opts.id` when given). */
  signalId: string;
  /** `false`: a signal with this id was already stored; nothing changed. */
  created: boolean;
}

/** Status of a task; `waiting`: its step waits for a signal. */
export type TaskStatus = 'queued' | 'started' | 'completed' | 'failed' | 'cancelled' | 'waiting';

/** One attempt of a task, as `getTasks` lists it. */
export interface TaskAttemptInfo {
  /** 1-based, counted since the run was last retried (what the handler saw as `ctx.attempt`). */
  attempt: number;
  /** The attempt's error message; null while running or when it completed. */
  error: string | null;
  startedAt: Date | null;
  /** Null while it runs. */
  endedAt: Date | null;
  workerId: string | null;
}

/** A task of a run with its latest state and its attempts (the last 20), from `getTasks`. */
export interface TaskInfo {
  stepSlug: string;
  taskIndex: number;
  status: TaskStatus;
  /** The latest attempt's number (0: never claimed). */
  attempt: number;
  /** Set once the task completed. */
  output?: unknown;
  /** The latest failed attempt's error. */
  error: string | null;
  /** The handler's latest `ctx.progress(value)`, if it reported any. */
  progress?: unknown;
  /** The worker that claimed it last. */
  workerId: string | null;
  startedAt: Date | null;
  completedAt: Date | null;
  attempts: TaskAttemptInfo[];
}
