import { CanActivate, Type } from '@nestjs/common';

/** Options of `PgflowDashboardModule.forRoot`. */
export interface PgflowDashboardOptions {
  /** Where the UI is mounted (below the app's global prefix); its API is under `<path>/api`. Default `'/pgflow'`. */
  path?: string;
  /** Answer every mutating route (cancel, retry, signal) with 403. Default `false`. */
  readOnly?: boolean;
  /** Guards run on every route of the dashboard, pages, API and event stream alike. Default: none. */
  guards?: Type<CanActivate>[];
}

/** The options as the dashboard uses them, defaults applied. */
export interface ResolvedDashboardOptions {
  path: string;
  readOnly: boolean;
  guards: Type<CanActivate>[];
}
