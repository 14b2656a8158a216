import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { DataSource, EntityManager, InstanceChecker } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { sqlState } from '../errors/sql-error.mapper';
import { PgflowModuleOptions } from '../interfaces/module-options.interface';
import { runPgflowMigrations } from './migrations.runner';

/**
 * The DataSource pgflow talks through. A DataSource instance given in the options is
 * used and left alone; options make the module create, own and destroy one.
 */
export class PgflowDatabase implements OnApplicationShutdown {
  private readonly logger = new Logger('Pgflow');
  private unnamedStatements = false;

  private constructor(
    readonly dataSource: DataSource,
    private readonly owned: boolean,
  ) {}

  static async connect(options: PgflowModuleOptions): Promise<PgflowDatabase> {
    const given = options.dataSource;
    // not instanceof: the app's DataSource may come from another copy of typeorm
    const owned = !InstanceChecker.isDataSource(given);
    const dataSource = InstanceChecker.isDataSource(given) ? given : new DataSource(given);
    if (!dataSource.isInitialized) await dataSource.initialize();
    const db = new PgflowDatabase(dataSource, owned);
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
   */
  async hotQuery<T>(name: string, text: string, values: unknown[], manager?: EntityManager): Promise<T[]> {
    // inside the caller's transaction: on its connection, through TypeORM
    if (manager) return this.query<T>(text, values, manager);
    const pool = (this.dataSource.driver as PostgresDriver).master as Pool | undefined;
    if (typeof pool?.query !== 'function') return this.query<T>(text, values);
    if (this.unnamedStatements) return (await pool.query({ text, values })).rows as T[];
    try {
      return (await pool.query({ name, text, values })).rows as T[];
    } catch (err) {
      // 42P05 on a connection that never prepared it: the server shares one session
      // among connections (PGlite's socket server), so a statement prepared by a
      // connection since closed lingers and blocks the name for good
      if (sqlState(err) !== '42P05') throw err;
      this.unnamedStatements = true;
      return (await pool.query({ text, values })).rows as T[];
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.owned && this.dataSource.isInitialized) {
      await this.dataSource.destroy().catch((err: Error) => this.logger.error(`closing DataSource: ${err.message}`));
    }
  }
}
