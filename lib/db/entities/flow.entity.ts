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
}
