export { PgflowModule } from './pgflow.module';
export { Workflow, Step } from './decorators';
export * from './client';
export * from './worker';
export * from './errors';
export * from './interfaces';
export { PGFLOW_ENTITIES } from './entities';
export { PGFLOW_MIGRATIONS } from '../migrations';
