import { applyDecorators, Injectable, SetMetadata } from '@nestjs/common';
import { WORKFLOW_METADATA } from '../../core/pgflow.constants';
import { WorkflowOptions } from '../../interfaces/workflow-options.interface';

/** Marks an injectable provider class as a workflow; its `@Step` methods are the steps. */
export function Workflow(options: WorkflowOptions): ClassDecorator {
  return applyDecorators(Injectable(), SetMetadata(WORKFLOW_METADATA, options));
}
