import { DynamicModule, Module } from '@nestjs/common';
import { DashboardApi } from './dashboard.api';
import { DashboardAssets } from './dashboard.assets';
import { DASHBOARD_OPTIONS } from './dashboard.constants';
import { createDashboardController } from './dashboard.controller';
import { DashboardErrorFilter } from './dashboard.errors';
import { DashboardEvents } from './dashboard.events';
import { PgflowDashboardOptions, ResolvedDashboardOptions } from './dashboard-options.interface';

/**
 * A web UI of runs, flows and workers mounted in the app's own HTTP server (Express or
 * Fastify, below its global prefix), with a JSON API under `<path>/api` and live
 * updates over server-sent events. Needs `PgflowModule` imported in the same app.
 */
@Module({})
export class PgflowDashboardModule {
  /** Mounts the dashboard at `options.path` (default `/pgflow`). */
  static forRoot(options: PgflowDashboardOptions = {}): DynamicModule {
    const resolved: ResolvedDashboardOptions = {
      path: options.path ?? '/pgflow',
      readOnly: options.readOnly ?? false,
      guards: options.guards ?? [],
    };
    return {
      module: PgflowDashboardModule,
      controllers: [createDashboardController(resolved.path, resolved.guards)],
      providers: [
        { provide: DASHBOARD_OPTIONS, useValue: resolved },
        DashboardApi,
        DashboardAssets,
        DashboardEvents,
        DashboardErrorFilter,
      ],
    };
  }
}
