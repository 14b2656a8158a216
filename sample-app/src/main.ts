// The sample: `npm run sample -- [--runs N] [--data DIR]`. Uses DATABASE_URL, or an
// embedded PGlite when it is unset; runs the document pipeline with a live progress
// display; prints the result and exits 0 (1 if a run failed or anything went wrong).
import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { openSampleDatabase } from './database/sample.database';
import { PlainDisplay } from './progress/plain.display';
import { ProgressDisplay } from './progress/run-progress';
import { TtyDisplay } from './progress/tty.display';
import { parseSampleOptions, SampleOptions, USAGE } from './sample.options';
import { formatOutcome } from './sample.report';
import { SampleRunner } from './sample.runner';

const print = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  let options: SampleOptions;
  try {
    options = parseSampleOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    print(USAGE);
    return 0;
  }

  // Ctrl-C stops waiting and shuts down cleanly (the worker drains, the temp dir goes)
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  process.once('SIGTERM', () => interrupt.abort());
  try {
    return await session(options, interrupt.signal);
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    print('interrupted');
    return 130;
  }
}

/** Opens the database, boots the app, runs the workflow, and always closes both. */
async function session(options: SampleOptions, signal: AbortSignal): Promise<number> {
  const database = await openSampleDatabase(process.env.DATABASE_URL, options.dataDir);
  print(`database: ${database.description}`);
  try {
    const app = await NestFactory.createApplicationContext(
      AppModule.register({ databaseUrl: database.url, embedded: database.embedded }),
      {
        // quiet, so the progress display stays readable; colour only on a terminal
        logger: new ConsoleLogger({ logLevels: ['error', 'warn'], colors: Boolean(process.stdout.isTTY) }),
        // a boot error must reach the finally blocks (stop the embedded server, remove its dir)
        abortOnError: false,
      },
    );
    try {
      const display: ProgressDisplay = process.stdout.isTTY
        ? new TtyDisplay(options.runs, process.stdout)
        : new PlainDisplay(options.runs, print);
      const outcome = await app.get(SampleRunner).run(options.runs, display, signal);
      for (const line of formatOutcome(outcome)) print(line);
      return outcome.runs.every((r) => r.status === 'completed') ? 0 : 1;
    } finally {
      await app.close();
    }
  } finally {
    await database.stop();
  }
}

main().then(
  (code) => exit(code),
  (err: unknown) => {
    process.stderr.write(`sample failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    exit(1);
  },
);

/** Exits once output is flushed; a handle something left open cannot keep the process alive. */
function exit(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}
