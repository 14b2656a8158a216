import { Inject, Injectable, Type } from '@nestjs/common';
import { Observable, throwError } from 'rxjs';
import { EntityManager } from 'typeorm';
import { PgflowUnknownRunError, PgflowValidationError } from '../core/errors/pgflow.error';
import { assertRunId } from '../core/errors/sql-error.mapper';
import { toJsonText } from '../core/json.codec';
import { ResolvedPgflowOptions } from '../core/options.resolver';
import { PGFLOW_OPTIONS } from '../core/pgflow.constants';
import { PgflowEvents } from '../core/pgflow.events';
import { PgflowTelemetry } from '../core/telemetry';
import { NotifyListener } from '../db/notify.listener';
import { PgflowDatabase } from '../db/pgflow.database';
import * as runs from '../db/queries/run.queries';
import { listWorkers, pruneInBatches, sendSignal, taskInfos, taskProgress } from '../db/queries';
import { DefinitionStore } from '../definitions/definition.store';
import { validateRunInput } from '../definitions/input.validator';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { CancelRunOptions, ListRunsFilter, RunEvent, RunInfo, SignalOptions, SignalResult, StartRunOptions, TaskInfo, WorkerInfo }
  from '../interfaces/run-info.interface';
import { RunWatcher } from './run.watcher';

/** Starts, inspects, awaits, cancels and resumes runs. */
@Injectable()
export class PgflowClient {
  private readonly heartbeatMs: number;
  private readonly watcher: RunWatcher;

  constructor(
    @Inject(PGFLOW_OPTIONS) options: ResolvedPgflowOptions,
    private readonly db: PgflowDatabase,
    private readonly registry: WorkflowRegistry,
    private readonly definitions: DefinitionStore,
    listener: NotifyListener,
    private readonly events: PgflowEvents,
    private readonly telemetry: PgflowTelemetry,
  ) {
    this.watcher = new RunWatcher(listener, (runId) => this.fetchRun(runId), options.worker.pollIntervalMs,
      (runId) => taskProgress(this.db, runId));
    this.heartbeatMs = options.worker.heartbeatIntervalMs;
  }

  /** Starts a run of a flow (by slug or decorated class). Validates the input first; on error nothing is written. */
  async startRun(flow: string | Type<unknown>, input: unknown, opts: StartRunOptions = {}): Promise<RunInfo> {
    const runId = await this.start(flow, input, opts);
    const run = await this.fetchRun(runId, opts.manager);
    if (!run) throw new PgflowUnknownRunError(runId);
    return run;
  }

  /** Validates, then starts the run; resolves with its id. */
  private async start(flow: string | Type<unknown>, input: unknown, opts: StartRunOptions): Promise<string> {
    await this.definitions.ready();
    const slug = this.registry.slugOf(flow);
    const dto = this.registry.get(slug)?.inputDto;
    if (dto) await validateRunInput(slug, dto, input);
    const json = toJsonText(input, `input of flow "${slug}"`);
    if (opts.runId !== undefined) assertRunId(opts.runId);
    if (opts.priority !== undefined && (!Number.isInteger(opts.priority) || Math.abs(opts.priority) > 2_147_483_647)) {
      throw new PgflowValidationError(`priority must be an integer (got ${String(opts.priority)})`);
    }
    if (opts.startAt !== undefined && !(opts.startAt instanceof Date && !isNaN(opts.startAt.getTime()))) {
      throw new PgflowValidationError('startAt must be a valid Date');
    }
    if (opts.idempotencyKey !== undefined && (typeof opts.idempotencyKey !== 'string' || !opts.idempotencyKey)) {
      throw new PgflowValidationError('idempotencyKey must be a non-empty string');
    }
    if (opts.concurrencyKey !== undefined && (typeof opts.concurrencyKey !== 'string' || !opts.concurrencyKey)) {
      throw new PgflowValidationError(`concurrencyKey must be a non-empty string (got ${JSON.stringify(opts.concurrencyKey)})`);
    }
    // the PRODUCER span; its context is stored on the run, where every attempt's span finds it
    const span = this.telemetry.startRun(slug);
    try {
      const runId = await runs.startFlow(this.db, slug, json, { ...opts, traceparent: span.traceparent });
      span.end(runId);
      return runId;
    } catch (err) {
      span.end(undefined, err);
      throw err;
    }
  }

  /** The run with progress and step states, or null if there is none. */
  async getRun(runId: string): Promise<RunInfo | null> {
    assertRunId(runId);
    return this.fetchRun(runId);
  }

  /**
   * Resolves with the run once completed; rejects with PgflowRunFailedError,
   * PgflowRunCancelledError, or PgflowTimeoutError after `timeoutMs`.
   * Driven by NOTIFY, with a slow poll as a safety net.
   */
  async waitForRun(runId: string, opts: { timeoutMs?: number } = {}): Promise<RunInfo> {
    assertRunId(runId);
    return this.watcher.waitFor(runId, opts.timeoutMs);
  }

  /** startRun + waitForRun; resolves with the run's output (`{ <leafSlug>: output }`). */
  async execute(flow: string | Type<unknown>, input: unknown,
    opts: StartRunOptions & { timeoutMs?: number } = {}): Promise<unknown> {
    // waitForRun reads the run anyway: no read of the just-started run in between
    const runId = await this.start(flow, input, opts);
    return (await this.watcher.waitFor(runId, opts.timeoutMs)).output;
  }

