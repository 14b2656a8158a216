import { RunStatus } from '../../interfaces/run-info.interface';
import { PgflowDefinitionError, PgflowError, PgflowUnknownFlowError, PgflowUnknownRunError,
  PgflowValidationError } from './pgflow.error';
import { PgflowRunStateError } from './run-state.error';

interface PgLikeError {
  code?: string;
  message: string;
  detail?: string;
  driverError?: { code?: string; message: string; detail?: string };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws PgflowValidationError unless `runId` is a uuid (saves a round trip and a cryptic 22P02). */
export function assertRunId(runId: unknown): asserts runId is string {
  if (typeof runId !== 'string' || !UUID.test(runId)) {
    throw new PgflowValidationError(`invalid run id ${JSON.stringify(runId)}: expected a uuid`);
  }
}

/** The SQLSTATE of a driver or TypeORM error, if it has one. */
export function sqlState(err: unknown): string | undefined {
  const e = err as PgLikeError | undefined;
  return e?.driverError?.code ?? e?.code;
}

/**
 * A failure caused by the data sent, not by the connection or the server's state:
 * sending the same data again fails the same way (SQLSTATE classes 22 and 54, PGF05).
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('54') || code === 'PGF05');
}

/**
 * Translates the SQLSTATEs raised by pgflow's functions (PGF01..PGF07) into typed
 * errors; anything else is rethrown unchanged.
 */
export function mapSqlError(err: unknown, subject: { flowSlug?: string; runId?: string } = {}): Error {
  const e = err as PgLikeError;
  const code = sqlState(err);
  const message = e?.driverError?.message ?? e?.message;
  switch (code) {
    case 'PGF01':
    case 'PGF04':
      return new PgflowDefinitionError(message);
    case 'PGF02':
      return new PgflowUnknownFlowError(subject.flowSlug ?? message);
    case 'PGF03':
      return new PgflowUnknownRunError(subject.runId ?? message);
    case 'PGF05':
    case 'PGF06':
      return new PgflowValidationError(message);
    case 'PGF07': {
      // the run's status is in DETAIL
      const status = (e?.driverError?.detail ?? e?.detail) as RunStatus;
      return new PgflowRunStateError(subject.runId ?? '', status, message);
    }
    case '54000':
      return new PgflowValidationError(`payload too large: ${message}`);
    case '54001':
    case '22P05':
      // jsonb refused what passed JSON.stringify (nesting too deep for the server's stack)
      return new PgflowValidationError(`${subject.flowSlug ? `input of flow "${subject.flowSlug}"` : 'payload'} ` +
        `cannot be stored: ${message}`);
    default:
      return err instanceof Error ? err : new PgflowError(String(err));
  }
}
