import { Injectable, Type } from '@nestjs/common';
import { Subject } from 'rxjs';
import { PgflowDefinitionError, PgflowUnknownFlowError } from '../core/errors/pgflow.error';
import { StepContext, StepHandler } from '../interfaces/step-context.interface';
import { FlowDefinition } from './dag.compiler';

/** A step handler bound to its instance (or resolving a request-scoped one per call). */
export type BoundHandler = (input: unknown, ctx: StepContext) => Promise<unknown>;

/** A flow known to this process: decorated (with definition and class) or dynamic. */
export interface RegisteredFlow {
  slug: string;
  /** Present for decorated workflows; dynamic flows keep their definition in the database. */
  definition?: FlowDefinition;
  target?: Type<unknown>;
  inputDto?: Type<unknown>;
  cron?: string;
  cronInput?: unknown;
  cronTimezone?: string;
  handlers: Map<string, BoundHandler>;
  /** Compensation methods by step slug (decorated workflows only). */
  compensators?: Map<string, BoundHandler>;
}

/**
 * Per-application registry of flows and their handlers. Lives in DI (one per app),
 * so several apps in one process never share state.
 */
@Injectable()
export class WorkflowRegistry {
  private readonly flows = new Map<string, RegisteredFlow>();
  /** A flow's handlers were registered at run time (`FlowBuilder.registerHandlers`): its slug. */
  readonly handlersRegistered$ = new Subject<string>();

  addWorkflow(flow: RegisteredFlow): void {
    const existing = this.flows.get(flow.slug);
    if (existing?.target && existing.target !== flow.target) {
      throw new PgflowDefinitionError(
        `workflow "${flow.slug}": slug used by both ${existing.target.name} and ${flow.target?.name}`,
      );
    }
    this.flows.set(flow.slug, flow);
  }

  /** Registers handlers of a dynamic flow in this process (replacing earlier ones). */
  registerHandlers(flowSlug: string, handlers: Record<string, StepHandler>): void {
    const flow = this.flows.get(flowSlug) ?? { slug: flowSlug, handlers: new Map() };
    for (const [step, fn] of Object.entries(handlers)) {
      if (typeof fn !== 'function') {
        throw new PgflowDefinitionError(`flow "${flowSlug}" step "${step}": handler must be a function`);
      }
      flow.handlers.set(step, async (input, ctx) => fn(input, ctx));
    }
    this.flows.set(flowSlug, flow);
    this.handlersRegistered$.next(flowSlug);
  }

  get(slug: string): RegisteredFlow | undefined {
    return this.flows.get(slug);
  }

  all(): RegisteredFlow[] {
    return [...this.flows.values()];
  }

  decorated(): Array<RegisteredFlow & { definition: FlowDefinition }> {
    return this.all().filter((f): f is RegisteredFlow & { definition: FlowDefinition } => !!f.definition);
  }

  handler(flowSlug: string, stepSlug: string): BoundHandler | undefined {
    return this.flows.get(flowSlug)?.handlers.get(stepSlug);
  }

  /** The method compensating a step, if it declares one. */
  compensator(flowSlug: string, stepSlug: string): BoundHandler | undefined {
    return this.flows.get(flowSlug)?.compensators?.get(stepSlug);
  }

  /** The flow a subflow step's tasks start runs of (undefined: not a subflow step). */
  subflowOf(flowSlug: string, stepSlug: string): string | undefined {
    return this.flows.get(flowSlug)?.definition?.steps.find((s) => s.slug === stepSlug)?.subflow;
  }

  /** Slugs of flows this process can execute. */
  executableFlows(): string[] {
    return this.all().filter((f) => f.handlers.size > 0).map((f) => f.slug);
  }

  /** Resolves a flow given by slug or by its decorated class. */
  slugOf(flow: string | Type<unknown>): string {
    if (typeof flow === 'string') return flow;
    const found = this.all().find((f) => f.target === flow);
    if (!found) throw new PgflowUnknownFlowError(flow?.name ?? String(flow));
    return found.slug;
  }
}
