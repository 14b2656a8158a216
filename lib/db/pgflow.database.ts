import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'crypto';
import { Pool } from 'pg';
import { DataSource, EntityManager, InstanceChecker } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { sqlState } from '../core/errors/sql-error.mapper';
import { PgflowModuleOptions } from '../interfaces/module-options.interface';
import { runPgflowMigrations } from './migrations.runner';

/**
 * SQLSTATEs of a named statement the server refused before running it: 26000 (`prepared
 * statement "…" does not exist`, Bind on a server connection that never prepared it) and
 * 42P05 (`… already exists`, Parse on one another client prepared it on). Behind a
 * transaction-mode pooler (PgBouncer 1.18 passes both through from Postgres) and on
 * PGlite's socket server, which shares one session among its connections.
 */
const REFUSED_NAMED = new Set(['26000', '42P05']);

/**
 * The DataSource pgflow talks through. A DataSource instance given in the options is
 * used and left alone; options make the module create, own and destroy one.
 */
export class PgflowDatabase implements OnApplicationShutdown {
  private readonly logger = new Logger('Pgflow');
  /** Statement names by text (see `statementName`). */
  private readonly names = new Map<string, string>();

  private constructor(
    readonly dataSource: DataSource,
    private readonly owned: boolean,
    /** false: `hotQuery` sends unnamed statements (option `preparedStatements`, or refused by the server). */
    private namedStatements: boolean,
  ) {}

  static async connect(options: PgflowModuleOptions): Promise<PgflowDatabase> {
    const given = options.dataSource;
    // not instanceof: the app's DataSource may come from another copy of typeorm
    const owned = !InstanceChecker.isDataSource(given);
    const dataSource = InstanceChecker.isDataSource(given) ? given : new DataSource(given);
    if (!dataSource.isInitialized) await dataSource.initialize();
    const db = new PgflowDatabase(dataSource, owned, options.preparedStatements ?? true);
    if (options.migrationsRun) await runPgflowMigrations(dataSource);
    return db;
  }

  /** Runs a parameterized query; `manager` runs it inside the caller's transaction. */
  async query<T>(sql: string, params: unknown[] = [], manager?: EntityManager): Promise<T[]> {
    return (manager ?? this.dataSource.manager).query(sql, params) as Promise<T[]>;
  }

  /**
   * The worker's hot path (claims, completions): a named prepared statement straight
   * on the driver's pg pool. TypeORM's manager.query costs a QueryRunner per call,
   * which at thousands of tasks a second is a sizeable share of the worker's CPU,
   * and an unnamed statement is planned again on every call.
   *
   * Where the server refuses named statements (a transaction-mode pooler, PGlite) the
   * call is sent again unnamed, and so is every later one: a refused statement never
   * ran (Parse or Bind failed, and the protocol skips the rest of the call), and a
   * single autocommit statement has no transaction the failure could have aborted.
   */
  async hotQuery<T>(name: string, text: string, values: unknown[], manager?: EntityManager): Promise<T[]> {
    // inside the caller's transaction: on its connection, through TypeORM
    if (manager) return this.query<T>(text, values, manager);
    const pool = (this.dataSource.driver as PostgresDriver).master as Pool | undefined;
    if (typeof pool?.query !== 'function') return this.query<T>(text, values);
    if (!this.namedStatements) return (await pool.query({ text, values })).rows as T[];
    try {
      return (await pool.query({ name: this.statementName(name, text), text, values })).rows as T[];
    } catch (err) {
      const code = sqlState(err);
      if (code === undefined || !REFUSED_NAMED.has(code)) throw err;
      if (this.namedStatements) {
        this.namedStatements = false;
        this.logger.warn(`the server refused a named prepared statement (${code} ${(err as Error).message}) — ` +
          'a transaction-mode pooler such as PgBouncer, or PGlite?; sending unnamed statements from now on ' +
          '(preparedStatements: false starts that way)');
      }
      return (await pool.query({ text, values })).rows as T[];
    }
  }

  /**
   * `name` plus a digest of `text`: behind a transaction-mode pooler a Bind can reach a
   * server connection on which another process prepared the name, and runs what that
   * process prepared; with the text in the name that is always the same statement,
   * also while two versions of pgflow run side by side.
   */
  private statementName(name: string, text: string): string {
    let named = this.names.get(text);
    if (!named) {
      named = `${name}_${createHash('sha1').update(text).digest('hex').slice(0, 12)}`;
      this.names.set(text, named);
    }
    return named;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.owned && this.dataSource.isInitialized) {
      await this.dataSource.destroy().catch((err: Error) => this.logger.error(`closing DataSource: ${err.message}`));
    }
  }
}
