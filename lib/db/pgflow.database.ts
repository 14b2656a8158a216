import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource, EntityManager, InstanceChecker } from 'typeorm';
import { ResolvedPgflowOptions } from '../core/options.resolver';
import { runPgflowMigrations } from './migrations.runner';
import { driverPool } from './pg-driver.adapter';
import { PreparedStatements } from './prepared-statements';
import { Queryable, Statement } from './queries/statement';

/**
 * The DataSource pgflow talks through. A DataSource instance given in the options is
 * used and left alone; options make the module create, own and destroy one.
 */
export class PgflowDatabase implements Queryable, OnApplicationShutdown {
  private readonly logger = new Logger('Pgflow');

  private constructor(
    readonly dataSource: DataSource,
    private readonly owned: boolean,
    /** Hot statements on the driver's pool; undefined where the driver has none. */
    private readonly prepared: PreparedStatements | undefined,
  ) {}

  static async connect(options: ResolvedPgflowOptions): Promise<PgflowDatabase> {
    const given = options.dataSource;
    // not instanceof: the app's DataSource may come from another copy of typeorm
    const owned = !InstanceChecker.isDataSource(given);
    const dataSource = InstanceChecker.isDataSource(given) ? given : new DataSource(given);
    if (!dataSource.isInitialized) await dataSource.initialize();
    const pool = driverPool(dataSource);
    const db = new PgflowDatabase(dataSource, owned, pool && new PreparedStatements(pool, options.preparedStatements));
    if (options.migrationsRun) await runPgflowMigrations(dataSource);
    return db;
  }

  /**
   * Runs one statement with bound parameters. Hot statements (claims, completions,
   * starts, reads of one run) go straight to the driver's pool as prepared statements;
   * the rest, and everything inside a caller's transaction (`manager`), through TypeORM.
   */
  async run<T>(statement: Statement, params: readonly unknown[], manager?: EntityManager): Promise<T[]> {
    if (!manager && statement.prepared && this.prepared) return this.prepared.run<T>(statement, params);
    return (manager ?? this.dataSource.manager).query(statement.text, [...params]) as Promise<T[]>;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.owned && this.dataSource.isInitialized) {
      await this.dataSource.destroy().catch((err: Error) => this.logger.error(`closing DataSource: ${err.message}`));
    }
  }
}
