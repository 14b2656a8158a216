import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0007_flow_control.sql';
import { runStatements } from './run-statements';

/** Flow control: concurrency and rate limits on flows and steps enforced at claim time, round-robin claims across flows and keys. */
export class PgflowFlowControl1796194686193 implements MigrationInterface {
  name = 'PgflowFlowControl1796194686193';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
