import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A run of a flow (`pgflow.runs`). */
@Entity({ schema: 'pgflow', name: 'runs', synchronize: false })
export class RunEntity {
  @PrimaryColumn({ name: 'run_id', type: 'uuid' }) runId!: string;
  @Column({ name: 'flow_slug', type: 'text' }) flowSlug!: string;
  @Column({ type: 'text' }) status!: string;
  @Column({ type: 'jsonb' }) input!: unknown;
  @Column({ type: 'jsonb', nullable: true }) output!: unknown;
  @Column({ type: 'jsonb', nullable: true }) error!: unknown;
  @Column({ name: 'remaining_steps', type: 'int' }) remainingSteps!: number;
  @Column({ type: 'int' }) priority!: number;
  @Column({ name: 'idempotency_key', type: 'text', nullable: true }) idempotencyKey!: string | null;
  @Column({ name: 'start_at', type: 'timestamptz', nullable: true }) startAt!: Date | null;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt!: Date | null;
  @Column({ name: 'failed_at', type: 'timestamptz', nullable: true }) failedAt!: Date | null;
  @Column({ name: 'cancelled_at', type: 'timestamptz', nullable: true }) cancelledAt!: Date | null;
  @Column({ name: 'timeout_at', type: 'timestamptz', nullable: true }) timeoutAt!: Date | null;
  @Column({ type: 'text', nullable: true }) traceparent!: string | null;
  @Column({ name: 'parent_run_id', type: 'uuid', nullable: true }) parentRunId!: string | null;
  @Column({ name: 'parent_step_slug', type: 'text', nullable: true }) parentStepSlug!: string | null;
  @Column({ name: 'parent_task_index', type: 'int', nullable: true }) parentTaskIndex!: number | null;
  @Column({ name: 'compensation_reason', type: 'text', nullable: true }) compensationReason!: string | null;
  @Column({ name: 'concurrency_key', type: 'text', nullable: true }) concurrencyKey!: string | null;
  /** Creation order (bigint as text), the claim order's tiebreak; null for runs created before it existed. */
  @Column({ type: 'bigint', nullable: true }) seq!: string | null;
}
