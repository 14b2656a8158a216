import { Logger } from '@nestjs/common';
import { NonRetryableError } from '../core/errors/non-retryable.error';
import { PgflowValidationError } from '../core/errors/pgflow.error';
import { TaskAbortedError } from '../core/errors/task-aborted.error';
import { toJsonText } from '../core/json.codec';
import { PgflowEvents } from '../core/pgflow.events';
import { PgflowTelemetry } from '../core/telemetry';
import { CompensationContext, Json, StepContext } from '../interfaces/step-context.interface';
import { validateRunInput } from '../definitions/input.validator';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { AttemptMeta, ResultFlusher } from './result.flusher';
import { attemptKey, ClaimedTask, TaskAttempt } from '../db/queries/task.types';

interface Running {
  task: ClaimedTask;
  controller: AbortController;
  /** Local time the lease was last taken or renewed (claim, heartbeat, progress). */
  leasedAt: number;
}

/** Largest `ctx.progress` value (JSON text): progress is written often and read by watchers. */
export const MAX_PROGRESS_BYTES = 64 * 1024;

/** What the invoker needs besides the registry and the flusher. */
export interface InvokerDeps {
  events: PgflowEvents;
  telemetry: PgflowTelemetry;
  /** Stores a task's progress and extends its lease; false when the attempt is no longer held. */
  saveProgress(task: ClaimedTask, valueJson: string): Promise<boolean>;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  try {
    return `non-Error thrown: ${JSON.stringify(err) ?? String(err)}`;
  } catch {
    return `non-Error thrown: ${String(err)}`;
  }
}

/**
 * Runs one claimed task: calls the handler with its context, enforces the step
 * timeout (the attempt fails when it passes, whether or not the handler honours the
 * signal), and hands the result to the flusher. Never throws.
 */
