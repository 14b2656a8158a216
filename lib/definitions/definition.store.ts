import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PgflowDatabase } from '../db/pgflow.database';
import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { mapSqlError } from '../core/errors/sql-error.mapper';
import { PgflowExplorer } from './pgflow.explorer';
import { FlowDefinition, StepDefinition } from './dag.compiler';
import { WorkflowRegistry } from './workflow.registry';

/** SQL call persisting one step; bound parameters only. */
const ADD_STEP = `select 1 from pgflow.add_step(
  p_flow_slug => $1, p_step_slug => $2, p_deps => $3::text[], p_map_source => $4, p_initial_tasks => $5,
  p_max_attempts => $6, p_base_delay => $7, p_timeout => $8, p_start_delay => $9,
  p_if => $10::jsonb, p_if_not => $11::jsonb, p_when_unmet => $12, p_when_exhausted => $13)`;

export function addStepParams(flowSlug: string, s: Partial<StepDefinition> & { slug: string }): unknown[] {
  const json = (v: object | undefined) => (v === undefined ? null : JSON.stringify(v));
  return [
    flowSlug, s.slug, s.dependsOn ?? [], s.map ?? null, s.initialTasks ?? null,
    s.maxAttempts ?? null, s.baseDelay ?? null, s.timeout ?? null, s.startDelay ?? null,
    json(s.if), json(s.ifNot), s.whenUnmet ?? 'skip', s.whenExhausted ?? 'fail',
  ];
}

/**
 * Upserts decorated workflows as definitions at boot, one transaction per flow.
 * Options change in place; a changed shape fails the boot naming the step.
 */
@Injectable()
export class FlowCompiler implements OnModuleInit {
  private readonly logger = new Logger('Pgflow');
  private done!: Promise<void>;

  constructor(
    private readonly db: PgflowDatabase,
    private readonly explorer: PgflowExplorer,
    private readonly registry: WorkflowRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    this.done = this.compileAll();
    await this.done;
  }

  /** Resolves once every decorated workflow is stored. */
  ready(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  private async compileAll(): Promise<void> {
    this.explorer.explore();
    for (const flow of this.registry.decorated()) {
      await this.db.dataSource.transaction((manager) => this.compile(manager, flow.definition));
    }
    const count = this.registry.decorated().length;
    if (count) this.logger.log(`${count} workflow definition(s) up to date`);
  }

  private async compile(manager: EntityManager, def: FlowDefinition): Promise<void> {
    const existing = await manager.query(
      'select step_slug from pgflow.steps where flow_slug = $1', [def.slug],
    ) as Array<{ step_slug: string }>;
    if (existing.length) {
      const stored = new Set(existing.map((r) => r.step_slug));
      const declared = new Set(def.steps.map((s) => s.slug));
      const removed = [...stored].filter((s) => !declared.has(s));
      const added = [...declared].filter((s) => !stored.has(s));
      if (removed.length || added.length) {
        const what = [
          ...added.map((s) => `step "${s}" was added`), ...removed.map((s) => `step "${s}" was removed`),
        ].join(', ');
        throw new PgflowDefinitionError(
          `workflow "${def.slug}": ${what}; a flow's shape cannot change, use a new flow slug (e.g. "${def.slug}_v2")`,
        );
      }
    }
    try {
      await manager.query('select 1 from pgflow.create_flow($1, $2, $3, $4)', [
        def.slug, def.options.maxAttempts ?? null, def.options.baseDelay ?? null, def.options.timeout ?? null,
      ]);
      for (const step of def.steps) await manager.query(ADD_STEP, addStepParams(def.slug, step));
    } catch (err) {
      throw mapSqlError(err, { flowSlug: def.slug });
    }
  }
}
