import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FlowBuilder } from './client/flow.builder';
import { PgflowClient } from './client/pgflow.client';
import { resolvePgflowOptions, ResolvedPgflowOptions } from './core/options.resolver';
import { PGFLOW_OPTIONS } from './core/pgflow.constants';
import { PgflowEvents } from './core/pgflow.events';
import { PgflowTelemetry } from './core/telemetry';
import { NotifyListener } from './db/notify.listener';
import { PgflowDatabase } from './db/pgflow.database';
import { DefinitionStore } from './definitions/definition.store';
import { PgflowExplorer } from './definitions/pgflow.explorer';
import { PgflowMetadataAccessor } from './definitions/pgflow-metadata.accessor';
import { WorkflowRegistry } from './definitions/workflow.registry';
import { PgflowModuleOptions } from './interfaces/module-options.interface';
import { MODULE_OPTIONS_TOKEN, PgflowConfigurableModule } from './pgflow.module-definition';
import { CronScheduler } from './schedulers/cron.scheduler';
import { RetentionScheduler } from './schedulers/retention.scheduler';
import { PgflowWorker } from './worker/pgflow.worker';

/**
 * Durable DAG workflows on PostgreSQL. Import once with `forRoot`/`forRootAsync`
 * (global); decorate providers with `@Workflow` and `@Step`; inject `PgflowClient`.
 * Cron workflows need no ScheduleModule import (see CronScheduler).
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    // the one place options are read: validated and defaulted once, injected everywhere
    { provide: PGFLOW_OPTIONS, useFactory: resolvePgflowOptions, inject: [MODULE_OPTIONS_TOKEN] },
    {
      provide: PgflowDatabase,
      useFactory: (options: ResolvedPgflowOptions) => PgflowDatabase.connect(options),
      inject: [PGFLOW_OPTIONS],
    },
    PgflowMetadataAccessor,
    WorkflowRegistry,
    PgflowExplorer,
    DefinitionStore,
    NotifyListener,
    PgflowEvents,
    PgflowTelemetry,
    PgflowWorker,
    PgflowClient,
    FlowBuilder,
    CronScheduler,
    RetentionScheduler,
  ],
  // NotifyListener, PgflowDatabase and the resolved options: for nestjs-pgflow/dashboard (one LISTEN
  // per process, its queries, the poll interval when notifications do not arrive)
  exports: [PgflowClient, PgflowWorker, FlowBuilder, PgflowEvents, NotifyListener, PgflowDatabase, PGFLOW_OPTIONS],
})
export class PgflowModule extends PgflowConfigurableModule {}

export type { PgflowModuleOptions };
