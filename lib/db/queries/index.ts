// The query layer: every statement the library sends is a file in ./sql, called through
// one of these typed functions with bound parameters.
export * from './statement';
export * from './task.types';
export * from './task.queries';
export * from './run.queries';
export * from './run.mapper';
export * from './definition.queries';
export * from './worker.queries';
export * from './task-history.queries';
export * from './prune.queries';
export * from './notify.queries';
export * from './signal.queries';
export * from './dashboard.queries';