export class StepInvoker {
  private readonly logger = new Logger('Pgflow');
  private readonly running = new Map<string, Running>();
  /** Resolvers of `idle()` promises, called when the last running task ends. */
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly registry: WorkflowRegistry,
    private readonly flusher: ResultFlusher,
    private readonly workerId: string,
    private readonly deps: InvokerDeps,
  ) {}

  get size(): number {
    return this.running.size;
  }

  /** Resolves when no task is running (at once if none is). */
  idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  tasks(): ClaimedTask[] {
    return [...this.running.values()].map((r) => r.task);
  }

  /**
   * Aborts every running task of a run that was cancelled or failed elsewhere. Its
   * compensations, which a failed or cancelled run starts, stop only when compensation failed.
   */
  abortRun(runId: string, status: string): void {
    for (const r of this.running.values()) {
      if (r.task.compensation && status !== 'compensation_failed') continue;
      if (r.task.run_id === runId) r.controller.abort(new TaskAbortedError('cancelled', `run ${runId} was ${status}`));
    }
  }

  /**
   * After a heartbeat sent at `sentAt` renewed the leases of `held` (keys with their
   * attempt): tasks running since before then that it did not renew were taken over by
   * another worker (their lease had expired), so their results would be stale: abort them.
   */
  leasesRenewed(sentAt: number, held: readonly TaskAttempt[]): void {
    const renewed = new Set(held.map((t) => `${attemptKey(t)}#${t.attempt}`));
    for (const [key, r] of this.running) {
      if (r.leasedAt > sentAt) continue; // claimed after the heartbeat's snapshot
      if (renewed.has(`${key}#${r.task.attempt}`)) {
        r.leasedAt = Math.max(r.leasedAt, sentAt);
      } else {
        r.controller.abort(new TaskAbortedError('lease', `task ${key} was taken over: its lease expired`));
      }
    }
  }

  /**
   * Aborts tasks whose lease ran out unrenewed (the database was unreachable): another
   * worker may run them now, and whatever they report would be stale.
   */
  abortExpiredLeases(now: number, leaseMs: number): void {
    // the lease began at the claim, a little before the task reached us
    const margin = Math.min(1000, leaseMs / 4);
    for (const [key, r] of this.running) {
      if (now - r.leasedAt > leaseMs - margin) {
        r.controller.abort(new TaskAbortedError('lease', `task ${key} lost its lease: it could not be renewed in time`));
      }
    }
  }

  /** Aborts everything still running (shutdown deadline); returns the tasks aborted. */
  abortAll(): ClaimedTask[] {
    const tasks = this.tasks();
    for (const r of this.running.values()) {
      r.controller.abort(new TaskAbortedError('shutdown', 'worker is shutting down'));
    }
    return tasks;
  }

  async invoke(task: ClaimedTask): Promise<void> {
    const controller = new AbortController();
    const key = attemptKey(task);
    const entry: Running = { task, controller, leasedAt: Date.now() };
    this.running.set(key, entry);
    const timeoutMs = task.timeout_seconds * 1000;
    const timer = setTimeout(() => controller.abort(new TaskAbortedError('timeout',
      `step "${task.step_slug}" timed out after ${task.timeout_seconds} s`)), timeoutMs);
    const { events, telemetry } = this.deps;
    const span = telemetry.attempt({ runId: task.run_id, flowSlug: task.flow_slug, stepSlug: task.step_slug,
      taskIndex: task.task_index, attempt: task.attempt_number, traceparent: task.traceparent });
    const event = { runId: task.run_id, flowSlug: task.flow_slug, stepSlug: task.step_slug,
      taskIndex: task.task_index, attempt: task.attempt_number };
    events.emit({ type: 'task.started', ...event });
    const startedAt = Date.now();
    try {
      const outcome = await span.run(() => this.call(task, entry));
      const meta: AttemptMeta = { flowSlug: task.flow_slug, attemptNumber: task.attempt_number,
        durationMs: Date.now() - startedAt };
      if (controller.signal.aborted) {
        const reason = controller.signal.reason as TaskAbortedError;
        span.end(reason);
        if (reason.reason === 'timeout') {
          telemetry.recordAttempt(task.flow_slug, false, meta.durationMs);
          this.flusher.fail(task, reason.message, false, meta);
        }
        return; // cancelled: result is void anyway; shutdown: the worker releases it; lease: stale
      }
      if (outcome.ok) {
        span.end();
        telemetry.recordAttempt(task.flow_slug, true, meta.durationMs);
        events.emit({ type: 'task.completed', ...event, durationMs: meta.durationMs });
        // a compensation's return value is not kept; a subflow task completes with its child
        if (task.compensation) this.flusher.complete(task, 'null', meta);
        else if (outcome.child) this.flusher.startChild(task, outcome.json, meta);
        else this.flusher.complete(task, outcome.json, meta);
      } else {
        span.end(outcome.error);
        telemetry.recordAttempt(task.flow_slug, false, meta.durationMs);
        const nonRetryable = outcome.error instanceof NonRetryableError || outcome.error instanceof PgflowValidationError;
        this.flusher.fail(task, errorMessage(outcome.error), nonRetryable, meta);
      }
    } catch (err) {
      this.logger.error(`invoking ${key}: ${errorMessage(err)}`);
    } finally {
      clearTimeout(timer);
      this.running.delete(key);
      if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** `ctx.progress`: refuses what is not storable JSON or too large, before any write. */
  private async progress(entry: Running, value: Json): Promise<void> {
    const { task } = entry;
    const what = `progress of step "${task.flow_slug}.${task.step_slug}"`;
    const json = toJsonText(value, what);
    const bytes = Buffer.byteLength(json);
    if (bytes > MAX_PROGRESS_BYTES) {
      throw new PgflowValidationError(`${what} is ${bytes} bytes, over the ${MAX_PROGRESS_BYTES}-byte limit`);
    }
    const sentAt = Date.now();
    if (await this.deps.saveProgress(task, json)) entry.leasedAt = Math.max(entry.leasedAt, sentAt);
  }

  private async call(task: ClaimedTask, entry: Running,
  ): Promise<{ ok: true; json: string; child?: string } | { ok: false; error: unknown }> {
    const signal = entry.controller.signal;
    const handler = task.compensation
      ? this.registry.compensator(task.flow_slug, task.step_slug)
      : this.registry.handler(task.flow_slug, task.step_slug);
    if (!handler) {
      const what = task.compensation ? 'compensation' : 'handler';
      return { ok: false, error: new Error(`worker ${this.workerId} has no ${what} for step "${task.flow_slug}.${task.step_slug}"`) };
    }
    const step: StepContext = {
      runId: task.run_id, flowSlug: task.flow_slug, stepSlug: task.step_slug, taskIndex: task.task_index,
      attempt: task.attempt_number, runInput: task.run_input, signal, workerId: this.workerId,
      progress: (value: Json) => this.progress(entry, value),
    };
    const ctx: StepContext | CompensationContext = task.compensation ? { ...step, reason: task.compensation } : step;
    const child = task.compensation ? undefined : this.registry.subflowOf(task.flow_slug, task.step_slug);
    try {
      const value = await settledOrAborted(handler(task.input, ctx), signal);
      if (child === undefined) {
        return { ok: true, json: toJsonText(value, `output of step "${task.flow_slug}.${task.step_slug}"`) };
      }
      // refused by the child's DTO: a PgflowValidationError, so the task fails without retry
      const dto = this.registry.get(child)?.inputDto;
      if (dto) await validateRunInput(child, dto, value);
      return { ok: true, json: toJsonText(value, `input of subflow "${child}" of step "${task.flow_slug}.${task.step_slug}"`), child };
    } catch (error) {
      return { ok: false, error };
    }
  }
}

/**
 * `work`'s outcome, or the signal's reason as soon as it aborts, whichever comes first:
 * one promise, not an abort promise, its catch and a race of the two. Every promise costs
 * more once an AsyncLocalStorage is in use (the OpenTelemetry SDK's context manager): the
 * async hooks it enables see each one. The listener stays: the signal ends with the attempt.
 */
function settledOrAborted<T>(work: T | PromiseLike<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    // a synchronous handler's plain value too (Promise.resolve returns a native promise as it is)
    Promise.resolve(work).then(resolve, reject);
  });
}
