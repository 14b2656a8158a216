import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One task of a step (`pgflow.step_tasks`): the queue. */
@Entity({ schema: 'pgflow', name: 'step_tasks', synchronize: false })
export class StepTaskEntity {
  @PrimaryColumn({ name: 'run_id', type: 'uuid' }) runId!: string;
  @PrimaryColumn({ name: 'step_slug', type: 'text' }) stepSlug!: string;
  @PrimaryColumn({ name: 'task_index', type: 'int' }) taskIndex!: number;
  @Column({ name: 'flow_slug', type: 'text' }) flowSlug!: string;
  @Column({ type: 'text' }) status!: string;
  @Column({ name: 'attempts_count', type: 'int' }) attemptsCount!: number;
  @Column({ name: 'attempts_base', type: 'int' }) attemptsBase!: number;
  @Column({ type: 'int' }) priority!: number;
  @Column({ name: 'visible_at', type: 'timestamptz' }) visibleAt!: Date;
  @Column({ name: 'claimed_by', type: 'text', nullable: true }) claimedBy!: string | null;
  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true }) leaseExpiresAt!: Date | null;
  @Column({ type: 'jsonb', nullable: true }) input!: unknown;
  @Column({ type: 'jsonb', nullable: true }) output!: unknown;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ name: 'queued_at', type: 'timestamptz' }) queuedAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt!: Date | null;
  @Column({ name: 'failed_at', type: 'timestamptz', nullable: true }) failedAt!: Date | null;
  @Column({ type: 'jsonb', nullable: true }) progress!: unknown;
  @Column({ name: 'attempt_history', type: 'jsonb', nullable: true }) attemptHistory!: unknown;
  @Column({ type: 'text', nullable: true }) compensation!: string | null;
  /** '' under no limit, else the step and its limits' key values. */
  @Column({ name: 'limit_key', type: 'text' }) limitKey!: string;
  /** Its run's seq (bigint as text): claims order ties of visible_at by it. */
  @Column({ name: 'run_seq', type: 'bigint' }) runSeq!: string;
}
