import { Injectable } from '@nestjs/common';
import { firstValueFrom, lastValueFrom, Observable, filter, toArray } from 'rxjs';
import {
  PgflowClient, PgflowUnknownRunError, PgflowValidationError, RunEvent, Step, StepContext, Workflow,
} from '../../lib';
import { useNestApps } from '../support/nest-harness';

/** Lets a test hold the `square` step of a chosen run until it says go. */
@Injectable()
class Hold {
  // several tasks (a map step's) may wait on one key before it opens
  private gates = new Map<number, Array<() => void>>();
  private readonly opened = new Set<number>();

  wait(n: number): Promise<void> {
    if (this.opened.has(n)) return Promise.resolve();
    return new Promise((resolve) => this.gates.set(n, [...(this.gates.get(n) ?? []), resolve]));
  }

  open(n: number): void {
    this.opened.add(n);
    for (const release of this.gates.get(n) ?? []) release();
    this.gates.delete(n);
  }
}

@Workflow({ slug: 'watched', maxAttempts: 1 })
class WatchedFlow {
  constructor(private readonly hold: Hold) {}

  @Step()
  async seed(input: { run: { n: number; holdSeed?: boolean } }) {
    if (input.run.holdSeed) await this.hold.wait(-input.run.n);
    return [input.run.n, input.run.n + 1];
  }

  @Step({ dependsOn: ['seed'], map: 'seed' })
  async square(x: number, ctx: StepContext) {
    const run = ctx.runInput as { n: number; hold?: boolean; fail?: boolean };
    if (run.hold) await this.hold.wait(run.n);
    if (run.fail) throw new Error(`square ${x} failed`);
    return x * x;
  }

  @Step({ dependsOn: ['square'] })
  sum(input: { square: number[] }) {
    return input.square.reduce((a, b) => a + b, 0);
  }
}

const ORDER = ['created', 'started', 'completed', 'failed', 'skipped', 'cancelled'];

/** Statuses per step and for the run, in arrival order. */
function byTarget(events: RunEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) if (e.type !== 'progress') (out[e.type === 'run' ? 'run' : e.stepSlug] ??= []).push(e.status);
  return out;
}

describe('watchRun', () => {
  const { createApp } = useNestApps();

  /**
   * A worker app and a client-only watcher whose poll interval is a minute: whatever
   * the watcher sees within a test's seconds came through NOTIFY.
   */
  async function boot() {
    const worker = await createApp({ providers: [Hold, WatchedFlow] });
    const watcher = await createApp({ worker: { enabled: false, pollIntervalMs: 60_000 } });
    return { client: worker.get(PgflowClient), hold: worker.get(Hold), watch: watcher.get(PgflowClient) };
  }

  const all = (events$: Observable<RunEvent>) => lastValueFrom(events$.pipe(toArray()));

  it('emits the run as it is, then every change in order, and completes after the run\'s final event', async () => {
    const { client, hold, watch } = await boot();
    const run = await client.startRun(WatchedFlow, { n: 2, hold: true });
    const events$ = watch.watchRun(run.runId);
    const collected = all(events$);
    // the held map step is reported started before it finishes
    const started = await firstValueFrom(events$.pipe(filter((e) => e.type === 'step' && e.stepSlug === 'square'
      && e.status === 'started')));
    expect(started).toMatchObject({ runId: run.runId, step: { stepSlug: 'square', totalTasks: 2 } });
    const released = Date.now();
    hold.open(2);
    const events = await collected;
    expect(Date.now() - released).toBeLessThan(2000);

    const seen = byTarget(events);
    expect(Object.keys(seen).sort()).toEqual(['run', 'seed', 'square', 'sum']);
    for (const statuses of Object.values(seen)) {
      expect(statuses.at(-1)).toBe('completed');
      const ranks = statuses.map((s) => ORDER.indexOf(s));
      expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
      expect(new Set(statuses).size).toBe(statuses.length);
    }
    expect(seen.square).toContain('started');
    const last = events.at(-1);
    expect(last).toMatchObject({ type: 'run', status: 'completed', run: { output: { sum: 4 + 9 } } });
    expect(events.filter((e) => e.type === 'run' && e.status === 'completed')).toHaveLength(1);
  });

  it('misses no change between subscribing and the first notification (20 fast runs watched at once)', async () => {
    const { client, watch } = await boot();
    const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => client.startRun(WatchedFlow, { n: i })));
    const finals = await Promise.all(runs.map(async (r) => (await all(watch.watchRun(r.runId))).at(-1)));
    expect(finals.map((e) => e?.type === 'run' && e.status)).toEqual(runs.map(() => 'completed'));
  });

  it('reports a scheduled run going from queued to started at its startAt', async () => {
    const { client, hold, watch } = await boot();
    const startAt = new Date(Date.now() + 700);
    const run = await client.startRun(WatchedFlow, { n: 3, holdSeed: true }, { startAt });
    const events$ = watch.watchRun(run.runId);
    const collected = all(events$);
    // seen while the first step is still held: the promotion itself is notified
    const started = await firstValueFrom(events$.pipe(filter((e) => e.type === 'run' && e.status === 'started')));
    expect(started.type === 'run' && started.run.startedAt?.getTime()).toBeGreaterThanOrEqual(startAt.getTime());
    expect(started.type === 'run' && started.run.steps[0]).toMatchObject({ stepSlug: 'seed', status: 'started',
      remainingTasks: 1 });
    hold.open(-3);
    expect(byTarget(await collected).run).toEqual(['queued', 'started', 'completed']);
  });

  it('ends with the failed or cancelled event of the run', async () => {
    const { client, hold, watch } = await boot();
    const failing = await client.startRun(WatchedFlow, { n: 1, fail: true });
    const failed = await all(watch.watchRun(failing.runId));
    expect(failed.at(-1)).toMatchObject({ type: 'run', status: 'failed',
      run: { error: { stepSlug: 'square', message: expect.stringMatching(/^square \d failed$/) } } });
    expect(byTarget(failed).square.at(-1)).toBe('failed');

    const held = await client.startRun(WatchedFlow, { n: 7, hold: true });
    const events$ = watch.watchRun(held.runId);
    const collected = all(events$);
    await firstValueFrom(events$.pipe(filter((e) => e.type === 'step' && e.stepSlug === 'square')));
    await client.cancelRun(held.runId);
    const cancelled = await collected;
    expect(cancelled.at(-1)).toMatchObject({ type: 'run', status: 'cancelled' });
    expect(byTarget(cancelled)).toMatchObject({ square: expect.arrayContaining(['cancelled']) });
    hold.open(7);
  });

  it('emits a finished run\'s state and completes at once', async () => {
    const { client, watch } = await boot();
    const run = await client.startRun(WatchedFlow, { n: 1 });
    await client.waitForRun(run.runId, { timeoutMs: 10_000 });
    const events = await all(watch.watchRun(run.runId));
    expect(events.map((e) => (e.type === 'run' ? `run:${e.status}` : e.type === 'step' ? `${e.stepSlug}:${e.status}` : e.type))).toEqual([
      'seed:completed', 'square:completed', 'sum:completed', 'run:completed',
    ]);
  });

  it('errors with PgflowUnknownRunError for an unknown run and PgflowValidationError for a malformed id', async () => {
    const { watch } = await boot();
    await expect(all(watch.watchRun('00000000-0000-4000-8000-000000000099'))).rejects.toBeInstanceOf(PgflowUnknownRunError);
    await expect(all(watch.watchRun('nope'))).rejects.toBeInstanceOf(PgflowValidationError);
  });
});
