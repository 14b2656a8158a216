import { Injectable } from '@nestjs/common';
import { TestingModule } from '@nestjs/testing';
import { Type } from 'class-transformer';
import { IsDefined, IsEmail, IsInt, IsNotEmpty, IsString, Min, ValidateNested } from 'class-validator';
import { randomUUID } from 'crypto';
import {
  PgflowClient, PgflowModuleOptions, PgflowValidationError, PgflowWorker, Step, StepContext, Workflow,
} from '../../lib';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { useNestApps, appSql } from '../support/nest-harness';

/** Handler calls of one app, in the order they happened. */
@Injectable()
class Lanes {
  readonly order: string[] = [];
  readonly at = new Map<string, number>();
}

@Workflow({ slug: 'low_lane' })
class LowLaneFlow {
  constructor(private readonly lanes: Lanes) {}

  @Step()
  work(input: { run: { tag: string } }) {
    this.lanes.order.push(input.run.tag);
    this.lanes.at.set(input.run.tag, Date.now());
    return input.run.tag;
  }
}

@Workflow({ slug: 'high_lane' })
class HighLaneFlow {
  constructor(private readonly lanes: Lanes) {}

  @Step()
  work(input: { run: { tag: string } }, ctx: StepContext) {
    this.lanes.order.push(input.run.tag);
    this.lanes.at.set(input.run.tag, Date.now());
    return `${input.run.tag}@${ctx.attempt}`;
  }
}

class Address {
  @IsString()
  @IsNotEmpty()
  city!: string;
}

class SignupInput {
  @IsEmail()
  email!: string;

  @IsInt()
  @Min(18)
  age!: number;

  @IsDefined()
  @ValidateNested()
  @Type(() => Address)
  address!: Address;
}

@Workflow({ slug: 'signup', input: SignupInput })
class SignupFlow {
  @Step()
  welcome(input: { run: SignupInput }) {
    return `welcome ${input.run.email} from ${input.run.address.city}`;
  }
}

