import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { PgflowDatabase } from '../db/pgflow.database';
import { addStep, createFlow, setFlowControl, storedStepSlugs } from '../db/queries';
import { FlowDefinition } from './dag.compiler';
import { PgflowExplorer } from './pgflow.explorer';
import { orderBySubflows } from './subflow.graph';
import { WorkflowRegistry } from './workflow.registry';

/**
 * Stores decorated workflows as definitions at boot, one transaction per flow.
 * Options change in place; a changed shape fails the boot naming the step.
 */
@Injectable()
export class DefinitionStore implements OnModuleInit {
  private readonly logger = new Logger('Pgflow');
  private done!: Promise<void>;

  constructor(
    private readonly db: PgflowDatabase,
    private readonly explorer: PgflowExplorer,
    private readonly registry: WorkflowRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    this.done = this.storeAll();
    await this.done;
  }

  /** Resolves once every decorated workflow is stored. */
  ready(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  private async storeAll(): Promise<void> {
    this.explorer.explore();
    // subflows first: a step names its subflow's stored definition
    for (const definition of orderBySubflows(this.registry.decorated().map((f) => f.definition))) {
      await this.db.dataSource.transaction((manager) => this.store(manager, definition));
    }
    const count = this.registry.decorated().length;
    if (count) this.logger.log(`${count} workflow definition(s) up to date`);
  }

  private async store(manager: EntityManager, def: FlowDefinition): Promise<void> {
    const existing = await storedStepSlugs(this.db, def.slug, manager);
    if (existing.length) {
      const stored = new Set(existing);
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
    await createFlow(this.db, { slug: def.slug, ...def.options }, manager);
    await setFlowControl(this.db, def.slug, null, def.limits, manager);
    for (const step of def.steps) {
      await addStep(this.db, def.slug, step, manager);
      await setFlowControl(this.db, def.slug, step.slug, step.limits, manager);
    }
  }
}
