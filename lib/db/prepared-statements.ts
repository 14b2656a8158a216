import { Logger } from '@nestjs/common';
import { createHash } from 'crypto';
import { Pool } from 'pg';
import { sqlState } from '../core/errors/sql-error.mapper';
import { Statement } from './queries/statement';

/**
 * SQLSTATEs of a named statement the server refused before running it: 26000 (`prepared
 * statement "…" does not exist`, Bind on a server connection that never prepared it) and
 * 42P05 (`… already exists`, Parse on one another client prepared it on). Behind a
 * transaction-mode pooler (PgBouncer 1.18 passes both through from Postgres) and on
 * PGlite's socket server, which shares one session among its connections.
 */
const REFUSED_NAMED = new Set(['26000', '42P05']);

/**
 * Sends hot statements on a pg Pool as named prepared statements, planned once per
 * connection, and falls back to unnamed ones for good where the server refuses them
 * (a transaction-mode pooler, PGlite): the refused call is sent again unnamed, which is
 * safe because a refused statement never ran (Parse or Bind failed and the protocol
 * skipped the rest) and a single autocommit statement has no transaction it could abort.
 */
export class PreparedStatements {
  private readonly logger = new Logger('Pgflow');
  /** Statement names by text (see `nameOf`). */
  private readonly names = new Map<string, string>();

  /** `named` false (option `preparedStatements: false`): unnamed from the start. */
  constructor(
    private readonly pool: Pool,
    private named: boolean,
  ) {}

  async run<T>(statement: Statement, values: readonly unknown[]): Promise<T[]> {
    const { text } = statement;
    if (!this.named) return (await this.pool.query({ text, values: [...values] })).rows as T[];
    // a checked-out client rather than pool.query: that one discards its connection on any
    // error, and a pooler drops its server connection when the client hangs up before the
    // server's ReadyForQuery; a refused statement leaves a healthy connection to retry on
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // while checked out the pool does not listen: a connection killed between the reply and
    // the release (the same socket read can carry both) would be an unhandled 'error'
    const lost = (err: Error) => (broken = err);
    client.on('error', lost);
    try {
      return (await client.query({ name: this.nameOf(statement), text, values: [...values] })).rows as T[];
    } catch (err) {
      const code = sqlState(err);
      if (code === undefined || !REFUSED_NAMED.has(code)) {
        broken = err as Error;
        throw err;
      }
      if (this.named) {
        this.named = false;
        this.logger.warn(`the server refused a named prepared statement (${code} ${(err as Error).message}) — ` +
          'a transaction-mode pooler such as PgBouncer, or PGlite?; sending unnamed statements from now on ' +
          '(preparedStatements: false starts that way)');
      }
      try {
        return (await client.query({ text, values: [...values] })).rows as T[];
      } catch (retryErr) {
        broken = retryErr as Error;
        throw retryErr;
      }
    } finally {
      client.off('error', lost);
      client.release(broken);
    }
  }

  /**
   * The statement's name plus a digest of its text: behind a transaction-mode pooler a
   * Bind can reach a server connection on which another process prepared the name, and
   * runs what that process prepared; with the text in the name that is always the same
   * statement, also while two versions of pgflow run side by side.
   */
  private nameOf(statement: Statement): string {
    let named = this.names.get(statement.text);
    if (!named) {
      named = `${statement.name}_${createHash('sha1').update(statement.text).digest('hex').slice(0, 12)}`;
      this.names.set(statement.text, named);
    }
    return named;
  }
}
