// A user's app that creates and owns its DataSource itself (no @nestjs/typeorm) and hands
// it to pgflow through forRootAsync; logs through its own logger (app.useLogger), then
// boots again with `logger: false`. The dashboard is mounted too (nestjs-pgflow/dashboard).
import 'reflect-metadata';
import { DynamicModule, Global, LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PgflowModule } from 'nestjs-pgflow';
import { DataSource } from 'typeorm';
import { describe, expect, run, runWorkflow } from './checks';
import { dashboardModule } from './dashboard';
import { GreetWorkflow } from './greet.workflow';

@Global()
@Module({})
class DatabaseModule {
  static forRoot(dataSource: DataSource): DynamicModule {
    return { module: DatabaseModule, providers: [{ provide: DataSource, useValue: dataSource }], exports: [DataSource] };
  }
}

@Module({})
class AppModule {
  static register(dataSource: DataSource): DynamicModule {
    return {
      module: AppModule,
      imports: [
        DatabaseModule.forRoot(dataSource),
        PgflowModule.forRootAsync({
          inject: [DataSource],
          useFactory: (dataSource: DataSource) => ({ dataSource, migrationsRun: true }),
        }),
        dashboardModule(),
      ],
      providers: [GreetWorkflow],
    };
  }
}

/** Collects every line as `<level> [<context>] <message>`. */
class CollectingLogger implements LoggerService {
  readonly lines: string[] = [];

  log(message: unknown, ...params: unknown[]): void { this.add('log', message, params); }
  error(message: unknown, ...params: unknown[]): void { this.add('error', message, params); }
  warn(message: unknown, ...params: unknown[]): void { this.add('warn', message, params); }
  debug(message: unknown, ...params: unknown[]): void { this.add('debug', message, params); }
  verbose(message: unknown, ...params: unknown[]): void { this.add('verbose', message, params); }

  private add(level: string, message: unknown, params: unknown[]): void {
    const context = params.length && typeof params[params.length - 1] === 'string' ? params[params.length - 1] : '';
    this.lines.push(`${level} [${String(context)}] ${String(message)}`);
  }
}

/** Records what is written to stdout and stderr while `fn` runs (and still prints it). */
async function captureOutput(fn: () => Promise<void>): Promise<string> {
  let out = '';
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  const tap = (write: typeof process.stdout.write) => ((chunk: string | Uint8Array, ...rest: never[]) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stdout.write = tap(stdout);
  process.stderr.write = tap(stderr);
  try {
    await fn();
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
  return out;
}

run(async () => {
  const dataSource = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL });
  await dataSource.initialize();

  // 1. a custom logger receives pgflow's lines, none of them go to the console
  const logger = new CollectingLogger();
  const printed = await captureOutput(async () => {
    const app = await NestFactory.createApplicationContext(AppModule.register(dataSource), { bufferLogs: true });
    app.useLogger(logger);
    await runWorkflow(app);
    await app.close();
  });
  const pgflowLines = logger.lines.filter((line) => line.includes('[Pgflow]'));
  expect('custom-logger', pgflowLines.some((line) => /^log \[Pgflow\] worker \S+ started/.test(line)),
    `app.useLogger() did not receive pgflow's "worker … started" line; it got:\n${logger.lines.join('\n')}`);
  expect('custom-logger', pgflowLines.some((line) => /^log \[Pgflow\] worker \S+ stopped/.test(line)),
    `app.useLogger() did not receive pgflow's "worker … stopped" line; it got:\n${logger.lines.join('\n')}`);
  expect('custom-logger', !/pgflow/i.test(printed),
    `with app.useLogger(custom), pgflow still printed to the console:\n${printed}`);

  expect('datasource-left-open', dataSource.isInitialized,
    'after app.close() the DataSource the app handed to pgflow was destroyed');
  await dataSource.query('select 1').catch((err: unknown) => {
    expect('datasource-left-open', false, `the DataSource no longer answers after app.close(): ${describe(err)}`);
  });

  // 2. logger: false: nothing at all is printed
  const silent = await captureOutput(async () => {
    const app = await NestFactory.createApplicationContext(AppModule.register(dataSource), { logger: false });
    await runWorkflow(app);
    await app.close();
  });
  expect('logger-false', silent === '', `with logger: false, the app printed:\n${silent}`);
  expect('datasource-left-open', dataSource.isInitialized,
    'after the second app.close() the DataSource the app handed to pgflow was destroyed');

  await dataSource.destroy();
});
