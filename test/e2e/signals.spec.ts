import { Injectable } from '@nestjs/common';
import { TestingModule } from '@nestjs/testing';
import { lastValueFrom, toArray } from 'rxjs';
import { DataSource } from 'typeorm';
import {
  FlowBuilder, PgflowClient, PgflowDefinitionError, PgflowRunCancelledError, PgflowRunFailedError,
  PgflowRunStateError, PgflowUnknownRunError, PgflowValidationError, RunEvent, Step, StepContext, Workflow,
} from '../../lib';
import { PgflowDatabase } from '../../lib/db/pgflow.database';
import { appSql, eventually, useNestApps } from '../support/nest-harness';

/** What the handlers saw, and a gate the tests open. */
@Injectable()
class Probe {
  readonly inputs: Array<{ step: string; input: unknown; at: number }> = [];
  readonly aborts: Array<{ runId: string; reason: string }> = [];
  gate: Promise<void> = Promise.resolve();
  seen(step: string) {
    return this.inputs.filter((i) => i.step === step);
  }
}

interface Order { id: number }

@Workflow({ slug: 'order' })
class OrderFlow {
  constructor(private readonly probe: Probe) {}

  @Step()
  async ship(input: { run: Order }) {
    await this.probe.gate;
    return { tracking: `T${input.run.id}` };
  }

  @Step({ dependsOn: ['ship'], signal: 'delivered', signalTimeout: 3 * 86_400, whenExhausted: 'skip' })
  delivered(input: { run: Order; ship: { tracking: string }; signal: { at: string } }) {
    this.probe.inputs.push({ step: 'delivered', input, at: Date.now() });
    return input.signal;
  }
}

function timeoutFlow(slug: string, whenExhausted: 'fail' | 'skip' | 'skip-cascade', signalTimeout = 1) {
  @Workflow({ slug })
  class TimeoutFlow {
    @Step({ signal: 'answer', signalTimeout, whenExhausted })
    ask(input: { signal: unknown }) {
      return input.signal;
    }

    @Step({ dependsOn: ['ask'] })
    after(input: { ask?: unknown }) {
      return { got: input.ask ?? 'nothing' };
    }
  }
  return TimeoutFlow;
}

@Workflow({ slug: 'fan_sig' })
class FanFlow {
  @Step({ map: 'run', signal: 'go' })
  each(input: { item: number; signal: { factor: number } }, ctx: StepContext) {
    return { i: ctx.taskIndex, v: input.item * input.signal.factor };
  }
}

@Workflow({ slug: 'deadline', runTimeout: 2, maxAttempts: 1 })
class DeadlineFlow {
  constructor(private readonly probe: Probe) {}

  @Step()
  async slow(_input: unknown, ctx: StepContext) {
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.probe.aborts.push({ runId: ctx.runId, reason: (ctx.signal.reason as Error).message });
    return 'late';
  }

  @Step({ dependsOn: ['slow'] })
  next() {
    return 1;
  }
}

// The README's example (Signals): an order waits for the carrier's delivery webhook,
// else it is refunded; here with a 1 s window instead of 3 days.
interface Delivery { at: string; signedBy: string }
@Injectable()
class Payments {
  readonly refunds: number[] = [];
}
@Workflow({ slug: 'order_delivery', runTimeout: 60 })
class OrderDeliveryWorkflow {
  constructor(private readonly payments: Payments) {}

  @Step()
  ship(input: { run: Order }) {
    return { trackingNo: `T${input.run.id}` };
  }

  @Step({ dependsOn: ['ship'], signal: 'delivered', signalTimeout: 1, whenExhausted: 'skip' })
  delivered(input: { run: Order; ship: { trackingNo: string }; signal: Delivery }) {
    return input.signal;
  }

  @Step({ dependsOn: ['delivered'], if: { delivered: {} } })
  confirm(input: { run: Order; delivered: Delivery }) {
    return `order ${input.run.id} delivered at ${input.delivered.at}`;
  }

  @Step({ dependsOn: ['delivered'], ifNot: { delivered: {} } })
  refund(input: { run: Order }) {
    this.payments.refunds.push(input.run.id);
    return `order ${input.run.id} refunded`;
  }
}

