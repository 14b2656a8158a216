export { PgflowModule } from './pgflow.module';
export { Workflow, Step } from './definitions/decorators';
export * from './client';
export * from './worker';
export * from './core/errors';
export * from './interfaces';
export { PGFLOW_ENTITIES } from './db/entities';
export { PGFLOW_MIGRATIONS } from './db/pgflow-migrations';
