import { Injectable } from '@nestjs/common';
import {
  CompensationContext, PgflowClient, PgflowDefinitionError, PgflowRunCancelledError, PgflowRunFailedError, Step,
  StepContext, Workflow,
} from '../../lib';
import { eventually, useNestApps } from '../support/nest-harness';

interface Call { step: string; output: unknown; taskIndex: number; reason: string; attempt: number; start: number; end: number }

/** Compensation calls as the methods recorded them (timestamps taken by the handlers). */
@Injectable()
class Ledger {
  readonly calls: Call[] = [];
  /** Compensations of these steps throw while the count is above zero. */
  readonly failures = new Map<string, number>();
  readonly started = new Set<string>();

  async record(step: string, output: unknown, ctx: CompensationContext, during?: () => Promise<unknown>): Promise<void> {
    const start = Date.now();
    this.started.add(step);
    const left = this.failures.get(step) ?? 0;
    if (left > 0) {
      this.failures.set(step, left - 1);
      throw new Error(`refund of ${step} refused`);
    }
    await during?.();
    this.calls.push({ step, output, taskIndex: ctx.taskIndex, reason: ctx.reason, attempt: ctx.attempt, start,
      end: Date.now() });
  }

  of(step: string): Call[] {
    return this.calls.filter((c) => c.step === step);
  }
}

/** a → (b, c) → d → boom: boom fails, so d, then b and c (in parallel), then a are undone. */
@Workflow({ slug: 'diamond', maxAttempts: 1 })
class DiamondFlow {
  constructor(private readonly ledger: Ledger) {}

  @Step({ compensate: 'undoA' })
  a() { return 'A'; }

  @Step({ dependsOn: ['a'], compensate: 'undoB' })
  b() { return 'B'; }

  @Step({ dependsOn: ['a'], compensate: 'undoC' })
  c() { return 'C'; }

  @Step({ dependsOn: ['b', 'c'], compensate: 'undoD' })
  d() { return 'D'; }

  @Step({ dependsOn: ['d'] })
  boom(): never { throw new Error('payment declined'); }

  undoA(output: unknown, ctx: CompensationContext) { return this.ledger.record('a', output, ctx); }
  // b and c each wait until the other started: they can only both finish if they run at the same time
  undoB(output: unknown, ctx: CompensationContext) {
    return this.ledger.record('b', output, ctx, () => eventually(async () => this.ledger.started.has('c'), 10_000, 'c started'));
  }
  undoC(output: unknown, ctx: CompensationContext) {
    return this.ledger.record('c', output, ctx, () => eventually(async () => this.ledger.started.has('b'), 10_000, 'b started'));
  }
  undoD(output: unknown, ctx: CompensationContext) { return this.ledger.record('d', output, ctx); }
}

@Workflow({ slug: 'charges', maxAttempts: 1 })
class ChargesFlow {
  constructor(private readonly ledger: Ledger) {}

  @Step({ map: 'run', compensate: 'refund', maxAttempts: 3, baseDelay: 0 })
  charge(amount: number, ctx: StepContext) { return { charged: amount, index: ctx.taskIndex }; }

  @Step({ dependsOn: ['charge'] })
  ship(): never { throw new Error('no courier'); }

  refund(output: unknown, ctx: CompensationContext) { return this.ledger.record('charge', output, ctx); }
}

@Workflow({ slug: 'holding' })
class HoldingFlow {
  constructor(private readonly ledger: Ledger) {}

  @Step({ compensate: 'release' })
  reserve() { return { seat: 7 }; }

  @Step({ dependsOn: ['reserve'] })
  async wait(_input: unknown, ctx: StepContext) {
    await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
    return null;
  }

  release(output: unknown, ctx: CompensationContext) { return this.ledger.record('reserve', output, ctx); }
}

@Workflow({ slug: 'no_method' })
class MissingMethodFlow {
  @Step({ compensate: 'undo' })
  go() { return 1; }
}

