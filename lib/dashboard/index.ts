// nestjs-pgflow/dashboard: the web UI and its JSON API, mounted with PgflowDashboardModule.forRoot.
export { PgflowDashboardModule } from './dashboard.module';
export type { PgflowDashboardOptions } from './dashboard-options.interface';
export type { BulkResult, DashboardRun, DashboardFlow, RunsQuery } from './dashboard.api';
export type { FlowGraph, FlowGraphStep, RunSignalInfo } from '../db/queries';
