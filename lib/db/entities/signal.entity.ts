import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A signal sent to a run (`pgflow.signals`); `consumedBy` is the step whose wait took it. */
@Entity({ schema: 'pgflow', name: 'signals', synchronize: false })
export class SignalEntity {
  @PrimaryColumn({ name: 'run_id', type: 'uuid' }) runId!: string;
  @PrimaryColumn({ type: 'text' }) name!: string;
  @PrimaryColumn({ name: 'signal_id', type: 'text' }) signalId!: string;
  @Column({ type: 'jsonb' }) payload!: unknown;
  @Column({ name: 'consumed_by', type: 'text', nullable: true }) consumedBy!: string | null;
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
  @Column({ name: 'consumed_at', type: 'timestamptz', nullable: true }) consumedAt!: Date | null;
}
