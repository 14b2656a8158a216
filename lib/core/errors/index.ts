export * from './pgflow.error';
export * from './run.errors';
export * from './non-retryable.error';
export * from './run-state.error';
export * from './task-aborted.error';