  /**
   * Cancels a run: the run and its unfinished steps and tasks become `cancelled`,
   * handlers running its tasks in any process see `ctx.signal` abort, and their
   * results are ignored; its unfinished child runs are cancelled too. Completed steps
   * that declare a compensation are compensated first (the run is `'compensating'`
   * until then) unless `opts.compensate` is false. A run that already finished
   * (completed, failed, cancelled, compensation_failed) or is compensating is left as
   * it is and the call resolves all the same, so cancelling is safe to repeat. An
   * unknown run rejects with PgflowUnknownRunError.
   */
  async cancelRun(runId: string, opts: CancelRunOptions = {}): Promise<void> {
    assertRunId(runId);
    if (opts.compensate !== undefined && typeof opts.compensate !== 'boolean') {
      throw new PgflowValidationError(`compensate must be true or false (got ${JSON.stringify(opts.compensate)})`);
    }
    const before = this.events.observed ? await this.fetchRun(runId) : null;
    const status = await runs.cancelRun(this.db, runId, opts.compensate ?? true);
    if (before && status === 'cancelled' && before.status !== 'cancelled') {
      this.events.emit({ type: 'run.cancelled', runId, flowSlug: before.flowSlug });
    }
  }

  /**
   * The run's tasks (only `stepSlug`'s when given) in step order, then by task index,
   * each with its latest state, output, progress and its attempts (the last 20) with
   * their errors, timings and workers. An unknown run gives an empty list.
   */
  async getTasks(runId: string, stepSlug?: string): Promise<TaskInfo[]> {
    assertRunId(runId);
    if (stepSlug !== undefined && typeof stepSlug !== 'string') {
      throw new PgflowValidationError(`stepSlug must be a string (got ${typeof stepSlug})`);
    }
    return taskInfos(this.db, runId, stepSlug);
  }

  /**
   * Resumes a failed or cancelled run: failed and cancelled tasks are queued again
   * with fresh attempts, steps that never started wait for their dependencies again,
   * completed steps keep their outputs and never run again; a subflow step's failed or
   * cancelled child runs are resumed, not started anew. A `'compensation_failed'` run
   * finishes its remaining compensations instead. Rejects with PgflowRunStateError (a
   * PgflowValidationError) when the run is queued, started, compensating or completed,
   * and with PgflowUnknownRunError when there is no such run.
   */
  async retryRun(runId: string): Promise<RunInfo> {
    assertRunId(runId);
    await runs.retryRun(this.db, runId);
    return (await this.fetchRun(runId)) as RunInfo;
  }

  /**
   * Sends signal `name` to a run. The step of the run's flow that waits on that name
   * takes it (its handler gets `payload` as `input.signal`) as soon as it waits, or at
   * once if it waits already; a signal sent earlier is kept until then. `opts.id`
   * deduplicates: a second signal with the same id for the same run and name stores
   * nothing and resolves with `created: false`. With `opts.manager` it is written in
   * the caller's transaction and acts only at commit. Refused with nothing written:
   * PgflowUnknownRunError (no such run), PgflowValidationError (no step waits on `name`,
   * a payload that is not JSON or over 16 MiB), PgflowRunStateError (a finished run).
   */
  async signal(runId: string, name: string, payload?: unknown, opts: SignalOptions = {}): Promise<SignalResult> {
    assertRunId(runId);
    if (typeof name !== 'string' || !name) {
      throw new PgflowValidationError(`signal name must be a non-empty string (got ${JSON.stringify(name)})`);
    }
    if (opts.id !== undefined && (typeof opts.id !== 'string' || !opts.id || opts.id.length > 255)) {
      throw new PgflowValidationError(`signal id must be a string of 1 to 255 characters (got ${JSON.stringify(opts.id)})`);
    }
    const json = toJsonText(payload === undefined ? null : payload, `payload of signal "${name}"`);
    return sendSignal(this.db, runId, name, json, opts.id ?? null, opts.manager);
  }

  /** Runs, newest first (`parentRunId`: the child runs of that run). */
  async listRuns(f: ListRunsFilter = {}): Promise<RunInfo[]> {
    if (f.parentRunId !== undefined) assertRunId(f.parentRunId);
    return runs.listRuns(this.db, f);
  }

  /**
   * Status changes of a run and of its steps. The first events describe the run as
   * it is when the subscription starts (every step, then the run); after that one
   * event per change, driven by NOTIFY (by polling every `pollIntervalMs` only where
   * LISTEN/NOTIFY is unavailable). Changes that follow each other faster than a
   * read may arrive folded into the latest status, never out of order; the final
   * status of every step and of the run is always delivered. Completes after the
   * run's `completed`, `failed` or `cancelled` event; errors with
   * PgflowUnknownRunError for an unknown run (PgflowValidationError for a malformed id).
   */
  watchRun(runId: string): Observable<RunEvent> {
    try {
      assertRunId(runId);
    } catch (err) {
      return throwError(() => err);
    }
    return this.watcher.watch(runId);
  }

  /** Workers known to the database; `stale`: online without a recent heartbeat. */
  async listWorkers(): Promise<WorkerInfo[]> {
    return listWorkers(this.db, this.heartbeatMs);
  }

  /**
   * Deletes completed, failed and cancelled runs that ended before `olderThan`, with
   * their step states and tasks, in batches of 1000 runs (one short transaction
   * each); queued and started runs are never touched. Returns how many were deleted.
   */
  async pruneRuns(opts: { olderThan: Date }): Promise<number> {
    if (!(opts?.olderThan instanceof Date) || isNaN(opts.olderThan.getTime())) {
      throw new PgflowValidationError('pruneRuns: olderThan must be a valid Date');
    }
    return pruneInBatches(this.db, opts.olderThan);
  }

  private fetchRun(runId: string, manager?: EntityManager): Promise<RunInfo | null> {
    return runs.findRun(this.db, runId, manager);
  }
}
