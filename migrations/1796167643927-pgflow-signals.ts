import { MigrationInterface, QueryRunner } from 'typeorm';
import { down, statements } from './generated/0003_signals.sql';
import { runStatements } from './run-statements';

/**
 * Signal steps and run deadlines: steps that wait for a signal (steps.signal_name,
 * opt_signal_timeout; step status waiting, deadline in step_states.wait_expires_at),
 * the buffered signals table and pgflow.send_signal, flows.opt_run_timeout with
 * runs.timeout_at; waits and run deadlines expire in start_tasks, no process keeps a timer.
 */
export class PgflowSignals1796167643927 implements MigrationInterface {
  name = 'PgflowSignals1796167643927';

  async up(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, statements);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await runStatements(queryRunner, down);
  }
}
