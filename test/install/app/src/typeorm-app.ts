// A user's app with its own TypeORM setup (@nestjs/typeorm) handing its DataSource to
// pgflow through forRootAsync, as the README shows.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { PgflowClient, PgflowModule, Step, Workflow } from 'nestjs-pgflow';
import { isDeepStrictEqual } from 'util';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, Repository } from 'typeorm';
import { expect, run, runWorkflow } from './checks';
import { GreetWorkflow } from './greet.workflow';

@Entity({ name: 'install_note' })
export class Note {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  text!: string;
}

@Injectable()
export class NoteService {
  constructor(@InjectRepository(Note) private readonly notes: Repository<Note>) {}

  async add(text: string): Promise<number> {
    return (await this.notes.save(this.notes.create({ text }))).id;
  }
}

/** A workflow whose step writes through the app's own repository (same DataSource). */
@Workflow({ slug: 'note', maxAttempts: 1 })
export class NoteWorkflow {
  constructor(private readonly notes: NoteService) {}

  @Step()
  async save(input: { run: { text: string } }): Promise<{ id: number }> {
    return { id: await this.notes.add(input.run.text) };
  }

  @Step({ dependsOn: ['save'] })
  done(input: { save: { id: number } }): { saved: boolean } {
    return { saved: input.save.id > 0 };
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      entities: [Note],
      synchronize: true,
    }),
    TypeOrmModule.forFeature([Note]),
    PgflowModule.forRootAsync({
      inject: [DataSource],
      useFactory: (dataSource: DataSource) => ({ dataSource, migrationsRun: true }),
    }),
  ],
  providers: [NoteService, GreetWorkflow, NoteWorkflow],
})
export class AppModule {}

run(async () => {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  const dataSource = app.get(DataSource);
  await runWorkflow(app);

  const output = await app.get(PgflowClient).execute('note', { text: 'from a step' }, { timeoutMs: 30_000 });
  expect('execute', isDeepStrictEqual(output, { done: { saved: true } }),
    `note run output ${JSON.stringify(output)}`);
  const rows = await dataSource.query('select count(*)::int as n from install_note');
  expect('execute', rows[0].n === 1, `install_note has ${rows[0].n} rows, expected 1`);

  // @nestjs/typeorm destroys its DataSource on close; pgflow, which was handed it,
  // must not: the one destroy() call has to come from @nestjs/typeorm
  const destroyCalls: string[] = [];
  const destroy = dataSource.destroy.bind(dataSource);
  dataSource.destroy = (): Promise<void> => {
    destroyCalls.push(new Error('destroy() called').stack ?? '');
    return destroy();
  };
  await app.close();
  expect('datasource-left-open', !destroyCalls.some((stack) => stack.includes('nestjs-pgflow')),
    `pgflow destroyed the DataSource it was given:\n${destroyCalls.join('\n')}`);
  expect('datasource-left-open', destroyCalls.length === 1 && destroyCalls[0].includes('@nestjs/typeorm'),
    `expected one destroy() by @nestjs/typeorm on close, saw ${destroyCalls.length}:\n${destroyCalls.join('\n')}`);
});
