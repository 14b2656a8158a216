import { Injectable, Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { STEP_METADATA, WORKFLOW_METADATA } from '../core/pgflow.constants';
import { StepOptions, WorkflowOptions } from '../interfaces/workflow-options.interface';

/** Reads `@Workflow` / `@Step` metadata. */
@Injectable()
export class PgflowMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  workflow(target: Type<unknown> | undefined): WorkflowOptions | undefined {
    return target ? this.reflector.get<WorkflowOptions>(WORKFLOW_METADATA, target) : undefined;
  }

  step(method: unknown): StepOptions | undefined {
    return typeof method === 'function' ? this.reflector.get<StepOptions>(STEP_METADATA, method) : undefined;
  }
}
