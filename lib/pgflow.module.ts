import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FlowBuilder } from './client/flow.builder';
import { PgflowClient } from './client/pgflow.client';
import { FlowCompiler } from './definitions/definition.store';
import { PgflowDatabase } from './db/pgflow.database';
import { PgflowExplorer } from './definitions/pgflow.explorer';
import { PgflowMetadataAccessor } from './definitions/pgflow-metadata.accessor';
import { PgflowModuleOptions } from './interfaces/module-options.interface';
import { PgflowConfigurableModule, MODULE_OPTIONS_TOKEN } from './pgflow.module-definition';
import { WorkflowRegistry } from './definitions/workflow.registry';
import { CronScheduler } from './schedulers/cron.scheduler';
import { RetentionScheduler } from './schedulers/retention.scheduler';
import { NotifyListener } from './db/notify.listener';
import { PgflowWorker } from './worker/pgflow.worker';

/**
 * Durable DAG workflows on PostgreSQL. Import once with `forRoot`/`forRootAsync`
 * (global); decorate providers with `@Workflow` and `@Step`; inject `PgflowClient`.
 * Cron workflows need no ScheduleModule import (see CronScheduler).
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: PgflowDatabase,
      useFactory: (options: PgflowModuleOptions) => PgflowDatabase.connect(options),
      inject: [MODULE_OPTIONS_TOKEN],
    },
    PgflowMetadataAccessor,
    WorkflowRegistry,
    PgflowExplorer,
    FlowCompiler,
    NotifyListener,
    PgflowWorker,
    PgflowClient,
    FlowBuilder,
    CronScheduler,
    RetentionScheduler,
  ],
  exports: [PgflowClient, PgflowWorker, FlowBuilder],
})
export class PgflowModule extends PgflowConfigurableModule {}
