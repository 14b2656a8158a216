import { RunStatus } from '../../interfaces/run-info.interface';
import { PgflowValidationError } from './pgflow.error';

/** The run exists but its status does not allow the operation (e.g. retrying a completed run). */
export class PgflowRunStateError extends PgflowValidationError {
  constructor(
    readonly runId: string,
    /** The run's status when the operation was refused. */
    readonly status: RunStatus,
    message: string,
  ) {
    super(message);
  }
}
