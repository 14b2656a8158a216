import { PgflowError } from './pgflow.error';

/**
 * The reason of a step handler's `ctx.signal` when it aborts: the step timed out, the
 * run was cancelled or failed elsewhere, the worker is shutting down, or the worker lost
 * the task's lease (it could not renew it in time, or another worker took the task over).
 */
export class TaskAbortedError extends PgflowError {
  constructor(
    /** Why the attempt was aborted. */
    readonly reason: 'timeout' | 'cancelled' | 'shutdown' | 'lease',
    message: string,
  ) {
    super(message);
  }
}