describe('startRun options: priority, startAt, idempotencyKey, runId, manager, input DTO', () => {
  const { createApp } = useNestApps();

  async function boot(worker: PgflowModuleOptions['worker'] = {}) {
    const app = await createApp({ providers: [Lanes, LowLaneFlow, HighLaneFlow, SignupFlow], worker });
    return { app, client: app.get(PgflowClient), lanes: app.get(Lanes), db: appSql(app) };
  }

  const count = async (app: TestingModule, sql: string, params: unknown[] = []) =>
    (await appSql(app).query<{ n: number }>(`select count(*)::int as n from ${sql}`, params))[0].n;

  it('claims higher-priority tasks first across the runs of every flow; within a priority flows take turns, each oldest first', async () => {
    const { app, client, lanes } = await boot({ autoStart: false, maxConcurrency: 1 });
    const started = [
      await client.startRun(LowLaneFlow, { tag: 'low-0-a' }),
      await client.startRun(HighLaneFlow, { tag: 'high-10' }, { priority: 10 }),
      await client.startRun(LowLaneFlow, { tag: 'low-0-b' }),
      await client.startRun(LowLaneFlow, { tag: 'low-5' }, { priority: 5 }),
      await client.startRun(HighLaneFlow, { tag: 'high-0' }),
      await client.startRun(HighLaneFlow, { tag: 'high-minus' }, { priority: -1 }),
    ];
    await app.get(PgflowWorker).start();
    await Promise.all(started.map((r) => client.waitForRun(r.runId, { timeoutMs: 10_000 })));
    // one task per claim (maxConcurrency 1): at priority 0 the two flows share the claims,
    // so high-0 does not wait behind both of low's runs, while low's older run goes first
    expect(lanes.order.slice(0, 2)).toEqual(['high-10', 'low-5']);
    expect(lanes.order[5]).toBe('high-minus');
    const zero = lanes.order.slice(2, 5);
    expect([...zero].sort()).toEqual(['high-0', 'low-0-a', 'low-0-b']);
    expect(zero.indexOf('low-0-a')).toBeLessThan(zero.indexOf('low-0-b'));
    expect(zero.indexOf('high-0')).toBeLessThan(2);
  });

  it('rejects a priority that is not a 32-bit integer', async () => {
    const { client } = await boot();
    await expect(client.startRun(LowLaneFlow, { tag: 'x' }, { priority: 1.5 })).rejects.toBeInstanceOf(PgflowValidationError);
    await expect(client.startRun(LowLaneFlow, { tag: 'x' }, { priority: 2 ** 31 })).rejects.toThrow(/priority must be an integer/);
  });

  it('keeps a run queued until startAt, then starts it on time within the poll interval', async () => {
    const { client, lanes } = await boot();
    const startAt = new Date(Date.now() + 3000);
    const run = await client.startRun(LowLaneFlow, { tag: 'later' }, { startAt });
    expect(run).toMatchObject({ status: 'queued', startedAt: null });
    expect((await client.getRun(run.runId))?.status).toBe('queued');

    const done = await client.waitForRun(run.runId, { timeoutMs: 10_000 });
    const ranAt = lanes.at.get('later') ?? 0;
    expect(ranAt).toBeGreaterThanOrEqual(startAt.getTime());
    // pollIntervalMs is 200 here: nothing wakes the worker at startAt but its backstop
    // poll (the slack is for a loaded CI machine; an hourly sweep would miss it by far)
    expect(ranAt - startAt.getTime()).toBeLessThan(200 + 1800);
    expect(done.startedAt?.getTime()).toBeGreaterThanOrEqual(startAt.getTime());
    expect(done.output).toEqual({ work: 'later' });

    const past = await client.startRun(LowLaneFlow, { tag: 'past' }, { startAt: new Date(Date.now() - 60_000) });
    expect(['started', 'completed']).toContain(past.status);
    // finished here: left running, the next test's apps (same database) would run it
    await expect(client.waitForRun(past.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({ output: { work: 'past' } });
    await expect(client.startRun(LowLaneFlow, { tag: 'x' }, { startAt: new Date('nope') }))
      .rejects.toThrow('startAt must be a valid Date');
  });

  it('creates one run for 20 concurrent starts with the same idempotencyKey from two apps', async () => {
    const one = await boot();
    const two = await boot();
    const key = `order-${randomUUID()}`;
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? one : two).client.startRun(HighLaneFlow, { tag: 'once' }, { idempotencyKey: key })));
    const ids = new Set(runs.map((r) => r.runId));
    expect(ids.size).toBe(1);
    const [runId] = ids;
    expect(await count(one.app, 'pgflow.runs where idempotency_key = $1', [key])).toBe(1);
    expect(await count(one.app, 'pgflow.step_tasks where run_id = $1', [runId])).toBe(1);
    await expect(one.client.waitForRun(runId, { timeoutMs: 10_000 })).resolves.toMatchObject({ output: { work: 'once@1' } });
    expect([...one.lanes.order, ...two.lanes.order]).toEqual(['once']);

    // a later start with the key returns the finished run; the key is per flow
    await expect(one.client.startRun(HighLaneFlow, { tag: 'again' }, { idempotencyKey: key }))
      .resolves.toMatchObject({ runId, status: 'completed', input: { tag: 'once' } });
    const other = await one.client.startRun(LowLaneFlow, { tag: 'other flow' }, { idempotencyKey: key });
    expect(other.runId).not.toBe(runId);
    await expect(one.client.startRun(LowLaneFlow, {}, { idempotencyKey: '' })).rejects.toBeInstanceOf(PgflowValidationError);
  });

  it('uses a caller-chosen runId and rejects a duplicate one clearly, leaving the first run alone', async () => {
    const { app, client } = await boot();
    const runId = randomUUID();
    const run = await client.startRun(LowLaneFlow, { tag: 'chosen' }, { runId });
    expect(run.runId).toBe(runId);
    await expect(client.waitForRun(runId, { timeoutMs: 10_000 })).resolves.toMatchObject({ output: { work: 'chosen' } });

    const dup = await client.startRun(HighLaneFlow, { tag: 'dup' }, { runId }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(PgflowValidationError);
    expect((dup as Error).message).toBe(`run id ${runId} already exists`);
    expect(await client.getRun(runId)).toMatchObject({ flowSlug: 'low_lane', input: { tag: 'chosen' }, status: 'completed' });
    expect(await count(app, 'pgflow.step_states where run_id = $1', [runId])).toBe(1);
    await expect(client.startRun(LowLaneFlow, {}, { runId: 'run-1' })).rejects.toThrow('invalid run id "run-1": expected a uuid');
  });

  it('enqueues inside the caller\'s transaction: a rollback leaves nothing, not even the idempotency key', async () => {
    const { app, client } = await boot();
    const { dataSource } = app.get(PgflowDatabase);
    const key = `tx-${randomUUID()}`;
    let ghost: string | undefined;
    await expect(dataSource.transaction(async (manager) => {
      ghost = (await client.startRun(LowLaneFlow, { tag: 'ghost' }, { manager, idempotencyKey: key })).runId;
      throw new Error('business rule failed');
    })).rejects.toThrow('business rule failed');
    expect(await count(app, 'pgflow.runs where run_id = $1', [ghost])).toBe(0);
    expect(await count(app, 'pgflow.step_tasks where run_id = $1', [ghost])).toBe(0);

    const committed = await dataSource.transaction((manager) =>
      client.startRun(LowLaneFlow, { tag: 'real' }, { manager, idempotencyKey: key }));
    expect(committed.runId).not.toBe(ghost);
    await expect(client.waitForRun(committed.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
      output: { work: 'real' },
    });
  });

  describe('@Workflow({ input })', () => {
    it('lists every violated constraint, nested ones too, and writes nothing', async () => {
      const { app, client } = await boot();
      const before = await count(app, 'pgflow.runs');
      const err = await client.startRun(SignupFlow, { email: 'nope', age: 12.5, address: { city: '' } })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgflowValidationError);
      expect((err as PgflowValidationError).violations.sort()).toEqual([
        'address.city: city should not be empty',
        'age: age must be an integer number',
        'age: age must not be less than 18',
        'email: email must be an email',
      ]);
      expect((err as Error).message).toMatch(/^input of flow "signup" is invalid: /);
      await expect(client.startRun('signup', { email: 'a@b.io', age: 30 })).rejects.toMatchObject({
        violations: ['address: address should not be null or undefined'],
      });
      await expect(client.startRun('signup', ['not', 'an', 'object'])).rejects.toMatchObject({
        violations: ['input must be an object'],
      });
      // the same check inside a caller's transaction, before anything is written there
      await expect(app.get(PgflowDatabase).dataSource.transaction((manager) =>
        client.startRun(SignupFlow, { email: 'x' }, { manager }))).rejects.toBeInstanceOf(PgflowValidationError);
      expect(await count(app, 'pgflow.runs')).toBe(before);
    });

    it('starts runs whose input satisfies the DTO', async () => {
      const { client } = await boot();
      await expect(client.execute(SignupFlow, { email: 'ada@example.com', age: 36, address: { city: 'London' } },
        { timeoutMs: 10_000 })).resolves.toEqual({ welcome: 'welcome ada@example.com from London' });
    });
  });

  it('promotes and executes each run due at startAt exactly once while two workers poll', async () => {
    const one = await boot();
    const two = await boot();
    const startAt = new Date(Date.now() + 500);
    const runs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      one.client.startRun(LowLaneFlow, { tag: `due-${i}` }, { startAt })));
    await Promise.all(runs.map((r) => one.client.waitForRun(r.runId, { timeoutMs: 10_000 })));
    const executed = [...one.lanes.order, ...two.lanes.order].filter((t) => t.startsWith('due-')).sort();
    expect(executed).toEqual(runs.map((_, i) => `due-${i}`).sort());
  });
});
