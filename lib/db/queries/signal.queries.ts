import type { EntityManager } from 'typeorm';
import { mapSqlError } from '../../core/errors/sql-error.mapper';
import { Queryable, SQL } from './statement';

/** What `pgflow.send_signal` reports: the stored signal and whether this call stored it. */
export interface SentSignal {
  signalId: string;
  created: boolean;
}

/**
 * pgflow.send_signal. Typed refusals, nothing written: PgflowUnknownRunError,
 * PgflowValidationError (a name no step waits on, a payload too large),
 * PgflowRunStateError (a finished run).
 */
export async function sendSignal(db: Queryable, runId: string, name: string, payloadJson: string,
  signalId: string | null, manager?: EntityManager): Promise<SentSignal> {
  try {
    const rows = await db.run<{ signal_id: string; created: boolean }>(SQL.send_signal,
      [runId, name, payloadJson, signalId], manager);
    return { signalId: rows[0].signal_id, created: rows[0].created };
  } catch (err) {
    throw mapSqlError(err, { runId });
  }
}
