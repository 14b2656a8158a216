import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PgflowModule, PgflowWorkerOptions } from '../../lib';
import { BENCH_FLOWS, HandledCounter } from '../workers/pgflow.workflows';

/**
 * The profiles' in-process app: the bench's flows on `url` (migrated), its worker with
 * `worker` and not started, and the counter its handlers bump.
 */
export async function probeApp(url: string, worker: PgflowWorkerOptions = {}):
  Promise<{ app: INestApplicationContext; counter: HandledCounter }> {
  const counter = new HandledCounter();
  @Module({
    imports: [PgflowModule.forRoot({ dataSource: { type: 'postgres', url }, migrationsRun: true,
      worker: { ...worker, autoStart: false } })],
    providers: [{ provide: HandledCounter, useValue: counter }, ...BENCH_FLOWS],
  })
  class ProbeModule {}
  const app = await NestFactory.createApplicationContext(ProbeModule, { logger: ['error', 'warn'] });
  return { app, counter };
}
