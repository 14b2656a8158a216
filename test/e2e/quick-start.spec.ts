import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PgflowClient, PgflowModule, Step, Workflow } from '../../lib';
import { createTestDatabase, TestDatabase } from '../support/database';

// The README's quick start, as written there (only the URL comes from the harness).

@Workflow({ slug: 'greeting' })
class GreetingWorkflow {
  @Step()
  name(input: { run: { who: string } }) {
    return input.run.who.trim();
  }

  @Step({ dependsOn: ['name'] })
  upper(input: { name: string }) {
    return input.name.toUpperCase();
  }

  @Step({ dependsOn: ['name'] })
  length(input: { name: string }) {
    return input.name.length;
  }
}

describe('the README quick start', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('works as written', async () => {
    @Module({
      imports: [
        PgflowModule.forRoot({
          dataSource: { type: 'postgres', url: db.url },
          migrationsRun: true,
        }),
      ],
      providers: [GreetingWorkflow],
    })
    class AppModule {}

    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    try {
      const output = await app.get(PgflowClient).execute('greeting', { who: ' Ada ' });
      expect(output).toEqual({ upper: 'ADA', length: 3 });
    } finally {
      await app.close();
    }
  });
});
