import { Logger } from '@nestjs/common';
import { ClaimedTask } from './worker.types';

export interface PollerDeps {
  /** Claims up to `n` tasks. */
  claim(n: number): Promise<ClaimedTask[]>;
  /** Starts a task; must call `poller.slotFreed()` when it is done. */
  dispatch(task: ClaimedTask): void;
  /** Tasks running right now. */
  running(): number;
  maxConcurrency: number;
  batchSize: number;
  pollIntervalMs: number;
}

/**
 * Slot-refill claim loop.
 *
 * States: idle (waiting for a wake-up: NOTIFY, a freed slot, or the backstop timer)
 * → polling (exactly one claim in flight, ours or lent to the flusher, which claims
 * along with the results it reports; wake-ups meanwhile are remembered and cause one
 * more poll) → idle … ; stop() → stopping (no new claims; the in-flight claim
 * finishes and its tasks are dispatched) → stopped.
 *
 * Each poll claims min(batchSize, free slots), so a freed slot is refilled at once
 * and nothing waits for a whole batch. Slots freed in the same turn of the event
 * loop (a claimed batch of quick handlers finishes together) are refilled by one
 * claim rather than one claim per slot. Errors back off exponentially.
 */
export class TaskPoller {
  private readonly logger = new Logger('Pgflow');
  private state: 'idle' | 'polling' | 'stopping' | 'stopped' = 'stopped';
  private wakeRequested = false;
  private timer?: NodeJS.Timeout;
  private current?: Promise<void>;
  private errors = 0;
  private refill?: NodeJS.Immediate;
  private loan?: { want: number; resolve: () => void };

  constructor(private readonly deps: PollerDeps) {}

  start(): void {
    if (this.state !== 'stopped') return;
    this.state = 'idle';
    this.wake();
  }

  /** Something may be claimable: poll now, or right after the poll in flight. */
  wake(): void {
    if (this.state === 'polling') {
      this.wakeRequested = true;
      return;
    }
    if (this.state !== 'idle') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'polling';
    this.current = this.poll();
  }

  slotFreed(): void {
    this.refill ??= setImmediate(() => {
      this.refill = undefined;
      this.wake();
    });
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.refill);
    this.refill = undefined;
    this.state = 'stopping';
    await this.current;
    this.state = 'stopped';
  }

  /**
   * Lends the next claim to a caller that is about to send a query anyway (the
   * flusher reporting results): returns how many tasks it may claim along with it,
   * or 0 when a poll is in flight or no slot is free. A loan (non-zero) counts as
   * the one poll in flight and must be repaid with `repay()`.
   */
  lend(): number {
    if (this.state !== 'idle') return 0;
    const want = this.wanted();
    if (want <= 0) return 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    // a refill pending for slots freed before now: this loan claims for them
    clearImmediate(this.refill);
    this.refill = undefined;
    this.state = 'polling';
    this.wakeRequested = false;
    this.current = new Promise((resolve) => (this.loan = { want, resolve }));
    return want;
  }

  /** The tasks the lent claim got; `undefined` when its query failed (then we poll ourselves). */
  repay(tasks: ClaimedTask[] | undefined): void {
    const loan = this.loan;
    if (!loan) return;
    this.loan = undefined;
    if (!tasks) this.wakeRequested = true;
    this.settle(tasks ?? [], loan.want, this.deps.pollIntervalMs);
    loan.resolve();
  }

  private wanted(): number {
    return Math.min(this.deps.batchSize, this.deps.maxConcurrency - this.deps.running());
  }

  private async poll(): Promise<void> {
    this.wakeRequested = false;
    const want = this.wanted();
    if (want <= 0) return this.settle([], want, this.deps.pollIntervalMs);
    try {
      const tasks = await this.deps.claim(want);
      this.errors = 0;
      this.settle(tasks, want, this.deps.pollIntervalMs);
    } catch (err) {
      this.errors++;
      const delay = Math.min(30_000, 100 * 2 ** Math.min(this.errors, 9));
      this.logger.warn(`claiming tasks failed (${(err as Error).message}); retrying in ${delay} ms`);
      this.settle([], want, delay);
    }
  }

  /** End of a poll (own or lent): dispatch, then poll again at once or wait. */
  private settle(tasks: ClaimedTask[], want: number, delay: number): void {
    for (const task of tasks) this.deps.dispatch(task);
    if (this.state !== 'polling') return; // stopping
    this.state = 'idle';
    // a full batch means more may be waiting
    const again = want > 0 && tasks.length === want;
    if ((again || this.wakeRequested) && this.errors === 0) {
      this.wake();
    } else {
      this.timer = setTimeout(() => this.wake(), delay);
    }
  }
}
