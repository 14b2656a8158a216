import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0008_complete_path.sql';
import { runStatements } from './run-statements';

/** complete_tasks parses a batch once, finds tasks by primary key, takes single-task outputs from the batch; cascade_finished returns the runs it completed. */
export class PgflowCompletePath1796212393054 implements MigrationInterface {
  name = 'PgflowCompletePath1796212393054';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
