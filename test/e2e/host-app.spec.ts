import { LoggerService, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { PgflowClient, PgflowModule, Step, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

@Workflow({ slug: 'host_echo' })
class HostEchoFlow {
  @Step()
  echo(input: { run: { n: number } }) {
    return input.run.n * 2;
  }
}

/** Collects every line the app logs, with its context. */
class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown, context?: string) { this.lines.push(`${context}: ${String(message)}`); }
  error(message: unknown, ...rest: unknown[]) { this.lines.push(`error ${String(rest.at(-1))}: ${String(message)}`); }
  warn(message: unknown, context?: string) { this.lines.push(`warn ${context}: ${String(message)}`); }
  debug(message: unknown, context?: string) { this.lines.push(`debug ${context}: ${String(message)}`); }
  verbose(message: unknown, context?: string) { this.lines.push(`verbose ${context}: ${String(message)}`); }
}

describe('inside the host app', () => {
  const { db } = useNestApps();

  function appModule(dataSource: () => unknown) {
    @Module({
      imports: [PgflowModule.forRootAsync({
        useFactory: () => ({
          dataSource: dataSource() as DataSource,
          worker: { pollIntervalMs: 200, heartbeatIntervalMs: 1000, shutdownTimeoutMs: 5000 },
        }),
      })],
      providers: [HostEchoFlow],
    })
    class AppModule {}
    return AppModule;
  }

  it('takes a DataSource made by another copy of typeorm for an instance (not for options) and leaves it open', async () => {
    // a second module instance of typeorm, as an app gets when npm nests another copy
    let Foreign!: typeof DataSource;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      Foreign = (require('typeorm') as typeof import('typeorm')).DataSource;
    });
    expect(Foreign).not.toBe(DataSource);
    const foreign = new Foreign({ type: 'postgres', url: db().url });
    await foreign.initialize();
    expect(foreign instanceof DataSource).toBe(false);
    try {
      const app = await NestFactory.createApplicationContext(appModule(() => foreign), { logger: false, abortOnError: false });
      try {
        await expect(app.get(PgflowClient).execute(HostEchoFlow, { n: 21 }, { timeoutMs: 20_000 }))
          .resolves.toEqual({ echo: 42 });
      } finally {
        await app.close();
      }
      // given, not owned: still usable by the app after pgflow shut down
      expect(foreign.isInitialized).toBe(true);
      await expect(foreign.query('select 1 as one')).resolves.toEqual([{ one: 1 }]);
    } finally {
      await foreign.destroy();
    }
  });

  it("logs through the app's logger (useLogger), and not at all with logger: false", async () => {
    const recorder = new RecordingLogger();
    const app = await NestFactory.createApplicationContext(
      appModule(() => ({ type: 'postgres', url: db().url })), { bufferLogs: true, abortOnError: false });
    app.useLogger(recorder);
    try {
      await app.init();
      await app.get(PgflowClient).execute(HostEchoFlow, { n: 1 }, { timeoutMs: 20_000 });
    } finally {
      await app.close();
    }
    expect(recorder.lines.filter((l) => l.startsWith('Pgflow: worker ') && l.endsWith('started for flows: host_echo')))
      .toHaveLength(1);
    expect(recorder.lines.some((l) => /^Pgflow: worker .* stopped$/.test(l))).toBe(true);

    const printed: string[] = [];
    const spies = (['stdout', 'stderr'] as const).map((stream) =>
      jest.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
        printed.push(String(chunk));
        return true;
      }));
    try {
      const quiet = await NestFactory.createApplicationContext(
        appModule(() => ({ type: 'postgres', url: db().url })), { logger: false, abortOnError: false });
      try {
        await quiet.get(PgflowClient).execute(HostEchoFlow, { n: 2 }, { timeoutMs: 20_000 });
      } finally {
        await quiet.close();
      }
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(printed.filter((l) => l.includes('Pgflow'))).toEqual([]);
  });
});
