import { MigrationInterface, QueryRunner } from 'typeorm';
import { functions as initial } from './generated/0001_init.sql';
import { functions, statements } from './generated/0002_hot_paths.sql';

/** Functions this migration drops; down() restores them. */
const DROPPED = ['maybe_complete_run'];
/**
 * 0001 functions changed after 0001's first release (with attempts_base) that this
 * migration does not replace itself: applied again, as 0001 has them now, so a
 * database migrated by that release gets them too.
 */
const FROM_0001 = ['fail_task', 'reclaim_expired_tasks'];

/**
 * Faster claims and completions, same semantics: the claim and the cascade are
 * planned once per session instead of on every call, a run's last step completes the
 * run in the same update that counts it down, and the hot functions run fewer
 * statements.
 */
export class PgflowHotPaths1796083200000 implements MigrationInterface {
  name = 'PgflowHotPaths1796083200000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const sql of statements) await queryRunner.query(sql);
    for (const name of FROM_0001) await queryRunner.query(initial[name]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const name of [...DROPPED, ...Object.keys(functions)]) await queryRunner.query(initial[name]);
  }
}
