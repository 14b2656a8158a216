import { RunError } from '../../interfaces/run-info.interface';
import { PgflowError } from './pgflow.error';

/** The awaited run failed; `error` says which step and why. */
export class PgflowRunFailedError extends PgflowError {
  constructor(
    readonly runId: string,
    readonly error: RunError | null,
  ) {
    super(
      error
        ? `run ${runId} failed in step "${error.stepSlug}" (task ${error.taskIndex}): ${error.message}`
        : `run ${runId} failed`,
    );
  }
}

/** The awaited run was cancelled. */
export class PgflowRunCancelledError extends PgflowError {
  constructor(readonly runId: string) {
    super(`run ${runId} was cancelled`);
  }
}

/** Waiting for a run took longer than allowed. */
export class PgflowTimeoutError extends PgflowError {
  constructor(
    readonly runId: string,
    timeoutMs: number,
  ) {
    super(`run ${runId} did not finish within ${timeoutMs} ms`);
  }
}
