import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0005_subflows.sql';
import { runStatements } from './run-statements';

/** TODO: what this migration changes, and why. */
export class PgflowSubflows1796190479767 implements MigrationInterface {
  name = 'PgflowSubflows1796190479767';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
