import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A flow definition (`pgflow.flows`). */
@Entity({ schema: 'pgflow', name: 'flows', synchronize: false })
export class FlowEntity {
  @PrimaryColumn({ name: 'flow_slug', type: 'text' }) flowSlug!: string;
  @Column({ name: 'opt_max_attempts', type: 'int' }) optMaxAttempts!: number;
  @Column({ name: 'opt_base_delay', type: 'int' }) optBaseDelay!: number;
  @Column({ name: 'opt_timeout', type: 'int' }) optTimeout!: number;
  @Column({ type: 'boolean' }) deprecated!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'opt_run_timeout', type: 'int', nullable: true }) optRunTimeout!: number | null;
  @Column({ name: 'opt_concurrency', type: 'int', nullable: true }) optConcurrency!: number | null;
  @Column({ name: 'opt_concurrency_key', type: 'text', nullable: true }) optConcurrencyKey!: string | null;
  @Column({ name: 'opt_rate_limit', type: 'int', nullable: true }) optRateLimit!: number | null;
  @Column({ name: 'opt_rate_period', type: 'int', nullable: true }) optRatePeriod!: number | null;
  @Column({ name: 'opt_rate_key', type: 'text', nullable: true }) optRateKey!: string | null;
  /** The flow or one of its steps declares a limit. */
  @Column({ type: 'boolean' }) limited!: boolean;
}
