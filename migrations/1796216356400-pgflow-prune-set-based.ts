import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0010_prune_set_based.sql';
import { runStatements } from './run-statements';

/**
 * prune_runs deletes a batch's step tasks, step states and signals set-based before the
 * runs, so the foreign keys' cascades find nothing (one trigger query per deleted row
 * had made pruning a million runs take a minute); 5,000 runs per call by default.
 */
export class PgflowPruneSetBased1796216356400 implements MigrationInterface {
  name = 'PgflowPruneSetBased1796216356400';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
