// A user's app with only the required peers (no class-validator, class-transformer,
// @nestjs/schedule, @nestjs/typeorm): pgflow creates and owns the DataSource from options.
// It boots, executes a run, and a workflow that declares an input DTO fails with a
// message naming the missing package instead of crashing the process at boot.
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PgflowClient, PgflowDefinitionError, PgflowModule, Step, Workflow } from 'nestjs-pgflow';

@Workflow({ slug: 'plain' })
class PlainWorkflow {
  @Step()
  double(input: { run: { n: number } }): number {
    return input.run.n * 2;
  }
}

class OrderInput {
  id!: string;
}

@Workflow({ slug: 'with_dto', input: OrderInput })
class DtoWorkflow {
  @Step()
  echo(input: { run: OrderInput }): string {
    return input.run.id;
  }
}

@Module({
  imports: [PgflowModule.forRoot({ dataSource: { type: 'postgres', url: process.env.DATABASE_URL }, migrationsRun: true })],
  providers: [PlainWorkflow, DtoWorkflow],
})
class AppModule {}

function fail(check: string, detail: string): never {
  console.error(`CHECK FAILED ${check}: ${detail}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
  try {
    const client = app.get(PgflowClient);
    const output = await client.execute('plain', { n: 21 }, { timeoutMs: 30_000 });
    if (JSON.stringify(output) !== JSON.stringify({ double: 42 })) fail('execute', `output ${JSON.stringify(output)}`);
    const err = await client.startRun('with_dto', { id: 'a' }).then(() => undefined, (e: unknown) => e);
    if (!(err instanceof PgflowDefinitionError) || !/needs the package "class-(transformer|validator)"/.test(err.message)) {
      fail('optional peer', `startRun of a DTO workflow without class-validator: ${String(err)}`);
    }
  } finally {
    await app.close();
  }
  console.log('CHECKS PASSED');
}

main().then(() => process.exit(0), (err: unknown) => fail('boot', err instanceof Error ? err.stack ?? err.message : String(err)));
