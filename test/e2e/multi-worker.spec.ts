import { Injectable } from '@nestjs/common';
import { PgflowClient, PgflowWorker, Step, StepContext, Workflow } from '../../lib';
import { NotifyListener, RunSignal } from '../../lib/db/notify.listener';
import { eventually, useNestApps } from '../support/nest-harness';

/** Shared by both apps of the test (passed in by value), so it sees every call. */
@Injectable()
class Ledger {
  readonly calls: Array<{ taskIndex: number; workerId: string }> = [];
}

@Workflow({ slug: 'shared_map' })
class SharedMapFlow {
  constructor(private readonly ledger: Ledger) {}

  @Step({ map: 'run' })
  async work(n: number, ctx: StepContext) {
    this.ledger.calls.push({ taskIndex: ctx.taskIndex, workerId: ctx.workerId });
    await new Promise((r) => setTimeout(r, 20));
    return n * 3;
  }
}

describe('several apps on one database', () => {
  const { createApp } = useNestApps();

  it('share the tasks of one run, each task executed once', async () => {
    const ledger = new Ledger();
    const boot = () => createApp({
      providers: [{ provide: Ledger, useValue: ledger }, SharedMapFlow],
      worker: { maxConcurrency: 5, batchSize: 5 },
    });
    const [a, b] = await Promise.all([boot(), boot()]);
    const ids = [a.get(PgflowWorker).workerId, b.get(PgflowWorker).workerId];
    expect(ids[0]).not.toBe(ids[1]);

    const items = Array.from({ length: 40 }, (_, i) => i);
    const output = await a.get(PgflowClient).execute(SharedMapFlow, items, { timeoutMs: 20_000 });
    expect(output).toEqual({ work: items.map((n) => n * 3) });

    expect(ledger.calls.map((c) => c.taskIndex).sort((x, y) => x - y)).toEqual(items);
    expect(new Set(ledger.calls.map((c) => c.workerId))).toEqual(new Set(ids));
  });
  it('a process that only executes is sent no run events, only what its handlers must act on', async () => {
    const ledger = new Ledger();
    const worker = await createApp({ providers: [{ provide: Ledger, useValue: ledger }, SharedMapFlow] });
    const caller = await createApp({
      providers: [{ provide: Ledger, useValue: ledger }, SharedMapFlow], worker: { enabled: false },
    });
    const events: RunSignal[] = [];
    const control: RunSignal[] = [];
    const listener = worker.get(NotifyListener);
    const subs = [listener.runs$.subscribe((e) => events.push(e)), listener.control$.subscribe((e) => control.push(e))];
    try {
      const client = caller.get(PgflowClient);
      await expect(client.execute(SharedMapFlow, [1, 2, 3], { timeoutMs: 20_000 })).resolves.toEqual({ work: [3, 6, 9] });
      const queued = await client.startRun(SharedMapFlow, [4], { startAt: new Date(Date.now() + 3_600_000) });
      await client.cancelRun(queued.runId);
      await eventually(async () => control.length > 0, 5_000, 'the cancel on pgflow_control');
      expect(control).toEqual([{ runId: queued.runId, status: 'cancelled' }]);
      // the completed run's events went to the caller only
      expect(events).toEqual([]);
    } finally {
      for (const sub of subs) sub.unsubscribe();
    }
  });
});
