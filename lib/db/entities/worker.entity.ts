import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A worker's registration and heartbeat (`pgflow.workers`). */
@Entity({ schema: 'pgflow', name: 'workers', synchronize: false })
export class WorkerEntity {
  @PrimaryColumn({ name: 'worker_id', type: 'text' }) workerId!: string;
  @Column({ type: 'text', array: true }) flows!: string[];
  @Column({ type: 'text' }) status!: 'online' | 'stopped';
  @Column({ name: 'started_at', type: 'timestamptz' }) startedAt!: Date;
  @Column({ name: 'last_heartbeat_at', type: 'timestamptz' }) lastHeartbeatAt!: Date;
  @Column({ name: 'stopped_at', type: 'timestamptz', nullable: true }) stoppedAt!: Date | null;
}
