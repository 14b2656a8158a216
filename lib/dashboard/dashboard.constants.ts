/** Injection token of the dashboard's resolved options. */
export const DASHBOARD_OPTIONS = Symbol('PGFLOW_DASHBOARD_OPTIONS');
