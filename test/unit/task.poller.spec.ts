import { TaskPoller } from '../../lib/worker/task.poller';
import { ClaimedTask } from '../../lib/db/queries/task.types';

/** A claim the test answers by hand. */
interface PendingClaim {
  n: number;
  answer(count: number): void;
}

/**
 * The poller against a fake queue: claims wait until the test answers them, and
 * handlers run until the test finishes them, so every step is deterministic.
 */
function harness(opts: { maxConcurrency: number; batchSize: number; pollIntervalMs?: number }) {
  const claims: PendingClaim[] = [];
  const running = new Set<ClaimedTask>();
  let peak = 0;
  let seq = 0;
  const poller: TaskPoller = new TaskPoller({
    claim: (n) => new Promise<ClaimedTask[]>((resolve) => {
      claims.push({
        n,
        answer: (count) => resolve(Array.from({ length: count }, () => ({ task_index: seq++ }) as ClaimedTask)),
      });
    }),
    dispatch: (task) => {
      running.add(task);
      peak = Math.max(peak, running.size);
    },
    running: () => running.size,
    maxConcurrency: opts.maxConcurrency,
    batchSize: opts.batchSize,
    pollIntervalMs: opts.pollIntervalMs ?? 60_000,
  });
  return {
    poller,
    claims,
    running,
    peak: () => peak,
    /** Claims not yet answered. */
    open: () => [...claims],
    /** Answers the oldest open claim with `count` tasks. */
    answer: async (count: number) => {
      const claim = claims.shift();
      if (!claim) throw new Error('no claim in flight');
      claim.answer(count);
      await turn();
    },
    /** Finishes every running handler. */
    finishAll: async () => {
      for (const t of [...running]) {
        running.delete(t);
        poller.slotFreed();
      }
      await turn();
    },
  };
}

/** Lets promise callbacks and setImmediate callbacks run. */
const turn = () => new Promise((r) => setImmediate(r));

describe('TaskPoller', () => {
  let h: ReturnType<typeof harness> | undefined;

  afterEach(async () => {
    if (!h) return;
    const stopping = h.poller.stop();
    while (h.claims.length) await h.answer(0);
    await stopping;
    h = undefined;
  });

  it('claims with one lane until a claim comes back full, then with two, each for half the slots', async () => {
    h = harness({ maxConcurrency: 10, batchSize: 10 });
    h.poller.start();
    expect(h.open().map((c) => c.n)).toEqual([5]);

    await h.answer(5); // full: there is a backlog
    expect(h.running.size).toBe(5);
    expect(h.open().map((c) => c.n)).toEqual([5]);

    await h.finishAll(); // five slots free while the second claim is in flight
    expect(h.open().map((c) => c.n)).toEqual([5, 5]);

    await h.answer(5);
    await h.answer(5);
    expect(h.running.size).toBe(10);
    expect(h.peak()).toBe(10);
    expect(h.open()).toEqual([]); // no slot free: nothing claimed until one frees
  });

  it('never has more tasks claimed and running than maxConcurrency, nor more than two claims at once', async () => {
    h = harness({ maxConcurrency: 7, batchSize: 3 });
    h.poller.start();
    for (let round = 0; round < 20; round++) {
      const open = h.open();
      expect(open.length).toBeLessThanOrEqual(2);
      const claimedFor = open.reduce((a, c) => a + c.n, 0);
      expect(h.running.size + claimedFor).toBeLessThanOrEqual(7);
      expect(open.every((c) => c.n <= 3)).toBe(true);
      if (open.length) await h.answer(open[0].n);
      if (round % 3 === 2) await h.finishAll();
    }
    expect(h.peak()).toBeLessThanOrEqual(7);
    expect(h.peak()).toBeGreaterThan(3);
  });

  it('an idle worker polls with one claim, not two, and again after pollIntervalMs', async () => {
    h = harness({ maxConcurrency: 10, batchSize: 10, pollIntervalMs: 30 });
    h.poller.start();
    await h.answer(0);
    expect(h.open()).toEqual([]);
    const deadline = Date.now() + 2_000;
    while (!h.open().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(h.open().map((c) => c.n)).toEqual([5]);
  });

  it('hands a lane to a caller reporting results, and counts it as in flight', async () => {
    h = harness({ maxConcurrency: 10, batchSize: 10 });
    h.poller.start();
    const claim = h.poller.piggyback();
    expect(claim?.want).toBe(5);
    expect(h.poller.piggyback()).toBeUndefined(); // own claim + piggybacked one: both lanes busy
    h.poller.piggybackDone(claim!, [{ task_index: 100 } as ClaimedTask, { task_index: 101 } as ClaimedTask]);
    expect(h.running.size).toBe(2);
    await h.answer(5);
    expect(h.running.size).toBe(7);
  });

  it('with maxConcurrency 1 claims one task at a time', async () => {
    h = harness({ maxConcurrency: 1, batchSize: 10 });
    h.poller.start();
    expect(h.open().map((c) => c.n)).toEqual([1]);
    await h.answer(1);
    expect(h.open()).toEqual([]);
    expect(h.poller.piggyback()).toBeUndefined();
    await h.finishAll();
    expect(h.open().map((c) => c.n)).toEqual([1]);
  });
  it('a slot freed while a claim is in flight asks for nothing more once that claim comes back short', async () => {
    h = harness({ maxConcurrency: 10, batchSize: 10 });
    h.poller.start();
    await h.answer(1); // short: the queue is empty
    const claim = h.poller.piggyback(); // the flusher reports that task's result, claiming along
    expect(claim?.want).toBe(5);
    await h.finishAll(); // ...and its slot is freed only after the piggybacked claim went out
    h.poller.piggybackDone(claim!, []); // nothing new
    await turn();
    expect(h.open()).toEqual([]); // no claim for nothing: the next NOTIFY or poll brings work
    h.poller.wake(); // a NOTIFY
    expect(h.open().map((c) => c.n)).toEqual([5]);
  });
});
