import { Injectable, OnModuleInit, Type } from '@nestjs/common';
import { ContextIdFactory, DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { buildFlowDefinition } from './dag.compiler';
import { orderBySubflows } from './subflow.graph';
import { BoundHandler, WorkflowRegistry } from './workflow.registry';
import { StepOptions } from '../interfaces/workflow-options.interface';
import { PgflowMetadataAccessor } from './pgflow-metadata.accessor';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Finds `@Workflow` providers and their `@Step` methods, validates each flow and
 * registers it with bound handlers. No I/O: the compiler persists definitions.
 */
@Injectable()
export class PgflowExplorer implements OnModuleInit {
  private explored = false;

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: PgflowMetadataAccessor,
    private readonly registry: WorkflowRegistry,
    private readonly moduleRef: ModuleRef,
  ) {}

  onModuleInit(): void {
    this.explore();
  }

  /** Idempotent; the compiler calls it too so ordering of init hooks never matters. */
  explore(): void {
    if (this.explored) return;
    this.explored = true;
    for (const wrapper of this.discovery.getProviders()) {
      // useValue/useFactory providers have no metatype worth reading: use the instance's class
      const target = (wrapper.instance?.constructor ?? wrapper.metatype) as Type<unknown> | undefined;
      const options = this.accessor.workflow(target) ?? this.accessor.workflow(wrapper.metatype as Type<unknown>);
      if (!options || !target) continue;
      this.register(wrapper, target, options);
    }
    // a subflow cycle fails the boot before anything is stored
    orderBySubflows(this.registry.decorated().map((f) => f.definition));
  }

  private register(wrapper: InstanceWrapper, target: Type<unknown>, options: ReturnType<PgflowMetadataAccessor['workflow']> & object): void {
    const prototype = target.prototype as Record<string, Method>;
    const declared: Array<StepOptions & { slug: string }> = [];
    const methods = new Map<string, string>();
    for (const name of this.scanner.getAllMethodNames(prototype)) {
      const step = this.accessor.step(prototype[name]);
      if (!step) continue;
      const slug = step.slug ?? name;
      declared.push({ ...step, slug, subflow: this.subflowSlug(options.slug, slug, step.subflow) });
      methods.set(slug, name);
    }
    const definition = buildFlowDefinition(options, declared);
    const handlers = new Map<string, BoundHandler>();
    for (const [slug, method] of methods) handlers.set(slug, this.bind(wrapper, target, method));
    const compensators = new Map<string, BoundHandler>();
    for (const step of definition.steps) {
      if (step.compensate === undefined) continue;
      if (typeof prototype[step.compensate] !== 'function') {
        throw new PgflowDefinitionError(`workflow "${options.slug}" step "${step.slug}": compensate method ` +
          `"${step.compensate}" does not exist on ${target.name}`);
      }
      compensators.set(step.slug, this.bind(wrapper, target, step.compensate));
    }
    this.registry.addWorkflow({
      slug: options.slug, definition, target, inputDto: options.input,
      cron: options.cron, cronInput: options.cronInput, cronTimezone: options.cronTimezone, handlers, compensators,
    });
  }

  /** A subflow given as a class is the slug of its `@Workflow`. */
  private subflowSlug(flow: string, step: string, subflow: StepOptions['subflow']): string | undefined {
    if (subflow === undefined || typeof subflow === 'string') return subflow;
    const slug = typeof subflow === 'function' ? this.accessor.workflow(subflow)?.slug : undefined;
    if (slug === undefined) {
      const name = typeof subflow === 'function' ? subflow.name : JSON.stringify(subflow);
      throw new PgflowDefinitionError(`workflow "${flow}" step "${step}": subflow ${name} is not a @Workflow class or a flow slug`);
    }
    return slug;
  }

  /** Singletons are called on their instance; request-scoped ones are resolved per task. */
  private bind(wrapper: InstanceWrapper, target: Type<unknown>, method: string): BoundHandler {
    if (wrapper.isDependencyTreeStatic() && !wrapper.isTransient) {
      const instance = wrapper.instance as Record<string, Method>;
      return async (input, ctx) => instance[method].call(instance, input, ctx);
    }
    return async (input, ctx) => {
      const contextId = ContextIdFactory.create();
      this.moduleRef.registerRequestByContextId({ pgflow: ctx }, contextId);
      const instance = (await this.moduleRef.resolve(target, contextId, { strict: false })) as Record<string, Method>;
      return instance[method].call(instance, input, ctx);
    };
  }
}