const FLOWS = [Payments, OrderDeliveryWorkflow, OrderFlow, timeoutFlow('to_fail', 'fail'), timeoutFlow('to_skip', 'skip'),
  timeoutFlow('to_cascade', 'skip-cascade'), timeoutFlow('to_retry', 'fail', 3), FanFlow, DeadlineFlow];

describe('signal steps (Nest apps)', () => {
  const { createApp, query } = useNestApps();

  async function app(worker: Record<string, unknown> = {}): Promise<{ app: TestingModule; client: PgflowClient; probe: Probe }> {
    const a = await createApp({ providers: [Probe, ...FLOWS], worker });
    return { app: a, client: a.get(PgflowClient), probe: a.get(Probe) };
  }
  const stepStatus = async (client: PgflowClient, runId: string, step: string) =>
    (await client.getRun(runId))?.steps.find((s) => s.stepSlug === step)?.status;
  const counts = async () => (await query<{ signals: number; tasks: number; waiting: number }>(
    `select (select count(*)::int from pgflow.signals) as signals, (select count(*)::int from pgflow.step_tasks) as tasks,
            (select count(*)::int from pgflow.step_states where status = 'waiting') as waiting`))[0];

  it('waits (getRun, listRuns and watchRun show waiting), then a signal released through NOTIFY runs the handler', async () => {
    // a 60 s poll: only NOTIFY can bring the released task to the worker in time
    const { client, probe } = await app({ pollIntervalMs: 60_000 });
    const run = await client.startRun(OrderFlow, { id: 7 });
    const events: RunEvent[] = [];
    const watched = lastValueFrom(client.watchRun(run.runId).pipe(toArray())).then((e) => events.push(...e));
    await eventually(async () => (await stepStatus(client, run.runId, 'delivered')) === 'waiting', 15_000, 'waiting');
    const listed = await client.listRuns({ flowSlug: 'order' });
    expect(listed.find((r) => r.runId === run.runId)?.steps.map((s) => s.status)).toEqual(['completed', 'waiting']);
    expect(await query('select count(*)::int as n from pgflow.step_tasks where run_id = $1 and step_slug = $2',
      [run.runId, 'delivered'])).toEqual([{ n: 0 }]);

    const sentAt = Date.now();
    const sent = await client.signal(run.runId, 'delivered', { at: '2026-12-01' });
    expect(sent).toEqual({ signalId: expect.stringMatching(/^[0-9a-f-]{36}$/), created: true });
    const done = await client.waitForRun(run.runId, { timeoutMs: 15_000 });
    expect(done.output).toEqual({ delivered: { at: '2026-12-01' } });
    expect(probe.seen('delivered')[0].input).toEqual({ run: { id: 7 }, ship: { tracking: 'T7' }, signal: { at: '2026-12-01' } });
    expect(probe.seen('delivered')[0].at - sentAt).toBeLessThan(5_000);
    await watched;
    const delivered = events.filter((e) => e.type === 'step' && e.stepSlug === 'delivered').map((e) => (e.type === 'step' ? e.status : e.type));
    expect(delivered).toContain('waiting');
    expect(delivered[delivered.length - 1]).toBe('completed');
  });

  it('a signal sent before the step is ready is buffered; a duplicate id is stored once', async () => {
    const { client, probe } = await app();
    let open!: () => void;
    probe.gate = new Promise<void>((resolve) => (open = resolve));
    const run = await client.startRun(OrderFlow, { id: 8 });
    const first = await client.signal(run.runId, 'delivered', { at: 'early' }, { id: 'carrier-evt-1' });
    const again = await client.signal(run.runId, 'delivered', { at: 'again' }, { id: 'carrier-evt-1' });
    expect(first).toEqual({ signalId: 'carrier-evt-1', created: true });
    expect(again).toEqual({ signalId: 'carrier-evt-1', created: false });
    expect(await stepStatus(client, run.runId, 'delivered')).toBe('created');
    open();
    await expect(client.waitForRun(run.runId, { timeoutMs: 15_000 }))
      .resolves.toMatchObject({ status: 'completed', output: { delivered: { at: 'early' } } });
    expect(await query('select signal_id, consumed_by from pgflow.signals where run_id = $1', [run.runId]))
      .toEqual([{ signal_id: 'carrier-evt-1', consumed_by: 'delivered' }]);
  });

  describe('signalTimeout', () => {
    it("fail: the run fails with \"signal 'answer' not received within 1 s\"", async () => {
      const { client } = await app();
      const run = await client.startRun('to_fail', {});
      const err = await client.waitForRun(run.runId, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgflowRunFailedError);
      expect((err as PgflowRunFailedError).error).toEqual({ stepSlug: 'ask', taskIndex: 0,
        message: "signal 'answer' not received within 1 s" });
      expect((await client.getRun(run.runId))?.steps.map((s) => [s.stepSlug, s.status]))
        .toEqual([['ask', 'failed'], ['after', 'cancelled']]);
    });

    it("skip: the step is 'skipped' and its dependent runs without it", async () => {
      const { client } = await app();
      const run = await client.startRun('to_skip', {});
      const done = await client.waitForRun(run.runId, { timeoutMs: 20_000 });
      expect(done.output).toEqual({ after: { got: 'nothing' } });
      expect(done.steps[0]).toMatchObject({ stepSlug: 'ask', status: 'skipped', error: "signal 'answer' not received within 1 s" });
    });

    it('skip-cascade: the dependents are skipped too', async () => {
      const { client } = await app();
      const run = await client.startRun('to_cascade', {});
      const done = await client.waitForRun(run.runId, { timeoutMs: 20_000 });
      expect(done.steps.map((s) => s.status)).toEqual(['skipped', 'skipped']);
      expect(done.output).toEqual({});
    });

    it('retryRun after a timed-out wait opens the wait again; a signal then completes the run', async () => {
      const { client } = await app();
      // 3 s: the signal below must arrive within the fresh timeout on a loaded machine
      const run = await client.startRun('to_retry', {});
      await expect(client.waitForRun(run.runId, { timeoutMs: 20_000 })).rejects.toThrow("signal 'answer' not received within 3 s");
      const resumed = await client.retryRun(run.runId);
      expect(resumed.steps[0]).toMatchObject({ stepSlug: 'ask', status: 'waiting' });
      await client.signal(run.runId, 'answer', 42);
      await expect(client.waitForRun(run.runId, { timeoutMs: 15_000 }))
        .resolves.toMatchObject({ status: 'completed', output: { after: { got: 42 } } });
    });
  });

  it('cancelRun cancels a waiting step', async () => {
    const { client } = await app();
    const run = await client.startRun(OrderFlow, { id: 9 });
    await eventually(async () => (await stepStatus(client, run.runId, 'delivered')) === 'waiting', 15_000, 'waiting');
    await client.cancelRun(run.runId);
    await expect(client.waitForRun(run.runId, { timeoutMs: 5_000 })).rejects.toBeInstanceOf(PgflowRunCancelledError);
    expect((await client.getRun(run.runId))?.steps.map((s) => s.status)).toEqual(['completed', 'cancelled']);
  });

  it('all tasks of a map step get the payload of the one signal', async () => {
    const { client } = await app();
    const run = await client.startRun('fan_sig', [1, 2, 3]);
    await eventually(async () => (await stepStatus(client, run.runId, 'each')) === 'waiting', 15_000, 'waiting');
    await client.signal(run.runId, 'go', { factor: 10 });
    await expect(client.waitForRun(run.runId, { timeoutMs: 15_000 })).resolves.toMatchObject({
      output: { each: [{ i: 0, v: 10 }, { i: 1, v: 20 }, { i: 2, v: 30 }] },
    });
  });

  it('with manager: a committed transaction releases the wait, a rolled-back one leaves nothing', async () => {
    const { app: a, client } = await app();
    const { dataSource } = a.get(PgflowDatabase);
    const run = await client.startRun(OrderFlow, { id: 10 });
    await eventually(async () => (await stepStatus(client, run.runId, 'delivered')) === 'waiting', 15_000, 'waiting');

    await dataSource.query('create table if not exists webhook_log (id text primary key)');
    await expect(dataSource.transaction(async (manager) => {
      await manager.query(`insert into webhook_log values ('rolled')`);
      await client.signal(run.runId, 'delivered', { at: 'never' }, { manager });
      // inside the transaction the step is already released
      const [s] = await manager.query(`select status from pgflow.step_states where run_id = $1 and step_slug = 'delivered'`,
        [run.runId]);
      expect(s.status).toBe('started');
      throw new Error('webhook handler failed');
    })).rejects.toThrow('webhook handler failed');
    expect(await stepStatus(client, run.runId, 'delivered')).toBe('waiting');
    expect(await query('select count(*)::int as n from pgflow.signals where run_id = $1', [run.runId])).toEqual([{ n: 0 }]);

    await (dataSource as DataSource).transaction(async (manager) => {
      await manager.query(`insert into webhook_log values ('committed')`);
      await client.signal(run.runId, 'delivered', { at: 'tx' }, { manager });
    });
    await expect(client.waitForRun(run.runId, { timeoutMs: 15_000 }))
      .resolves.toMatchObject({ output: { delivered: { at: 'tx' } } });
    expect(await query('select id from webhook_log')).toEqual([{ id: 'committed' }]);
  });

  it('bad input is refused with typed errors and leaves the tables unchanged', async () => {
    const { client } = await app();
    const live = await client.startRun(OrderFlow, { id: 11 });
    await eventually(async () => (await stepStatus(client, live.runId, 'delivered')) === 'waiting', 15_000, 'waiting');
    const finished = await client.startRun(OrderFlow, { id: 12 });
    await client.cancelRun(finished.runId);
    const before = await counts();

    await expect(client.signal('6f1c1f9e-0000-4000-8000-000000000000', 'delivered')).rejects.toBeInstanceOf(PgflowUnknownRunError);
    await expect(client.signal('not-a-uuid', 'delivered')).rejects.toBeInstanceOf(PgflowValidationError);
    const unknown = await client.signal(live.runId, 'shipped').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(PgflowValidationError);
    expect((unknown as Error).message).toContain('no step of flow "order" waits on signal "shipped"');
    const state = await client.signal(finished.runId, 'delivered').catch((e: unknown) => e);
    expect(state).toBeInstanceOf(PgflowRunStateError);
    expect(state).toMatchObject({ runId: finished.runId, status: 'cancelled' });
    await expect(client.signal(live.runId, 'delivered', { n: BigInt(1) })).rejects.toThrow(/not JSON: BigInt/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(client.signal(live.runId, 'delivered', cyclic)).rejects.toBeInstanceOf(PgflowValidationError);
    await expect(client.signal(live.runId, 'delivered', 'x'.repeat(17 * 1024 * 1024)))
      .rejects.toThrow(/over the \d+-byte limit/);
    await expect(client.signal(live.runId, 'delivered', 'bad\u0000')).rejects.toThrow(/NUL/);
    await expect(client.signal(live.runId, '')).rejects.toBeInstanceOf(PgflowValidationError);
    await expect(client.signal(live.runId, 'delivered', 1, { id: '' })).rejects.toBeInstanceOf(PgflowValidationError);

    expect(await counts()).toEqual(before);
    expect(await stepStatus(client, live.runId, 'delivered')).toBe('waiting');
  });

  it('runTimeout fails the run with "run timed out after 2 s", cancels its steps and aborts the running handler', async () => {
    const { client, probe } = await app();
    const run = await client.startRun('deadline', {});
    const err = await client.waitForRun(run.runId, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgflowRunFailedError);
    expect((err as PgflowRunFailedError).error).toEqual({ stepSlug: 'slow', taskIndex: 0, message: 'run timed out after 2 s' });
    const after = await client.getRun(run.runId);
    expect(after?.steps.map((s) => s.status)).toEqual(['cancelled', 'cancelled']);
    await eventually(async () => probe.aborts.find((x) => x.runId === run.runId), 10_000, 'the handler to abort');
    const started = after!.startedAt!.getTime();
    expect(after!.failedAt!.getTime() - started).toBeGreaterThanOrEqual(2_000);
  });

  it('the README example: delivered in time → confirmed; no webhook → refunded', async () => {
    const { app: a, client } = await app();
    const kept = await client.startRun(OrderDeliveryWorkflow, { id: 1 });
    await eventually(async () => (await stepStatus(client, kept.runId, 'delivered')) === 'waiting', 15_000, 'waiting');
    await client.signal(kept.runId, 'delivered', { at: '2026-12-03T10:00Z', signedBy: 'J. Doe' }, { id: 'evt_1' });
    await expect(client.waitForRun(kept.runId, { timeoutMs: 15_000 })).resolves.toMatchObject({
      output: { confirm: 'order 1 delivered at 2026-12-03T10:00Z' },
    });
    const lost = await client.startRun(OrderDeliveryWorkflow, { id: 2 });
    const done = await client.waitForRun(lost.runId, { timeoutMs: 20_000 });
    expect(done.output).toEqual({ refund: 'order 2 refunded' });
    expect(done.steps.map((x) => [x.stepSlug, x.status])).toEqual([
      ['ship', 'completed'], ['delivered', 'skipped'], ['confirm', 'skipped'], ['refund', 'completed'],
    ]);
    expect(a.get(Payments).refunds).toEqual([2]);
  });

  it('FlowBuilder.addStep accepts signal and signalTimeout', async () => {
    const { app: a, client } = await app();
    const builder = a.get(FlowBuilder);
    await builder.createFlow('dyn_sig', { runTimeout: 600 });
    await builder.addStep('dyn_sig', 'hold', [], { signal: 'release', signalTimeout: 300 });
    builder.registerHandlers('dyn_sig', { hold: (input: { signal: string }) => `got ${input.signal}` });
    expect(await appSql(a).query(`select signal_name, opt_signal_timeout from pgflow.steps where flow_slug = 'dyn_sig'`))
      .toEqual([{ signal_name: 'release', opt_signal_timeout: 300 }]);
    const run = await client.startRun('dyn_sig', {});
    await eventually(async () => (await stepStatus(client, run.runId, 'hold')) === 'waiting', 15_000, 'waiting');
    await client.signal(run.runId, 'release', 'it');
    await expect(client.waitForRun(run.runId, { timeoutMs: 15_000 })).resolves.toMatchObject({ output: { hold: 'got it' } });
    await expect(builder.addStep('dyn_sig', 'other', [], { signal: 'release' })).rejects.toBeInstanceOf(PgflowDefinitionError);
    await expect(builder.addStep('dyn_sig', 'signal', [])).rejects.toThrow(/reserved/);
    await expect(builder.addStep('dyn_sig', 'neg', [], { signal: 'x', signalTimeout: 0 })).rejects.toThrow(/signalTimeout must be an integer >= 1/);
  });
});

describe('signal steps: boot errors', () => {
  const { createApp } = useNestApps();

  @Workflow({ slug: 'two_waits' })
  class TwoWaits {
    @Step({ signal: 'approved' })
    a() {}

    @Step({ signal: 'approved' })
    b() {}
  }

  @Workflow({ slug: 'bad_signal_timeout' })
  class BadSignalTimeout {
    @Step({ signal: 'approved', signalTimeout: 0 })
    a() {}
  }

  @Workflow({ slug: 'slug_signal' })
  class SlugSignal {
    @Step({ slug: 'signal' })
    a() {}
  }

  @Workflow({ slug: 'bad_run_timeout', runTimeout: 1.5 })
  class BadRunTimeout {
    @Step()
    a() {}
  }

  it.each([
    [TwoWaits, 'workflow "two_waits" step "b": signal "approved" is already waited on by step "a"'],
    [BadSignalTimeout, 'workflow "bad_signal_timeout" step "a": signalTimeout must be an integer >= 1 (got 0)'],
    [SlugSignal, 'workflow "slug_signal" step "signal": slug "signal" is reserved for the signal payload'],
    [BadRunTimeout, 'workflow "bad_run_timeout": runTimeout must be an integer >= 1 (got 1.5)'],
  ] as const)('%p fails the boot', async (flow, message) => {
    const err = await createApp({ providers: [flow] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    expect((err as Error).message).toContain(message);
  });
});
