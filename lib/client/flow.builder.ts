import { Injectable } from '@nestjs/common';
import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { slugProblem } from '../core/slug';
import { PgflowDatabase } from '../db/pgflow.database';
import { addStep, createFlow, deprecateFlow, setFlowControl } from '../db/queries';
import { buildFlowDefinition } from '../definitions/dag.compiler';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { StepHandler } from '../interfaces/step-context.interface';
import { FlowOptions, StepOptions } from '../interfaces/workflow-options.interface';

/** Step options accepted by `FlowBuilder.addStep`. */
export type DynamicStepOptions = Omit<StepOptions, 'slug' | 'dependsOn' | 'subflow' | 'compensate'>;

/**
 * Defines flows at run time. Definitions go to the database (shared by every
 * instance); handlers are registered per process.
 */
@Injectable()
export class FlowBuilder {
  constructor(
    private readonly db: PgflowDatabase,
    private readonly registry: WorkflowRegistry,
  ) {}

  /** Creates a flow, or updates the options of an existing one (`runTimeout` and limits included). */
  async createFlow(slug: string, opts: FlowOptions = {}): Promise<void> {
    const problem = slugProblem(slug);
    if (problem) throw new PgflowDefinitionError(`flow: ${problem}`);
    // validates option values with the same rules and messages as decorated workflows
    const def = buildFlowDefinition({ slug, ...opts }, [{ slug: 'probe' }]);
    await this.db.dataSource.transaction(async (manager) => {
      await createFlow(this.db, { slug, ...def.options }, manager);
      await setFlowControl(this.db, slug, null, def.limits, manager);
    });
  }

  /** Adds a step whose dependencies already exist; same validation as `@Step`. */
  async addStep(flowSlug: string, stepSlug: string, dependsOn: string[] = [], opts: DynamicStepOptions = {}): Promise<void> {
    if (!Array.isArray(dependsOn)) throw new PgflowDefinitionError(`workflow "${flowSlug}" step "${stepSlug}": dependsOn must be an array`);
    // check the step's own rules; dependencies are checked against the stored flow by SQL
    const stubs = dependsOn.filter((d) => d !== stepSlug).map((d) => ({ slug: d, dependsOn: [] }));
    const step = buildFlowDefinition({ slug: flowSlug }, [...stubs, { ...opts, slug: stepSlug, dependsOn }])
      .steps.find((s) => s.slug === stepSlug);
    await this.db.dataSource.transaction(async (manager) => {
      await addStep(this.db, flowSlug, step ?? { slug: stepSlug }, manager);
      await setFlowControl(this.db, flowSlug, stepSlug, step?.limits ?? {}, manager);
    });
  }

  /**
   * Retires a flow version: `startRun` then fails with PgflowValidationError while
   * runs already started finish. Pass `false` to accept runs again.
   */
  async deprecateFlow(slug: string, deprecated = true): Promise<void> {
    await deprecateFlow(this.db, slug, deprecated);
  }

  /** Registers this process's handlers for a flow's steps; the worker starts claiming its tasks. */
  registerHandlers(flowSlug: string, handlers: Record<string, StepHandler>): void {
    const problem = slugProblem(flowSlug);
    if (problem) throw new PgflowDefinitionError(`flow: ${problem}`);
    this.registry.registerHandlers(flowSlug, handlers);
  }
}
