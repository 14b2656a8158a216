import { QueryRunner } from 'typeorm';

/**
 * Runs a migration's statements in order, inside a transaction: the caller's when one
 * is active (TypeORM's `transaction: 'each' | 'all'`, pgflow's runner, the CLI), else
 * one of its own. The statements start with `set local check_function_bodies = off`,
 * which holds only inside a transaction (with `migrationsTransactionMode: 'none'` it
 * would be ignored and a function could be checked before what it calls exists).
 */
export async function runStatements(queryRunner: QueryRunner, statements: readonly string[]): Promise<void> {
  const own = !queryRunner.isTransactionActive;
  if (own) await queryRunner.startTransaction();
  try {
    for (const sql of statements) await queryRunner.query(sql);
    if (own) await queryRunner.commitTransaction();
  } catch (err) {
    if (own) await queryRunner.rollbackTransaction().catch(() => undefined);
    throw err;
  }
}
