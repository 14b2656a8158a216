// first: sets up (or hides) OpenTelemetry before the library loads
import './pgflow.telemetry';
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PgflowModule, PgflowWorker } from '../../lib';
import { workerSettings } from '../engines/engine';
import type { PgflowSettings } from '../engines/pgflow.engine';
import { BENCH_FLOWS, HandledCounter } from './pgflow.workflows';
import { runWorker } from './worker.runtime';

// nestjs-pgflow as a user runs it: a Nest application context with the module's
// defaults, or the tuned batchSize/maxConcurrency, started when the orchestrator says go.
runWorker(async (progress, env) => {
  const settings = workerSettings<PgflowSettings>();
  @Module({
    imports: [PgflowModule.forRoot({
      dataSource: { type: 'postgres', url: env.dbUrl },
      worker: { autoStart: false, batchSize: settings.batchSize, maxConcurrency: settings.maxConcurrency },
    })],
    providers: [{ provide: HandledCounter, useValue: progress }, ...BENCH_FLOWS],
  })
  class BenchWorkerModule {}

  const app = await NestFactory.createApplicationContext(BenchWorkerModule, { logger: ['error', 'warn'] });
  const worker = app.get(PgflowWorker);
  return {
    start: () => worker.start(),
    stop: () => app.close(),
  };
});
