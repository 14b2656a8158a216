import { CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A dependency edge `dep_slug -> step_slug` (`pgflow.deps`). */
@Entity({ schema: 'pgflow', name: 'deps', synchronize: false })
export class DepEntity {
  @PrimaryColumn({ name: 'flow_slug', type: 'text' }) flowSlug!: string;
  @PrimaryColumn({ name: 'step_slug', type: 'text' }) stepSlug!: string;
  @PrimaryColumn({ name: 'dep_slug', type: 'text' }) depSlug!: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
