import { Logger } from '@nestjs/common';
import { NonRetryableError } from '../core/errors/non-retryable.error';
import { PgflowValidationError } from '../core/errors/pgflow.error';
import { TaskAbortedError } from '../core/errors/task-aborted.error';
import { toJsonText } from '../core/json.codec';
import { StepContext } from '../interfaces/step-context.interface';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { ResultFlusher } from './result.flusher';
import { attemptKey, ClaimedTask } from '../db/queries/task.types';

interface Running {
  task: ClaimedTask;
  controller: AbortController;
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

  /** Aborts every running task of a run that was cancelled or failed elsewhere. */
  abortRun(runId: string, status: string): void {
    for (const r of this.running.values()) {
      if (r.task.run_id === runId) r.controller.abort(new TaskAbortedError('cancelled', `run ${runId} was ${status}`));
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
    this.running.set(key, { task, controller });
    const timeoutMs = task.timeout_seconds * 1000;
    const timer = setTimeout(() => controller.abort(new TaskAbortedError('timeout',
      `step "${task.step_slug}" timed out after ${task.timeout_seconds} s`)), timeoutMs);
    try {
      const outcome = await this.call(task, controller.signal);
      if (controller.signal.aborted) {
        const reason = controller.signal.reason as TaskAbortedError;
        if (reason.reason === 'timeout') this.flusher.fail(task, reason.message, false);
        return; // cancelled: result is void anyway; shutdown: the worker releases it
      }
      if (outcome.ok) {
        this.flusher.complete(task, outcome.json);
      } else {
        const nonRetryable = outcome.error instanceof NonRetryableError || outcome.error instanceof PgflowValidationError;
        this.flusher.fail(task, errorMessage(outcome.error), nonRetryable);
      }
    } catch (err) {
      this.logger.error(`invoking ${key}: ${errorMessage(err)}`);
    } finally {
      clearTimeout(timer);
      this.running.delete(key);
      if (this.running.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async call(task: ClaimedTask, signal: AbortSignal): Promise<{ ok: true; json: string } | { ok: false; error: unknown }> {
    const handler = this.registry.handler(task.flow_slug, task.step_slug);
    if (!handler) {
      return { ok: false, error: new Error(`worker ${this.workerId} has no handler for step "${task.flow_slug}.${task.step_slug}"`) };
    }
    const ctx: StepContext = {
      runId: task.run_id, flowSlug: task.flow_slug, stepSlug: task.step_slug, taskIndex: task.task_index,
      attempt: task.attempt_number, runInput: task.run_input, signal, workerId: this.workerId,
    };
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => undefined);
    try {
      const value = await Promise.race([handler(task.input, ctx), aborted]);
      return { ok: true, json: toJsonText(value, `output of step "${task.flow_slug}.${task.step_slug}"`) };
    } catch (error) {
      return { ok: false, error };
    }
  }
}
