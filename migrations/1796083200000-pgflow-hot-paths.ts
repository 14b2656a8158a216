import { MigrationInterface, QueryRunner } from 'typeorm';
import { functions as initial } from './generated/0001_init.sql';
import { functions, statements } from './generated/0002_hot_paths.sql';

/**
 * Faster claims and run completion (same semantics): the claim is planned once per
 * session instead of on every call, and a run's last step completes the run in the
 * same update that counts it down.
 */
export class PgflowHotPaths1796083200000 implements MigrationInterface {
  name = 'PgflowHotPaths1796083200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of statements) await queryRunner.query(sql);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const name of Object.keys(functions)) await queryRunner.query(initial[name]);
  }
}
