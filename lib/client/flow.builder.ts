import { Injectable } from '@nestjs/common';
import { addStepParams } from '../definitions/definition.store';
import { PgflowDatabase } from '../db/pgflow.database';
import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { mapSqlError } from '../core/errors/sql-error.mapper';
import { StepHandler } from '../interfaces/step-context.interface';
import { RetryOptions, StepOptions } from '../interfaces/workflow-options.interface';
import { slugProblem } from '../core/slug';
import { buildFlowDefinition } from '../definitions/dag.compiler';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { PgflowWorker } from '../worker/pgflow.worker';

/** Step options accepted by `FlowBuilder.addStep`. */
export type DynamicStepOptions = Omit<StepOptions, 'slug' | 'dependsOn'>;

/**
 * Defines flows at run time. Definitions go to the database (shared by every
 * instance); handlers are registered per process.
 */
@Injectable()
export class FlowBuilder {
  constructor(
    private readonly db: PgflowDatabase,
    private readonly registry: WorkflowRegistry,
    private readonly worker: PgflowWorker,
  ) {}

  /** Creates a flow, or updates the options of an existing one. */
  async createFlow(slug: string, opts: RetryOptions = {}): Promise<void> {
    const problem = slugProblem(slug);
    if (problem) throw new PgflowDefinitionError(`flow: ${problem}`);
    // validates option values with the same rules and messages as decorated workflows
    buildFlowDefinition({ slug, ...opts }, [{ slug: 'probe' }]);
    try {
      await this.db.query('select 1 from pgflow.create_flow($1, $2, $3, $4)', [
        slug, opts.maxAttempts ?? null, opts.baseDelay ?? null, opts.timeout ?? null,
      ]);
    } catch (err) {
      throw mapSqlError(err, { flowSlug: slug });
    }
  }

  /** Adds a step whose dependencies already exist; same validation as `@Step`. */
  async addStep(flowSlug: string, stepSlug: string, dependsOn: string[] = [], opts: DynamicStepOptions = {}): Promise<void> {
    if (!Array.isArray(dependsOn)) throw new PgflowDefinitionError(`workflow "${flowSlug}" step "${stepSlug}": dependsOn must be an array`);
    // check the step's own rules; dependencies are checked against the stored flow by SQL
    const stubs = dependsOn.filter((d) => d !== stepSlug).map((d) => ({ slug: d, dependsOn: [] }));
    const step = buildFlowDefinition({ slug: flowSlug }, [...stubs, { ...opts, slug: stepSlug, dependsOn }])
      .steps.find((s) => s.slug === stepSlug);
    try {
      await this.db.query(`select 1 from pgflow.add_step(
        p_flow_slug => $1, p_step_slug => $2, p_deps => $3::text[], p_map_source => $4, p_initial_tasks => $5,
        p_max_attempts => $6, p_base_delay => $7, p_timeout => $8, p_start_delay => $9,
        p_if => $10::jsonb, p_if_not => $11::jsonb, p_when_unmet => $12, p_when_exhausted => $13)`,
      addStepParams(flowSlug, step ?? { slug: stepSlug }));
    } catch (err) {
      throw mapSqlError(err, { flowSlug });
    }
  }

  /**
   * Retires a flow version: `startRun` then fails with PgflowValidationError while
   * runs already started finish. Pass `false` to accept runs again.
   */
  async deprecateFlow(slug: string, deprecated = true): Promise<void> {
    try {
      await this.db.query('select pgflow.deprecate_flow($1, $2)', [slug, deprecated]);
    } catch (err) {
      throw mapSqlError(err, { flowSlug: slug });
    }
  }

  /** Registers this process's handlers for a flow's steps; the worker starts claiming its tasks. */
  registerHandlers(flowSlug: string, handlers: Record<string, StepHandler>): void {
    const problem = slugProblem(flowSlug);
    if (problem) throw new PgflowDefinitionError(`flow: ${problem}`);
    this.registry.registerHandlers(flowSlug, handlers);
    this.worker.flowsChanged();
  }
}
