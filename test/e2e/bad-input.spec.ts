import { randomUUID } from 'crypto';
import { Client } from 'pg';
import {
  PgflowClient, PgflowError, PgflowRunFailedError, PgflowUnknownFlowError, PgflowUnknownRunError,
  PgflowValidationError, Step, Workflow,
} from '../../lib';
import { MAX_PAYLOAD_BYTES } from '../../lib/core/pgflow.constants';
import { useNestApps } from '../support/nest-harness';

type Kind =
  | 'ok' | 'circular' | 'bigint' | 'function' | 'symbol' | 'nan' | 'oversize' | 'nul' | 'lone-surrogate'
  | 'deep' | 'deep-for-server' | 'throw-string' | 'throw-object' | 'throw-undefined' | 'throw-null' | 'throw-nul' | 'never';

/** One step whose output or failure is chosen by the run input. */
@Workflow({ slug: 'bad_output', maxAttempts: 1, timeout: 1 })
class BadOutputFlow {
  @Step()
  out(input: { run: { kind: Kind; value?: unknown } }): unknown {
    const { kind, value } = input.run;
    switch (kind) {
      case 'ok': return { echo: value };
      case 'circular': {
        const o: { self?: unknown } = {};
        o.self = o;
        return o;
      }
      case 'bigint': return { n: BigInt(1) };
      case 'function': return { f: () => 1 };
      case 'symbol': return { s: Symbol('x') };
      case 'nan': return { x: NaN };
      case 'oversize': return 'x'.repeat(MAX_PAYLOAD_BYTES + 1);
      case 'nul': return 'a\u0000b';
      case 'lone-surrogate': return { s: 'a\ud800b' };
      case 'deep': {
        let v: unknown = 1;
        for (let i = 0; i < 100_000; i++) v = [v];
        return v;
      }
      case 'deep-for-server': {
        // fine for JSON.stringify, too deep for a server whose max_stack_depth is low
        let v: unknown = 1;
        for (let i = 0; i < 2_000; i++) v = [v];
        return v;
      }
      case 'throw-string': throw 'plain string thrown';
      case 'throw-object': throw { code: 42, reason: 'object thrown' };
      case 'throw-undefined': throw undefined;
      case 'throw-null': throw null;
      case 'throw-nul': throw new Error('bad\u0000byte');
      case 'never': return new Promise(() => undefined);
    }
  }
}

/** A map over a dependency that returns a non-array. */
@Workflow({ slug: 'bad_map', maxAttempts: 1 })
class BadMapFlow {
  @Step()
  list(input: { run: unknown }): unknown {
    return input.run;
  }

  @Step({ dependsOn: ['list'], map: 'list' })
  each(x: number): number {
    return x + 1;
  }
}

/** A map over the run input. */
@Workflow({ slug: 'map_run' })
class MapRunFlow {
  @Step({ map: 'run' })
  twice(x: number): number {
    return 2 * x;
  }
}

const METACHARS = `x'); drop table pgflow.runs; -- "\\ $1 %s`;

