import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0009_claim_order.sql';
import { runStatements } from './run-statements';

/** Claim order: a run sequence breaks ties of visible_at, so runs started in one statement are still worked on oldest first. */
export class PgflowClaimOrder1796216334479 implements MigrationInterface {
  name = 'PgflowClaimOrder1796216334479';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
