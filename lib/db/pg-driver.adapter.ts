import { ClientConfig, Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * The one place that reaches into TypeORM's postgres driver. pgflow needs the driver's
 * pg Pool for its hot statements (TypeORM's `query` costs a QueryRunner per call) and
 * its connection settings for the LISTEN connection, which must not come from the pool.
 */
export function driverPool(dataSource: DataSource): Pool | undefined {
  const pool = (dataSource.driver as PostgresDriver).master as Pool | undefined;
  return typeof pool?.query === 'function' ? pool : undefined;
}

/** Settings of a dedicated connection to the DataSource's server (keep-alive on). */
export function dedicatedConnectionConfig(dataSource: DataSource): ClientConfig {
  return { ...driverPool(dataSource)?.options, keepAlive: true };
}
