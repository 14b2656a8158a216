// A pgflow worker process for the process tests: a small Nest app with the fixture
// workflows, configured from its environment (see knobs.ts). Prints
// `READY <workerId>` once its worker claims, and exits 0 after a graceful
// shutdown on SIGTERM/SIGINT (1 if shutdown failed).
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PgflowModule, PgflowWorker } from '../../../lib';
import { FLOWS } from './flows';
import { KNOBS, KNOBS_TOKEN } from './knobs';
import { ExecutionRecorder } from './recorder';
import { runFixture } from '../../support/fixture-main';

@Module({
  imports: [
    PgflowModule.forRoot({
      // application_name tells the tests which worker a session belongs to
      dataSource: { type: 'postgres', url: KNOBS.databaseUrl, poolSize: KNOBS.poolSize, applicationName: KNOBS.workerId },
      worker: {
        workerId: KNOBS.workerId,
        flows: KNOBS.flows,
        maxConcurrency: KNOBS.maxConcurrency,
        batchSize: KNOBS.batchSize,
        pollIntervalMs: KNOBS.pollIntervalMs,
        heartbeatIntervalMs: KNOBS.heartbeatIntervalMs,
        leaseSeconds: KNOBS.leaseSeconds,
        shutdownTimeoutMs: KNOBS.shutdownTimeoutMs,
      },
    }),
  ],
  providers: [{ provide: KNOBS_TOKEN, useValue: KNOBS }, ExecutionRecorder, ...FLOWS],
})
class WorkerModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error', 'warn', 'log'] });
  // exit 0 after a clean shutdown instead of re-raising the signal, so the test can
  // tell a graceful stop (0) from a failed one (1) or a kill (signal)
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  process.stdout.write(`READY ${app.get(PgflowWorker).workerId}\n`);

  if (KNOBS.statsIntervalMs > 0) {
    const stats = () => {
      const m = process.memoryUsage();
      process.stdout.write(`STATS rss=${m.rss} heap=${m.heapUsed}\n`);
    };
    stats();
    setInterval(stats, KNOBS.statsIntervalMs).unref();
  }
}

runFixture(main);
