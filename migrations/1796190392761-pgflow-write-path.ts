import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0005_write_path.sql';
import { runStatements } from './run-statements';

/**
 * The write path of a run: its completion becomes a HOT update (no index of runs names
 * status or an end time; prune_runs walks runs_created_idx), runs get fillfactor 70, and
 * step_tasks loses step_tasks_worker_idx (one index entry less per claim).
 */
export class PgflowWritePath1796190392761 implements MigrationInterface {
  name = 'PgflowWritePath1796190392761';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
