import { PgflowError } from './pgflow.error';

/**
 * The reason of a step handler's `ctx.signal` when it aborts: the step timed out, the
 * run was cancelled or failed elsewhere, or the worker is shutting down.
 */
export class TaskAbortedError extends PgflowError {
  constructor(
    /** Why the attempt was aborted. */
    readonly reason: 'timeout' | 'cancelled' | 'shutdown',
    message: string,
  ) {
    super(message);
  }
}
