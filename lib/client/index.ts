export { PgflowClient } from './pgflow.client';
export { FlowBuilder } from './flow.builder';
export type { DynamicStepOptions } from './flow.builder';
