import { Injectable } from '@nestjs/common';
import { PgflowClient, PgflowWorker, Step, StepContext, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

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
});
