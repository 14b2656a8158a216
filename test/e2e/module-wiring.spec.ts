import { Module } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { randomBytes } from 'crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { PgflowClient, PgflowModule, PgflowWorker, Step, StepContext, Workflow } from '../../lib';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { adminQuery, testServer, withDatabase } from '../support/database';
import { PGFLOW_MIGRATIONS } from '../../migrations';
import { eventually, useNestApps } from '../support/nest-harness';

@Workflow({ slug: 'echo' })
class EchoFlow {
  @Step()
  echo(input: { run: unknown }, ctx: StepContext) {
    return { value: input.run, workerId: ctx.workerId };
  }
}

const DB_URL = Symbol('DB_URL');

describe('module wiring', () => {
  const { createApp, closeApp, db } = useNestApps();
  const extra = new Set<TestingModule>();
  afterEach(async () => {
    for (const app of extra) await app.close();
    extra.clear();
  });

  async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  it('configures itself through forRootAsync with injected settings', async () => {
    @Module({ providers: [{ provide: DB_URL, useValue: db().url }], exports: [DB_URL] })
    class SettingsModule {}

    const app = await Test.createTestingModule({
      imports: [PgflowModule.forRootAsync({
        imports: [SettingsModule],
        inject: [DB_URL],
        useFactory: (url: string) => ({ dataSource: { type: 'postgres', url }, worker: { pollIntervalMs: 200 } }),
      })],
      providers: [EchoFlow],
    }).compile();
    extra.add(app);
    await app.init();
    await expect(app.get(PgflowClient).execute(EchoFlow, 'async', { timeoutMs: 10_000 })).resolves.toMatchObject({
      echo: { value: 'async', workerId: app.get(PgflowWorker).workerId },
    });
  });

  it('uses a DataSource instance it is given and leaves it open on close', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: db().url });
    await dataSource.initialize();
    try {
      const app = await createApp({ providers: [EchoFlow], pgflow: { dataSource } });
      expect(app.get(PgflowDatabase).dataSource).toBe(dataSource);
      const workerId = app.get(PgflowWorker).workerId;
      await expect(app.get(PgflowClient).execute(EchoFlow, 1, { timeoutMs: 10_000 })).resolves.toMatchObject({
        echo: { value: 1 },
      });
      await closeApp(app);
      expect(dataSource.isInitialized).toBe(true);
      // the shutdown wrote through it, and it still works
      await expect(dataSource.query('select status from pgflow.workers where worker_id = $1', [workerId]))
        .resolves.toEqual([{ status: 'stopped' }]);
    } finally {
      await dataSource.destroy();
    }
  });

  it('destroys the DataSource it created from options', async () => {
    const app = await createApp({ providers: [EchoFlow] });
    const { dataSource } = app.get(PgflowDatabase);
    expect(dataSource.isInitialized).toBe(true);
    await closeApp(app);
    expect(dataSource.isInitialized).toBe(false);
  });

  it('applies its migrations once when two apps boot at once on an empty database', async () => {
    const { adminUrl } = testServer();
    const name = `pgflow_empty_${randomBytes(6).toString('hex')}`;
    await adminQuery(adminUrl, `create database ${name}`);
    const url = withDatabase(adminUrl, name);
    try {
      const boot = () => createApp({ providers: [EchoFlow], pgflow: { dataSource: { type: 'postgres', url }, migrationsRun: true } });
      const [a, b] = await Promise.all([boot(), boot()]);
      expect(await query(url, `select count(*)::int as n from pg_namespace where nspname = 'pgflow'`)).toEqual([{ n: 1 }]);
      expect(await query(url, 'select name from migrations order by id'))
        .toEqual(PGFLOW_MIGRATIONS.map((m) => ({ name: m.name })));
      expect(await query(url, 'select step_slug from pgflow.steps')).toEqual([{ step_slug: 'echo' }]);
      await expect(a.get(PgflowClient).execute(EchoFlow, 'a', { timeoutMs: 10_000 })).resolves.toMatchObject({ echo: { value: 'a' } });
      await expect(b.get(PgflowClient).execute(EchoFlow, 'b', { timeoutMs: 10_000 })).resolves.toMatchObject({ echo: { value: 'b' } });
      await closeApp(a);
      await closeApp(b);
    } finally {
      await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
    }
  });

  it('starts runs from a client-only app that a worker app executes', async () => {
    const clientApp = await createApp({ providers: [EchoFlow], worker: { enabled: false } });
    const client = clientApp.get(PgflowClient);
    const run = await client.startRun(EchoFlow, 'queued work');
    expect(run.status).toBe('started');
    expect((await client.listWorkers()).map((w) => w.workerId)).not.toContain(clientApp.get(PgflowWorker).workerId);

    const workerApp = await createApp({ providers: [EchoFlow] });
    await expect(client.waitForRun(run.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
      status: 'completed', output: { echo: { value: 'queued work', workerId: workerApp.get(PgflowWorker).workerId } },
    });
  });

  it('waits for PgflowWorker.start() when autoStart is false', async () => {
    const app = await createApp({ providers: [EchoFlow], worker: { autoStart: false } });
    const client = app.get(PgflowClient);
    const worker = app.get(PgflowWorker);
    const run = await client.startRun(EchoFlow, 'later');
    // several poll intervals (200 ms): a running worker would have claimed the task by now
    await new Promise((r) => setTimeout(r, 700));
    expect(await query(db().url, 'select status, claimed_by from pgflow.step_tasks where run_id = $1', [run.runId]))
      .toEqual([{ status: 'queued', claimed_by: null }]);
    expect((await client.listWorkers()).map((w) => w.workerId)).not.toContain(worker.workerId);

    await worker.start();
    await expect(client.waitForRun(run.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
      output: { echo: { value: 'later', workerId: worker.workerId } },
    });
    await eventually(async () => (await client.listWorkers()).find((w) => w.workerId === worker.workerId)?.status === 'online');
  });
});
