import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A step definition (`pgflow.steps`). */
@Entity({ schema: 'pgflow', name: 'steps', synchronize: false })
export class StepEntity {
  @PrimaryColumn({ name: 'flow_slug', type: 'text' }) flowSlug!: string;
  @PrimaryColumn({ name: 'step_slug', type: 'text' }) stepSlug!: string;
  @Column({ name: 'step_index', type: 'int' }) stepIndex!: number;
  @Column({ name: 'step_type', type: 'text' }) stepType!: 'single' | 'map';
  @Column({ name: 'map_source', type: 'text', nullable: true }) mapSource!: string | null;
  @Column({ name: 'initial_tasks', type: 'int', nullable: true }) initialTasks!: number | null;
  @Column({ name: 'deps_count', type: 'int' }) depsCount!: number;
  @Column({ name: 'opt_max_attempts', type: 'int', nullable: true }) optMaxAttempts!: number | null;
  @Column({ name: 'opt_base_delay', type: 'int', nullable: true }) optBaseDelay!: number | null;
  @Column({ name: 'opt_timeout', type: 'int', nullable: true }) optTimeout!: number | null;
  @Column({ name: 'opt_start_delay', type: 'int', nullable: true }) optStartDelay!: number | null;
  @Column({ name: 'condition_if', type: 'jsonb', nullable: true }) conditionIf!: object | null;
  @Column({ name: 'condition_if_not', type: 'jsonb', nullable: true }) conditionIfNot!: object | null;
  @Column({ name: 'when_unmet', type: 'text' }) whenUnmet!: string;
  @Column({ name: 'when_exhausted', type: 'text' }) whenExhausted!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'signal_name', type: 'text', nullable: true }) signalName!: string | null;
  @Column({ name: 'opt_signal_timeout', type: 'int', nullable: true }) optSignalTimeout!: number | null;
  @Column({ name: 'subflow_slug', type: 'text', nullable: true }) subflowSlug!: string | null;
  @Column({ type: 'boolean' }) compensate!: boolean;
  @Column({ name: 'opt_concurrency', type: 'int', nullable: true }) optConcurrency!: number | null;
  @Column({ name: 'opt_concurrency_key', type: 'text', nullable: true }) optConcurrencyKey!: string | null;
  @Column({ name: 'opt_rate_limit', type: 'int', nullable: true }) optRateLimit!: number | null;
  @Column({ name: 'opt_rate_period', type: 'int', nullable: true }) optRatePeriod!: number | null;
  @Column({ name: 'opt_rate_key', type: 'text', nullable: true }) optRateKey!: string | null;
}
