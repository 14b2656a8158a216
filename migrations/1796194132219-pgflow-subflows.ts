import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0006_subflows.sql';
import { runStatements } from './run-statements';

/** Subflows (child runs settling their parent task in the same transaction) and compensation (sagas). */
export class PgflowSubflows1796194132219 implements MigrationInterface {
  name = 'PgflowSubflows1796194132219';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
