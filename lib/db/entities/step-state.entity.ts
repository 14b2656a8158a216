import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A step's state within a run (`pgflow.step_states`). */
@Entity({ schema: 'pgflow', name: 'step_states', synchronize: false })
export class StepStateEntity {
  @PrimaryColumn({ name: 'run_id', type: 'uuid' }) runId!: string;
  @PrimaryColumn({ name: 'step_slug', type: 'text' }) stepSlug!: string;
  @Column({ name: 'flow_slug', type: 'text' }) flowSlug!: string;
  @Column({ type: 'text' }) status!: string;
  @Column({ name: 'remaining_deps', type: 'int' }) remainingDeps!: number;
  @Column({ name: 'total_tasks', type: 'int', nullable: true }) totalTasks!: number | null;
  @Column({ name: 'remaining_tasks', type: 'int', nullable: true }) remainingTasks!: number | null;
  @Column({ name: 'skip_cascade', type: 'boolean' }) skipCascade!: boolean;
  @Column({ type: 'jsonb', nullable: true }) output!: unknown;
  @Column({ name: 'error_message', type: 'text', nullable: true }) errorMessage!: string | null;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt!: Date | null;
  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true }) completedAt!: Date | null;
  @Column({ name: 'failed_at', type: 'timestamptz', nullable: true }) failedAt!: Date | null;
  @Column({ name: 'wait_expires_at', type: 'timestamptz', nullable: true }) waitExpiresAt!: Date | null;
}
