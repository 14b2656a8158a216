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
 * → polling (exactly one `start_tasks` in flight; wake-ups meanwhile are remembered
 * and cause one more poll) → idle … ; stop() → stopping (no new claims; the
 * in-flight poll finishes and its tasks are dispatched) → stopped.
 *
 * Each poll claims min(batchSize, free slots), so a freed slot is refilled at once
 * and nothing waits for a whole batch. Errors back off exponentially.
 */
export class TaskPoller {
  private readonly logger = new Logger('Pgflow');
  private state: 'idle' | 'polling' | 'stopping' | 'stopped' = 'stopped';
  private wakeRequested = false;
  private timer?: NodeJS.Timeout;
  private current?: Promise<void>;
  private errors = 0;

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
    this.wake();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.state = 'stopping';
    await this.current;
    this.state = 'stopped';
  }

  private async poll(): Promise<void> {
    let delay = this.deps.pollIntervalMs;
    let again = false;
    try {
      this.wakeRequested = false;
      const free = this.deps.maxConcurrency - this.deps.running();
      if (free > 0) {
        const want = Math.min(this.deps.batchSize, free);
        const tasks = await this.deps.claim(want);
        this.errors = 0;
        for (const task of tasks) this.deps.dispatch(task);
        // a full batch means more may be waiting
        again = tasks.length === want;
      }
    } catch (err) {
      this.errors++;
      delay = Math.min(30_000, 100 * 2 ** Math.min(this.errors, 9));
      this.logger.warn(`claiming tasks failed (${(err as Error).message}); retrying in ${delay} ms`);
    }
    if (this.state !== 'polling') return; // stopping
    this.state = 'idle';
    if ((again || this.wakeRequested) && this.errors === 0) {
      this.wake();
    } else {
      this.timer = setTimeout(() => this.wake(), delay);
    }
  }
}
