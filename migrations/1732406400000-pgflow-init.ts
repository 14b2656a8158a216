import { MigrationInterface, QueryRunner } from 'typeorm';
import { runStatements } from './run-statements';
import { down, statements } from './generated/0001_init.sql';

/** Creates the pgflow schema: tables, indexes and the state-machine functions. */
export class PgflowInit1732406400000 implements MigrationInterface {
  name = 'PgflowInit1732406400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