describe('compensation', () => {
  const { createApp, query } = useNestApps();

  async function boot() {
    const app = await createApp({ providers: [Ledger, DiamondFlow, ChargesFlow, HoldingFlow] });
    return { client: app.get(PgflowClient), ledger: app.get(Ledger) };
  }

  it('undoes completed steps in reverse dependency order, independent branches in parallel, before the run fails', async () => {
    const { client, ledger } = await boot();
    const run = await client.startRun(DiamondFlow, {});
    const err = await client.waitForRun(run.runId, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    // waitForRun settled only once every compensation was done
    expect(err).toBeInstanceOf(PgflowRunFailedError);
    expect(ledger.calls.map((c) => c.step).sort()).toEqual(['a', 'b', 'c', 'd']);

    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((s) => ledger.of(s)[0]);
    expect(d.end).toBeLessThanOrEqual(b.start);
    expect(d.end).toBeLessThanOrEqual(c.start);
    expect(Math.max(b.end, c.end)).toBeLessThanOrEqual(a.start);
    expect(ledger.calls.map((x) => [x.step, x.output, x.reason])).toEqual(expect.arrayContaining([
      ['a', 'A', 'failed'], ['b', 'B', 'failed'], ['c', 'C', 'failed'], ['d', 'D', 'failed'],
    ]));
    const failed = await client.getRun(run.runId);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toEqual({ stepSlug: 'boom', taskIndex: 0, message: 'payment declined' });
  });

  it('is compensating meanwhile: not a final status for waitForRun', async () => {
    const { client, ledger } = await boot();
    let unblock!: () => void;
    const gate = new Promise<void>((resolve) => (unblock = resolve));
    // hold d's compensation until the test saw the run compensating
    const original = DiamondFlow.prototype.undoD;
    DiamondFlow.prototype.undoD = async function (this: DiamondFlow, output: unknown, ctx: CompensationContext) {
      await gate;
      return original.call(this, output, ctx);
    };
    try {
      const run = await client.startRun(DiamondFlow, {});
      let settled = false;
      const waiting = client.waitForRun(run.runId, { timeoutMs: 30_000 }).catch((e: unknown) => e)
        .finally(() => (settled = true));
      await eventually(async () => (await client.getRun(run.runId))?.status === 'compensating', 10_000, 'compensating');
      await eventually(async () => ledger.started.size === 0 && (await query<{ n: number }>(
        `select count(*)::int n from pgflow.step_tasks where run_id = $1 and compensation = 'running' and status = 'started'`,
        [run.runId]))[0].n === 1, 10_000, 'd\'s compensation running');
      expect(settled).toBe(false);
      unblock();
      expect(await waiting).toBeInstanceOf(PgflowRunFailedError);
      expect((await client.getRun(run.runId))?.status).toBe('failed');
    } finally {
      DiamondFlow.prototype.undoD = original;
    }
  });

  it('compensates each completed task of a map step once, with its output and ctx.taskIndex, retrying', async () => {
    const { client, ledger } = await boot();
    ledger.failures.set('charge', 2); // two attempts fail, the step's maxAttempts (3) lets the third succeed
    const run = await client.startRun(ChargesFlow, [10, 20, 30]);
    await expect(client.waitForRun(run.runId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(PgflowRunFailedError);
    const calls = ledger.of('charge').sort((x, y) => x.taskIndex - y.taskIndex);
    expect(calls.map((c) => [c.taskIndex, c.output])).toEqual([
      [0, { charged: 10, index: 0 }], [1, { charged: 20, index: 1 }], [2, { charged: 30, index: 2 }],
    ]);
    expect(Math.max(...calls.map((c) => c.attempt))).toBeGreaterThan(1);
    const rows = await query<{ compensation: string }>(
      `select compensation from pgflow.step_tasks where run_id = $1 and step_slug = 'charge'`, [run.runId]);
    expect(rows.map((r) => r.compensation)).toEqual(['done', 'done', 'done']);
  });

  it('leaves compensation_failed when a compensation exhausts its attempts, and retryRun finishes them', async () => {
    const { client, ledger } = await boot();
    ledger.failures.set('charge', 100);
    const run = await client.startRun(ChargesFlow, [5]);
    const err = await client.waitForRun(run.runId, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgflowRunFailedError);
    const stuck = await client.getRun(run.runId);
    expect(stuck?.status).toBe('compensation_failed');
    expect(stuck?.error).toEqual({
      stepSlug: 'charge', taskIndex: 0, message: 'compensation of step "charge" failed: refund of charge refused',
      cause: { stepSlug: 'ship', taskIndex: 0, message: 'no courier' },
    });
    expect(ledger.of('charge')).toEqual([]);

    ledger.failures.clear();
    const resumed = await client.retryRun(run.runId);
    expect(['compensating', 'failed']).toContain(resumed.status);
    await expect(client.waitForRun(run.runId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(PgflowRunFailedError);
    const done = await client.getRun(run.runId);
    expect(done?.status).toBe('failed');
    expect(done?.error).toEqual({ stepSlug: 'ship', taskIndex: 0, message: 'no courier' });
    expect(ledger.of('charge').map((c) => c.output)).toEqual([{ charged: 5, index: 0 }]);
  });

  it('compensates a cancelled run (reason cancelled), unless cancelRun says compensate: false', async () => {
    const { client, ledger } = await boot();
    const run = await client.startRun(HoldingFlow, {});
    await eventually(async () => (await client.getRun(run.runId))?.steps.find((s) => s.stepSlug === 'reserve')?.status
      === 'completed', 10_000, 'reserve completed');
    await client.cancelRun(run.runId);
    await expect(client.waitForRun(run.runId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(PgflowRunCancelledError);
    expect(ledger.of('reserve').map((c) => [c.output, c.reason])).toEqual([[{ seat: 7 }, 'cancelled']]);
    expect((await client.getRun(run.runId))?.status).toBe('cancelled');

    const other = await client.startRun(HoldingFlow, {});
    await eventually(async () => (await client.getRun(other.runId))?.steps.find((s) => s.stepSlug === 'reserve')?.status
      === 'completed', 10_000, 'reserve completed');
    await client.cancelRun(other.runId, { compensate: false });
    expect((await client.getRun(other.runId))?.status).toBe('cancelled');
    const rows = await query<{ compensation: string | null }>(
      `select compensation from pgflow.step_tasks where run_id = $1`, [other.runId]);
    expect(rows.every((r) => r.compensation === null)).toBe(true);
    expect(ledger.of('reserve')).toHaveLength(1);
  });

  it('fails the boot when a compensate method does not exist', async () => {
    const err = await createApp({ providers: [MissingMethodFlow] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    expect((err as Error).message)
      .toBe('workflow "no_method" step "go": compensate method "undo" does not exist on MissingMethodFlow');
  });
});
