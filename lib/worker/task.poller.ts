import { Logger } from '@nestjs/common';
import { backoffMs } from '../core/backoff';
import { ClaimedTask } from '../db/queries';

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
 * A claim that rides along on a query the caller sends anyway (the flusher's completion
 * query claims too); end it with `piggybackDone()`.
 */
export interface PiggybackClaim {
  /** How many tasks the caller may claim. */
  readonly want: number;
}

/** Claims in flight at once: Postgres works on one batch while this process runs the other. */
const LANES = 2;

/**
 * Slot-refill claim loop.
 *
 * Up to two claims are in flight at once (ours, or lent to the flusher, which claims
 * along with the results it reports), each for up to min(batchSize, half the slots,
 * free slots not already being claimed for). With one claim in flight, Postgres and
 * this process took turns: the database sat idle while handlers ran and results were
 * serialized, and the process sat idle during the query. Two halves keep both busy
 * and never hold more than maxConcurrency tasks.
 *
 * States: running (claims start on a wake-up: NOTIFY or the backstop timer, and on
 * freed slots; a wake-up while the lanes are busy is remembered and causes one more
 * claim) → stopping (no new claims; claims in flight finish and their tasks are
 * dispatched) → stopped. Slots freed in the same turn of the event loop are refilled
 * by one claim rather than one per slot. Errors back off exponentially.
 */
export class TaskPoller {
  private readonly logger = new Logger('Pgflow');
  private state: 'running' | 'stopping' | 'stopped' = 'stopped';
  private readonly lanes: number;
  private readonly laneSize: number;
  /** Claims in flight and the slots they may fill. */
  private inFlight = 0;
  private reserved = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly piggybacks = new Map<PiggybackClaim, () => void>();
  /** The last claim came back full: more is waiting, so both lanes claim. */
  private backlog = false;
  private wakeRequested = false;
  private timer?: NodeJS.Timeout;
  private errors = 0;
  private refill?: NodeJS.Immediate;

  constructor(private readonly deps: PollerDeps) {
    this.lanes = Math.min(LANES, deps.maxConcurrency);
    this.laneSize = Math.ceil(deps.maxConcurrency / this.lanes);
  }

  start(): void {
    if (this.state !== 'stopped') return;
    this.state = 'running';
    this.wake();
  }

  /** Something may be claimable: claim now, or as soon as a lane is free. */
  wake(): void {
    if (this.state !== 'running') return;
    this.wakeRequested = true;
    this.fill();
  }

  slotFreed(): void {
    // No wake-up request: a claim still in flight claims again when it comes back full,
    // and one that comes back short found the queue empty (new tasks NOTIFY).
    this.refill ??= setImmediate(() => {
      this.refill = undefined;
      this.fill();
    });
  }

  /** Starts claims while a lane and slots are free. */
  private fill(): void {
    // the second lane opens only while claims come back full: an idle worker's
    // backstop poll stays one query
    while (this.state === 'running' && this.inFlight < (this.backlog ? this.lanes : 1)) {
      const want = this.wanted();
      if (want <= 0) return; // a freed slot fills again
      this.wakeRequested = false;
      this.track(this.poll(this.reserve(want)));
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.refill);
    this.refill = undefined;
    this.state = 'stopping';
    while (this.pending.size) await Promise.all([...this.pending]);
    this.state = 'stopped';
  }

  /**
   * Hands a claim to a caller that is about to send a query anyway (the flusher
   * reporting results): undefined when both lanes are busy or no slot is free.
   * `freedFirst`: slots the caller's query frees before it claims (the results it
   * stores), counted as free although `running()` still includes them.
   */
  piggyback(freedFirst = 0): PiggybackClaim | undefined {
    if (this.state !== 'running' || this.inFlight >= this.lanes) return undefined;
    const want = this.wanted(freedFirst);
    if (want <= 0) return undefined;
    // a refill pending for slots freed before now: this claim is for them
    clearImmediate(this.refill);
    this.refill = undefined;
    this.wakeRequested = false;
    const claim: PiggybackClaim = { want: this.reserve(want) };
    this.track(new Promise<void>((resolve) => this.piggybacks.set(claim, resolve)));
    return claim;
  }

  /** The tasks the piggybacked claim got; `undefined` when its query failed (then we claim ourselves). */
  piggybackDone(claim: PiggybackClaim, tasks: ClaimedTask[] | undefined): void {
    const resolve = this.piggybacks.get(claim);
    if (!resolve) return;
    this.piggybacks.delete(claim);
    if (!tasks) this.wakeRequested = true;
    this.settle(tasks ?? [], claim.want, this.deps.pollIntervalMs);
    resolve();
  }

  private wanted(freedFirst = 0): number {
    const free = this.deps.maxConcurrency - this.deps.running() + freedFirst - this.reserved;
    return Math.min(this.deps.batchSize, this.laneSize, free);
  }

  private reserve(want: number): number {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight++;
    this.reserved += want;
    return want;
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async poll(want: number): Promise<void> {
    try {
      const tasks = await this.deps.claim(want);
      this.errors = 0;
      this.settle(tasks, want, this.deps.pollIntervalMs);
    } catch (err) {
      this.errors++;
      const delay = backoffMs(this.errors, 100, 30_000);
      this.logger.warn(`claiming tasks failed (${(err as Error).message}); retrying in ${delay} ms`);
      this.settle([], want, delay);
    }
  }

  /** End of a claim (own or lent): dispatch, then claim again at once or wait. */
  private settle(tasks: ClaimedTask[], want: number, delay: number): void {
    this.inFlight--;
    this.reserved -= want;
    for (const task of tasks) this.deps.dispatch(task);
    if (this.state !== 'running') return;
    // a full batch means more may be waiting
    this.backlog = want > 0 && tasks.length === want;
    if (this.backlog) this.wakeRequested = true;
    if (this.errors === 0 && this.wakeRequested) {
      this.wake();
    } else if (this.inFlight === 0) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.wake();
      }, delay);
    }
  }
}
