import { Injectable } from '@nestjs/common';
import { PgflowClient, PgflowWorker, Step, StepContext, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

/** Lets a test hold a running handler and see what it saw. */
@Injectable()
class Gate {
  /** false: handlers return at once; 'forever': they ignore everything, even their signal. */
  mode: 'hold' | 'forever' | false = 'hold';
  readonly signals: AbortSignal[] = [];
  private entered!: () => void;
  readonly started = new Promise<void>((resolve) => (this.entered = resolve));
  private open!: (value: string) => void;
  private readonly opened = new Promise<string>((resolve) => (this.open = resolve));

  async pass(ctx: StepContext): Promise<string> {
    this.signals.push(ctx.signal);
    this.entered();
    if (this.mode === 'forever') return new Promise<string>(() => undefined);
    return this.mode === 'hold' ? this.opened : `attempt ${ctx.attempt}`;
  }

  release(value: string): void {
    this.open(value);
  }
}

@Workflow({ slug: 'held' })
class HeldFlow {
  constructor(private readonly gate: Gate) {}

  @Step()
  wait(_: unknown, ctx: StepContext) {
    return this.gate.pass(ctx);
  }
}

/** Settles with 'pending' if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)))])
    .finally(() => clearTimeout(timer));
}

describe('shutdown', () => {
  const { createApp, closeApp, query } = useNestApps();


  const taskOf = (runId: string) => query<{ status: string; attempts_count: number; claimed_by: string | null;
    output: unknown }>('select status, attempts_count, claimed_by, output from pgflow.step_tasks where run_id = $1', [runId]);
  const workerStatus = (workerId: string) =>
    query<{ status: string }>('select status from pgflow.workers where worker_id = $1', [workerId]);

  it('lets a running handler finish during the drain, stores its result and claims nothing new', async () => {
    const app = await createApp({ providers: [Gate, HeldFlow] });
    const gate = app.get(Gate);
    const workerId = app.get(PgflowWorker).workerId;
    const observer = (await createApp({ providers: [HeldFlow, Gate], worker: { enabled: false } })).get(PgflowClient);
    const run = await app.get(PgflowClient).startRun(HeldFlow, {});
    await within(gate.started, 10_000);

    const closing = closeApp(app);
    expect(await within(closing, 300)).toBe('pending');
    // started while draining: must stay queued for some other worker
    const late = await observer.startRun(HeldFlow, {});
    gate.release('finished while draining');
    await closing;

    expect(gate.signals[0].aborted).toBe(false);
    expect(await taskOf(run.runId)).toEqual([
      { status: 'completed', attempts_count: 1, claimed_by: workerId, output: 'finished while draining' },
    ]);
    await expect(observer.getRun(run.runId)).resolves.toMatchObject({
      status: 'completed', output: { wait: 'finished while draining' },
    });
    expect(await taskOf(late.runId)).toEqual([{ status: 'queued', attempts_count: 0, claimed_by: null, output: null }]);
    expect(await workerStatus(workerId)).toEqual([{ status: 'stopped' }]);
    // the next test's worker must find only its own run in the queue
    await observer.cancelRun(late.runId);
  });

  it('releases a handler that outlives shutdownTimeoutMs, uncounted, and another worker redoes it', async () => {
    const app = await createApp({ providers: [Gate, HeldFlow], worker: { shutdownTimeoutMs: 300 } });
    const gate = app.get(Gate);
    gate.mode = 'forever';
    const workerId = app.get(PgflowWorker).workerId;
    const run = await app.get(PgflowClient).startRun(HeldFlow, {});
    await within(gate.started, 10_000);
    expect(await taskOf(run.runId)).toMatchObject([{ status: 'started', attempts_count: 1, claimed_by: workerId }]);

    const started = Date.now();
    await closeApp(app);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(gate.signals[0].aborted).toBe(true);
    expect((gate.signals[0].reason as Error).message).toBe('worker is shutting down');
    expect(await taskOf(run.runId)).toEqual([{ status: 'queued', attempts_count: 0, claimed_by: null, output: null }]);
    expect(await workerStatus(workerId)).toEqual([{ status: 'stopped' }]);

    const passThrough = { provide: Gate, useFactory: () => Object.assign(new Gate(), { mode: false }) };
    const next = await createApp({ providers: [passThrough, HeldFlow] });
    await expect(next.get(PgflowClient).waitForRun(run.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({
      status: 'completed', output: { wait: 'attempt 1' },
    });
  });
});
