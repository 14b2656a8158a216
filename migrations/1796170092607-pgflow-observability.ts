import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0004_observability.sql';
import { runStatements } from './run-statements';

/**
 * Observability: claims take a lease of the worker's leaseSeconds (renewed by its
 * heartbeat) instead of the step timeout; the run keeps its W3C traceparent and claims
 * return it; tasks keep their latest progress and their failed attempts' history.
 */
export class PgflowObservability1796170092607 implements MigrationInterface {
  name = 'PgflowObservability1796170092607';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
