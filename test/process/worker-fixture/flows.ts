import { Inject } from '@nestjs/common';
import { existsSync } from 'fs';
import { Step, StepContext, Workflow } from '../../../lib';
import { FANOUT_WIDTH } from './expected';
import { KNOBS, Knobs, KNOBS_TOKEN } from './knobs';
import { ExecutionRecorder } from './recorder';

/** Resolves after `ms`, or rejects when the task's signal aborts (timeout, cancel, shutdown). */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Blocks the whole event loop until `file` exists: the process looks alive to the
 * kernel but does nothing — no heartbeat, no timers, so its step timeout cannot
 * fire either. When it returns, the handler's result reaches the worker's result
 * path as if the handler had just finished, long after its lease expired.
 */
function freezeUntil(file: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(file)) Atomics.wait(cell, 0, 0, 50);
}

/** The 3-step DAG with a 20-element map of the concurrency, outage and soak tests. */
@Workflow({ slug: 'fanout', timeout: 10, maxAttempts: 5, baseDelay: 1 })
export class FanoutFlow {
  constructor(
    private readonly recorder: ExecutionRecorder,
    @Inject(KNOBS_TOKEN) private readonly knobs: Knobs,
  ) {}

  @Step()
  async seed(input: { run: { n: number } }, ctx: StepContext): Promise<number[]> {
    await this.recorder.record(ctx);
    return Array.from({ length: FANOUT_WIDTH }, (_, i) => input.run.n + i);
  }

  @Step({ dependsOn: ['seed'], map: 'seed' })
  async square(x: number, ctx: StepContext): Promise<number> {
    await this.recorder.record(ctx);
    await delay(this.knobs.handlerDelayMs, ctx.signal);
    return x * x;
  }

  @Step({ dependsOn: ['square'] })
  async total(input: { square: number[] }, ctx: StepContext): Promise<number> {
    await this.recorder.record(ctx);
    return input.square.reduce((a, b) => a + b, 0);
  }
}

/** Crash test: `hold` never finishes in a `hang` worker, which the test then kills. */
@Workflow({ slug: 'crashy', timeout: KNOBS.stepTimeout, maxAttempts: 3, baseDelay: 0 })
export class CrashyFlow {
  constructor(
    private readonly recorder: ExecutionRecorder,
    @Inject(KNOBS_TOKEN) private readonly knobs: Knobs,
  ) {}

  @Step({ map: 'run' })
  async hold(x: number, ctx: StepContext): Promise<number> {
    await this.recorder.record(ctx);
    // never resolves and ignores ctx.signal, like a handler stuck on a dead socket
    if (this.knobs.behavior === 'hang') await new Promise<never>(() => undefined);
    return x * 10;
  }

  @Step({ dependsOn: ['hold'] })
  async sum(input: { hold: number[] }, ctx: StepContext): Promise<number> {
    await this.recorder.record(ctx);
    return input.hold.reduce((a, b) => a + b, 0);
  }
}

/** Shutdown test: `nap` takes HANDLER_DELAY_MS and honours its signal. */
@Workflow({ slug: 'sleepy', timeout: 60, maxAttempts: 3, baseDelay: 0 })
export class SleepyFlow {
  constructor(
    private readonly recorder: ExecutionRecorder,
    @Inject(KNOBS_TOKEN) private readonly knobs: Knobs,
  ) {}

  @Step({ map: 'run' })
  async nap(x: number, ctx: StepContext): Promise<number> {
    await this.recorder.record(ctx);
    await delay(this.knobs.handlerDelayMs, ctx.signal);
    return x * 2;
  }

  @Step({ dependsOn: ['nap'] })
  async sum(input: { nap: number[] }, ctx: StepContext): Promise<number> {
    await this.recorder.record(ctx);
    return input.nap.reduce((a, b) => a + b, 0);
  }
}

/**
 * Stale-result test: in a `freeze` worker `slow` stalls past its 1 s timeout and
 * lease, then returns a result naming this worker.
 */
@Workflow({ slug: 'stale', timeout: 1, maxAttempts: 3, baseDelay: 0 })
export class StaleFlow {
  constructor(
    private readonly recorder: ExecutionRecorder,
    @Inject(KNOBS_TOKEN) private readonly knobs: Knobs,
  ) {}

  // Not async on purpose: between the freeze and the return nothing may yield to the
  // event loop, or the overdue timeout timer would abort the attempt first and the
  // stale result would never be reported.
  @Step()
  slow(input: { run: { n: number } }, ctx: StepContext): { value: number; by: string } {
    if (this.knobs.behavior === 'freeze' && this.knobs.releaseFile) {
      freezeUntil(this.knobs.releaseFile);
      process.stdout.write(`STALE-RETURN ${ctx.runId} attempt=${ctx.attempt}\n`);
    }
    this.recorder.record(ctx).catch((err: Error) => process.stderr.write(`recording failed: ${err.message}\n`));
    return { value: 3 * input.run.n, by: this.knobs.workerId };
  }

  @Step({ dependsOn: ['slow'] })
  async after(input: { slow: { value: number } }, ctx: StepContext): Promise<number> {
    await this.recorder.record(ctx);
    return input.slow.value + 1;
  }
}

/**
 * Lease test: `work` has a 600 s timeout and takes HANDLER_DELAY_MS (honouring its
 * signal), far longer than the workers' leaseSeconds; its result names its worker.
 */
@Workflow({ slug: 'long', timeout: 600, maxAttempts: 3, baseDelay: 0 })
export class LongFlow {
  constructor(
    private readonly recorder: ExecutionRecorder,
    @Inject(KNOBS_TOKEN) private readonly knobs: Knobs,
  ) {}

  @Step()
  async work(input: { run: { n: number } }, ctx: StepContext): Promise<{ n: number; by: string }> {
    await this.recorder.record(ctx);
    process.stdout.write(`WORKING ${ctx.runId} attempt=${ctx.attempt}\n`);
    await delay(this.knobs.handlerDelayMs, ctx.signal).catch((err: Error) => {
      process.stdout.write(`WORK-ABORTED ${ctx.runId} ${err.message}\n`);
      throw err;
    });
    return { n: input.run.n, by: this.knobs.workerId };
  }
}

export const FLOWS = [FanoutFlow, CrashyFlow, SleepyFlow, StaleFlow, LongFlow];
