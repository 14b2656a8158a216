export * from './module-options.interface';
export * from './workflow-options.interface';
export * from './step-context.interface';
export * from './run-info.interface';
