// The dashboard as a user mounts it: `nestjs-pgflow/dashboard` must resolve (exports map,
// and typesVersions for moduleResolution: node) and type-check, and the built UI must ship.
import { CanActivate, DynamicModule, Injectable } from '@nestjs/common';
import { existsSync } from 'fs';
import { dirname, join } from 'path';
import { PgflowDashboardModule, PgflowDashboardOptions } from 'nestjs-pgflow/dashboard';
import { expect } from './checks';

@Injectable()
class AllowGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

/** The dashboard module, read-only behind a guard; checks the package carries its built UI. */
export function dashboardModule(): DynamicModule {
  const options: PgflowDashboardOptions = { path: '/ops/pgflow', readOnly: true, guards: [AllowGuard] };
  const root = dirname(require.resolve('nestjs-pgflow/package.json'));
  expect('dashboard-assets', existsSync(join(root, 'dist', 'dashboard', 'index.html')),
    `the package has no dist/dashboard/index.html (in ${root})`);
  const mod = PgflowDashboardModule.forRoot(options);
  expect('dashboard-module', (mod.controllers ?? []).length === 1, 'PgflowDashboardModule.forRoot made no controller');
  return mod;
}
