import { SetMetadata } from '@nestjs/common';
import { STEP_METADATA } from '../../core/pgflow.constants';
import { StepOptions } from '../../interfaces/workflow-options.interface';

/** Marks a method of a `@Workflow` class as a step. */
export function Step(options: StepOptions = {}): MethodDecorator {
  return SetMetadata(STEP_METADATA, options);
}
