import { MigrationInterface, QueryRunner } from 'typeorm';
import { runStatements } from './run-statements';
import { down, statements } from './generated/0002_hot_paths.sql';

/**
 * Faster claims and completions, same semantics: the claim and the cascade are
 * planned once per session instead of on every call, a run's last step completes the
 * run in the same update that counts it down, and the hot functions run fewer
 * statements.
 *
 * It also brings a database migrated by 0001's first release to what 0001 creates now
 * (attempts_base, pgflow.claimed_task, and fail_task and reclaim_expired_tasks applied
 * again as 0001 has them). down() restores maybe_complete_run and the functions this
 * migration replaces, as 0001 creates them.
 */
export class PgflowHotPaths1796083200000 implements MigrationInterface {
  name = 'PgflowHotPaths1796083200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