describe('bad input through the public API and SQL', () => {
  const harness = useNestApps();
  const { createApp } = harness;
  let sql: Client;
  beforeAll(async () => {
    sql = await harness.sql();
  });

  const runCount = async () => (await sql.query<{ n: number }>('select count(*)::int n from pgflow.runs')).rows[0].n;
  const sqlError = async (text: string, params: unknown[] = []) => {
    try {
      await sql.query(text, params);
    } catch (err) {
      return err as { code: string; message: string };
    }
    throw new Error(`expected ${text} to fail`);
  };

  async function boot() {
    const app = await createApp({ providers: [BadOutputFlow, BadMapFlow, MapRunFlow] });
    return app.get(PgflowClient);
  }

  /** Runs `kind`, expects the run to fail with a message matching `message`, then a good run still completes. */
  async function expectRecordedFailure(client: PgflowClient, kind: Kind, message: RegExp): Promise<void> {
    const run = await client.startRun('bad_output', { kind });
    const err = await client.waitForRun(run.runId, { timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PgflowRunFailedError);
    const failed = err as PgflowRunFailedError;
    expect(failed.error).toMatchObject({ stepSlug: 'out', taskIndex: 0 });
    expect(failed.error?.message).toMatch(message);
    expect(failed.message).toContain(failed.error?.message);
    const [task] = (await sql.query(`select status, attempts_count, error_message from pgflow.step_tasks where run_id = $1`,
      [run.runId])).rows;
    expect(task).toMatchObject({ status: 'failed', attempts_count: 1 });
    // the worker is not stuck: the next run goes through
    await expect(client.execute('bad_output', { kind: 'ok', value: kind }, { timeoutMs: 10_000 }))
      .resolves.toEqual({ out: { echo: kind } });
  }

  it('rejects non-JSON, oversize and unstorable run inputs with PgflowValidationError and writes nothing', async () => {
    const client = await boot();
    const before = await runCount();
    const circular: { self?: unknown } = {};
    circular.self = circular;
    const cases: Array<[unknown, RegExp]> = [
      [circular, /not JSON.*circular/i],
      [{ n: BigInt(1) }, /not JSON: BigInt at "n"/],
      [{ f: () => 1 }, /not JSON: function at "f"/],
      [{ s: Symbol('s') }, /not JSON: symbol at "s"/],
      [{ x: Infinity }, /not JSON: Infinity at "x"/],
      [{ x: NaN }, /not JSON: NaN at "x"/],
      [{ s: 'a\u0000b' }, /NUL character/],
      ['x'.repeat(MAX_PAYLOAD_BYTES), new RegExp(`over the ${MAX_PAYLOAD_BYTES}-byte limit`)],
    ];
    for (const [input, message] of cases) {
      const err = await client.startRun('bad_output', input).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PgflowValidationError);
      expect((err as Error).message).toMatch(/input of flow "bad_output"/);
      expect((err as Error).message).toMatch(message);
    }
    expect(await runCount()).toBe(before);
  });

  it('refuses what Postgres jsonb cannot store (lone surrogates, nesting) as PgflowValidationError', async () => {
    const client = await boot();
    const before = await runCount();
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    for (const input of [{ s: 'a\ud800b' }, deep]) {
      const err = await client.startRun('bad_output', input).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PgflowValidationError);
      expect((err as Error).message).toMatch(/input of flow "bad_output"/);
    }
    expect(await runCount()).toBe(before);
  });

  it('gives typed errors for unknown flows, unknown runs and malformed ids', async () => {
    const client = await boot();
    const before = await runCount();
    await expect(client.startRun('no_such_flow', {})).rejects.toThrow(PgflowUnknownFlowError);
    await expect(client.startRun('no_such_flow', {})).rejects.toThrow('unknown flow "no_such_flow"');
    await expect(client.startRun(METACHARS, {})).rejects.toBeInstanceOf(PgflowUnknownFlowError);
    await expect(client.execute(class NotAWorkflow {}, {})).rejects.toBeInstanceOf(PgflowUnknownFlowError);

    const unknown = randomUUID();
    await expect(client.getRun(unknown)).resolves.toBeNull();
    await expect(client.waitForRun(unknown, { timeoutMs: 5_000 })).rejects.toThrow(new PgflowUnknownRunError(unknown));
    await expect(client.cancelRun(unknown)).rejects.toBeInstanceOf(PgflowUnknownRunError);
    await expect(client.retryRun(unknown)).rejects.toBeInstanceOf(PgflowUnknownRunError);

    for (const bad of ['not-a-uuid', `${unknown}'; drop table pgflow.runs; --`, '', unknown.slice(0, 35)]) {
      for (const call of [
        () => client.getRun(bad), () => client.waitForRun(bad), () => client.cancelRun(bad), () => client.retryRun(bad),
        () => client.startRun('bad_output', { kind: 'ok' }, { runId: bad }),
      ]) {
        await expect(call()).rejects.toThrow(/invalid run id .*expected a uuid/);
      }
    }
    // a map over the run input given a non-array: a typed error naming the step, nothing written
    await expect(client.startRun('map_run', { not: 'an array' })).rejects.toThrow(PgflowValidationError);
    await expect(client.startRun('map_run', 5)).rejects.toThrow(/step "map_run.twice" maps over the run input/);
    expect(await runCount()).toBe(before);
  });

  it('stores SQL metacharacters in inputs and outputs verbatim', async () => {
    const client = await boot();
    const value = { [METACHARS]: [METACHARS, "'", '"', '\\', '$$', ';--', '%', '\u2028', '\ud83d\ude00'] };
    const run = await client.startRun('bad_output', { kind: 'ok', value }, { idempotencyKey: METACHARS });
    const done = await client.waitForRun(run.runId, { timeoutMs: 10_000 });
    expect(done.input).toEqual({ kind: 'ok', value });
    expect(done.output).toEqual({ out: { echo: value } });
    // the same odd idempotency key finds the same run
    expect((await client.startRun('bad_output', { kind: 'ok' }, { idempotencyKey: METACHARS })).runId).toBe(run.runId);
    expect((await sql.query(`select to_regclass('pgflow.runs') is not null as ok`)).rows[0].ok).toBe(true);
  });

  it('records a failed task with a clear message for non-JSON, oversize and unstorable outputs', async () => {
    const client = await boot();
    await expectRecordedFailure(client, 'circular', /output of step "bad_output.out" is not JSON.*circular/i);
    await expectRecordedFailure(client, 'bigint', /output of step "bad_output.out" is not JSON: BigInt at "n"/);
    await expectRecordedFailure(client, 'function', /is not JSON: function at "f"/);
    await expectRecordedFailure(client, 'symbol', /is not JSON: symbol at "s"/);
    await expectRecordedFailure(client, 'nan', /is not JSON: NaN at "x"/);
    await expectRecordedFailure(client, 'oversize', new RegExp(`over the ${MAX_PAYLOAD_BYTES}-byte limit`));
    await expectRecordedFailure(client, 'nul', /NUL character/);
    await expectRecordedFailure(client, 'lone-surrogate', /output of step "bad_output.out"/);
    await expectRecordedFailure(client, 'deep', /output of step "bad_output.out"/);
  }, 120_000);

  it('records an output the server refuses as a failed attempt without holding up results flushed with it', async () => {
    await sql.query(`alter database ${harness.db().name} set max_stack_depth = '100kB'`);
    try {
      const client = await boot();
      const poison = await client.startRun('bad_output', { kind: 'deep-for-server' });
      const good = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        client.startRun('bad_output', { kind: 'ok', value: i })));
      const err = await client.waitForRun(poison.runId, { timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PgflowRunFailedError);
      expect((err as PgflowRunFailedError).error?.message).toMatch(/output of step "out" could not be stored: .*stack depth/);
      for (const [i, run] of good.entries()) {
        await expect(client.waitForRun(run.runId, { timeoutMs: 20_000 })).resolves.toMatchObject({ output: { out: { echo: i } } });
      }
    } finally {
      await sql.query(`alter database ${harness.db().name} reset max_stack_depth`);
    }
  });

  it('records non-Error throws and a handler that never resolves as task failures', async () => {
    const client = await boot();
    await expectRecordedFailure(client, 'throw-string', /^plain string thrown$/);
    await expectRecordedFailure(client, 'throw-object', /^non-Error thrown: \{"code":42,"reason":"object thrown"\}$/);
    await expectRecordedFailure(client, 'throw-undefined', /^non-Error thrown: undefined$/);
    await expectRecordedFailure(client, 'throw-null', /^non-Error thrown: null$/);
    await expectRecordedFailure(client, 'throw-nul', /^bad.byte$/);
    await expectRecordedFailure(client, 'never', /step "out" timed out after 1 s/);
  }, 120_000);

  it('fails the run with a type error when a map step gets a non-array from its dependency', async () => {
    const client = await boot();
    const err = await client.execute('bad_map', { an: 'object' }, { timeoutMs: 10_000 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PgflowRunFailedError);
    expect((err as PgflowRunFailedError).message).toMatch(/each.*list|list.*each/);
    await expect(client.execute('bad_map', [1, 2], { timeoutMs: 10_000 })).resolves.toEqual({ each: [2, 3] });
  });

  it('gives SQL callers errors with pgflow SQLSTATEs and changes nothing', async () => {
    await boot(); // definitions exist
    const before = await runCount();
    expect(await sqlError(`select pgflow.start_flow('no_such_flow')`)).toMatchObject({ code: 'PGF02' });
    expect(await sqlError(`select pgflow.start_flow($1)`, [METACHARS])).toMatchObject({ code: 'PGF02' });
    expect(await sqlError(`select pgflow.start_flow('map_run', '{"a":1}')`))
      .toMatchObject({ code: 'PGF05', message: expect.stringMatching(/map_run\.twice/) });
    expect(await sqlError(`select pgflow.start_flow('bad_output', '{}', 'not-a-uuid')`)).toMatchObject({ code: '22P02' });
    expect(await sqlError(`select pgflow.start_flow('bad_output', 'not json')`)).toMatchObject({ code: '22P02' });
    expect(await sqlError(`select pgflow.create_flow($1)`, [METACHARS])).toMatchObject({ code: 'PGF01' });
    expect(await sqlError(`select pgflow.add_step('bad_output', $1)`, [METACHARS])).toMatchObject({ code: 'PGF01' });
    expect(await sqlError(`select pgflow.complete_tasks('{"not":"an array"}')`)).toMatchObject({ code: 'PGF05' });
    expect(await sqlError(`select pgflow.cancel_run($1)`, [randomUUID()])).toMatchObject({ code: 'PGF03' });
    expect(await sqlError(`select pgflow.retry_run($1)`, [randomUUID()])).toMatchObject({ code: 'PGF03' });
    // results for tasks that do not exist are ignored, not errors
    const ghost = randomUUID();
    expect((await sql.query(`select pgflow.complete_task($1, 'out', 0, 1, '1') ok`, [ghost])).rows[0].ok).toBe(false);
    expect((await sql.query(`select pgflow.fail_task($1, 'out', 0, 1, 'x') r`, [ghost])).rows[0].r).toBe('ignored');
    expect(await runCount()).toBe(before);
    // SQL-started runs with odd inputs work
    const { rows: [{ run_id }] } = await sql.query(
      `select run_id from pgflow.start_flow('bad_output', jsonb_build_object('kind', 'ok', 'value', $1::text))`, [METACHARS]);
    const client = (await createApp({ providers: [BadOutputFlow, BadMapFlow, MapRunFlow] })).get(PgflowClient);
    await expect(client.waitForRun(run_id, { timeoutMs: 10_000 })).resolves.toMatchObject({ output: { out: { echo: METACHARS } } });
  });

  it('leaves no corrupted state behind', async () => {
    const { rows: [check] } = await sql.query(`
      select (select count(*) from pgflow.step_tasks t join pgflow.runs r using (run_id)
               where r.status in ('completed', 'failed', 'cancelled') and t.status in ('queued', 'started'))::int live_tasks_of_finished_runs,
             (select count(*) from pgflow.runs where status = 'completed' and remaining_steps <> 0)::int bad_completed,
             (select count(*) from pgflow.runs where status = 'failed' and error is null)::int failed_without_error,
             (select count(*) from pgflow.runs where status in ('started', 'queued'))::int unfinished`);
    expect(check).toEqual({ live_tasks_of_finished_runs: 0, bad_completed: 0, failed_without_error: 0, unfinished: 0 });
    expect(PgflowValidationError.prototype).toBeInstanceOf(PgflowError);
  });
});
