// Shared assertions: each failure is thrown as CheckFailed naming the check, which main
// prints as `CHECK FAILED <check>: <detail>` for run.js to report.
import { INestApplicationContext } from '@nestjs/common';
import { isDeepStrictEqual } from 'util';
import { PgflowClient, PgflowValidationError } from 'nestjs-pgflow';
import { EXPECTED_OUTPUT, GreetWorkflow } from './greet.workflow';

export class CheckFailed extends Error {
  constructor(readonly check: string, detail: string) {
    super(`${check}: ${detail}`);
  }
}

export function expect(check: string, ok: boolean, detail: string): void {
  if (!ok) throw new CheckFailed(check, detail);
}

/** Executes a run and checks its output; invalid input must throw PgflowValidationError. */
export async function runWorkflow(app: INestApplicationContext): Promise<void> {
  const client = app.get(PgflowClient);
  const output = await client.execute('greet', { name: 'Ada', times: 2 }, { timeoutMs: 30_000 })
    .catch((err: unknown) => { throw new CheckFailed('execute', describe(err)); });
  expect('execute', isDeepStrictEqual(output, EXPECTED_OUTPUT),
    `output ${JSON.stringify(output)}, expected ${JSON.stringify(EXPECTED_OUTPUT)}`);

  const before = (await client.listRuns({ flowSlug: 'greet' })).length;
  let thrown: unknown;
  try {
    await client.startRun(GreetWorkflow, { name: '', times: 0 });
  } catch (err) {
    thrown = err;
  }
  expect('validation', thrown instanceof PgflowValidationError,
    `startRun with invalid input: expected PgflowValidationError, got ${describe(thrown)}`);
  const violations = (thrown as PgflowValidationError).violations;
  expect('validation', violations.some((v) => v.startsWith('name')) && violations.some((v) => v.startsWith('times')),
    `violations should name "name" and "times": ${JSON.stringify(violations)}`);
  const after = (await client.listRuns({ flowSlug: 'greet' })).length;
  expect('validation', after === before, `an invalid startRun wrote a run (${before} runs before, ${after} after)`);
}

export function describe(err: unknown): string {
  if (err === undefined) return 'nothing thrown';
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Runs main; prints `CHECK FAILED <check>: ...` and exits 1 on failure. */
export function run(main: () => Promise<void>): void {
  const watchdog = setTimeout(() => {
    console.error('CHECK FAILED timeout: the app did not finish within 60 s');
    process.exit(1);
  }, 60_000);
  watchdog.unref();
  main().then(
    () => {
      console.log('CHECKS PASSED');
      process.exit(0);
    },
    (err: unknown) => {
      if (err instanceof CheckFailed) console.error(`CHECK FAILED ${err.message}`);
      else console.error(`CHECK FAILED boot: ${err instanceof Error ? err.stack : String(err)}`);
      process.exit(1);
    },
  );
}
