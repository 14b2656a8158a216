import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0006_flow_control.sql';
import { runStatements } from './run-statements';

/**
 * Flow control: concurrency and rate limits stored on flows and steps and enforced by
 * start_tasks (running tasks counted per bucket, sliding-window starts), the run's
 * concurrencyKey, claims shared round-robin across flows and keys from a per-flow
 * index, and ready tasks visible from their run's start so older runs finish first.
 */
export class PgflowFlowControl1796194222578 implements MigrationInterface {
  name = 'PgflowFlowControl1796194222578';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
