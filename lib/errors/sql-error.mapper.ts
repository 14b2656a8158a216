import { PgflowDefinitionError, PgflowError, PgflowUnknownFlowError, PgflowUnknownRunError,
  PgflowValidationError } from './pgflow.error';

interface PgLikeError {
  code?: string;
  message: string;
  driverError?: { code?: string; message: string };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws PgflowValidationError unless `runId` is a uuid (saves a round trip and a cryptic 22P02). */
export function assertRunId(runId: unknown): asserts runId is string {
  if (typeof runId !== 'string' || !UUID.test(runId)) {
    throw new PgflowValidationError(`invalid run id ${JSON.stringify(runId)}: expected a uuid`);
  }
}

/**
 * Translates the SQLSTATEs raised by pgflow's functions (PGF01..PGF06) into typed
 * errors; anything else is rethrown unchanged.
 */
export function mapSqlError(err: unknown, subject: { flowSlug?: string; runId?: string } = {}): Error {
  const e = err as PgLikeError;
  const code = e?.driverError?.code ?? e?.code;
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
    case '54000':
      return new PgflowValidationError(`payload too large: ${message}`);
    default:
      return err instanceof Error ? err : new PgflowError(String(err));
  }
}
