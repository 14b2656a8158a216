import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { ResolvedPgflowOptions, ResolvedWorkerOptions } from '../core/options.resolver';
import { PGFLOW_OPTIONS } from '../core/pgflow.constants';
import { PgflowEvents } from '../core/pgflow.events';
import { PgflowTelemetry } from '../core/telemetry';
import { NotifyListener } from '../db/notify.listener';
import { PgflowDatabase } from '../db/pgflow.database';
import {
  ClaimedTask, ClaimRequest, claimTasks, completeTasks, completeTasksAndClaim, makeTasksDue, queueStats, releaseTasks,
  setProgress, upsertWorker,
} from '../db/queries';
import { DefinitionStore } from '../definitions/definition.store';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { OutcomeEvents } from './outcome.events';
import { ResultFlusher } from './result.flusher';
import { RunInputCache } from './run-input.cache';
import { RunControl } from './run.control';
import { errorMessage, StepInvoker } from './step.invoker';
import { TaskPoller } from './task.poller';

/**
 * This process's worker: claims tasks of the flows it has handlers for, runs them,
 * reports results, heartbeats, and drains on shutdown.
 */
@Injectable()
export class PgflowWorker implements OnApplicationBootstrap, OnModuleDestroy {
  /** This worker's id (`worker.workerId` or `${hostname}-${pid}-${random}`). */
  readonly workerId: string;
  private readonly logger = new Logger('Pgflow');
  private readonly opts: ResolvedWorkerOptions;
  private readonly flusher: ResultFlusher;
  private readonly invoker: StepInvoker;
  private readonly poller: TaskPoller;
  private readonly subscriptions: Subscription[] = [];
  private readonly runInputs = new RunInputCache();
  private readonly runControl: RunControl;
  /** Claimed tasks of recently ended runs, holding their slots while their run is checked. */
  private awaitingRunCheck = 0;
  private heartbeatTimer?: NodeJS.Timeout;
  private runCheck?: NodeJS.Timeout;
  private started = false;
  private unobserveQueue?: () => void;

  constructor(
    @Inject(PGFLOW_OPTIONS) options: ResolvedPgflowOptions,
    private readonly db: PgflowDatabase,
    private readonly registry: WorkflowRegistry,
    private readonly definitions: DefinitionStore,
    private readonly listener: NotifyListener,
    events: PgflowEvents,
    private readonly telemetry: PgflowTelemetry,
  ) {
    this.opts = options.worker;
    this.workerId = options.worker.workerId;
    this.flusher = new ResultFlusher(db, (json, count) => this.report(json, count), new OutcomeEvents(db, events),
      () => this.poller.slotFreed());
    this.invoker = new StepInvoker(registry, this.flusher, this.workerId, {
      events, telemetry,
      saveProgress: (task, json) => setProgress(db, task, json, this.opts.leaseSeconds),
    });
    this.runControl = new RunControl(db, listener, this.invoker);
    this.poller = new TaskPoller({
      claim: (n) => this.claim(n),
      dispatch: (task) => this.dispatch(task),
      // results beyond the flusher's allowance hold their slots until stored (see ResultFlusher.overflow)
      running: () => this.invoker.size + this.awaitingRunCheck + this.flusher.overflow,
      maxConcurrency: this.opts.maxConcurrency,
      batchSize: this.opts.batchSize,
      pollIntervalMs: this.opts.pollIntervalMs,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    // the queue gauges describe the database, so every process reports them, workers or not
    this.unobserveQueue = this.telemetry.observeQueue(() => queueStats(this.db));
    if (this.opts.enabled && this.opts.autoStart) await this.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.unobserveQueue?.();
    await this.stop();
  }

  /** Flow slugs this worker claims tasks of. */
  flows(): string[] {
    const executable = this.registry.executableFlows();
    return this.opts.flows ? executable.filter((f) => this.opts.flows?.includes(f)) : executable;
  }

  /** New handlers were registered: advertise the flows and look for their tasks now. */
  private flowsChanged(): void {
    if (!this.started) return;
    void this.heartbeat('online');
    this.poller.wake();
  }

  /** Starts claiming (idempotent). Needed only with `autoStart: false`. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.flusher.reopen();
    await this.definitions.ready();
    await this.listener.start();
    this.subscriptions.push(
      this.listener.tasks$.subscribe((flow) => {
        if (this.flows().includes(flow)) this.poller.wake();
      }),
      this.listener.connected$.subscribe(() => this.poller.wake()),
      this.registry.handlersRegistered$.subscribe(() => this.flowsChanged()),
      this.runControl.follow(),
    );
    await this.heartbeat('online');
    this.heartbeatTimer = setInterval(() => void this.heartbeat('online'), this.heartbeatEveryMs());
    this.heartbeatTimer.unref();
    this.runCheck = setInterval(() => void this.runControl.checkRunningRuns(), this.opts.pollIntervalMs);
    this.runCheck.unref();
    this.poller.start();
    this.logger.log(`worker ${this.workerId} started for flows: ${this.flows().join(', ') || '(none yet)'}`);
  }

  /**
   * Stops claiming, lets running handlers finish for up to `shutdownTimeoutMs`,
   * releases what is still running, flushes results and marks the worker stopped.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.poller.stop();
    const deadline = Date.now() + this.opts.shutdownTimeoutMs;
    await this.untilOrDeadline(this.invoker.idle(), deadline);
    const unfinished = this.invoker.abortAll();
    if (unfinished.length) {
      this.logger.warn(`shutdown deadline passed; releasing ${unfinished.length} running task(s)`);
      await this.release(unfinished);
    }
    await this.untilOrDeadline(this.flusher.drain(), Math.max(Date.now() + 1000, deadline));
    const dropped = this.flusher.abandon();
    if (dropped) {
      this.logger.warn(`${dropped} result(s) could not be reported before the deadline; ` +
        'their tasks run again when their leases expire');
    }
    clearInterval(this.heartbeatTimer);
    clearInterval(this.runCheck);
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    await this.heartbeat('stopped');
    this.logger.log(`worker ${this.workerId} stopped`);
  }

  /** Leases ride on the heartbeat: it beats at least three times per lease. */
  private heartbeatEveryMs(): number {
    return Math.min(this.opts.heartbeatIntervalMs, Math.floor((this.opts.leaseSeconds * 1000) / 3));
  }

  private async untilOrDeadline(done: Promise<void>, deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
  }

  private async claim(n: number): Promise<ClaimedTask[]> {
    const flows = this.flows();
    return flows.length ? this.claimWith((request) => claimTasks(this.db, request), flows, n) : [];
  }

  /**
   * Sends results; when the poller can lend its next claim, claims along in the same
   * round trip (and transaction), so a busy worker needs one query per batch and a
   * chain's next step is claimed the moment its predecessor completes.
   */
  private async report(resultsJson: string, count: number): Promise<void> {
    const flows = this.flows();
    // the claim runs after these results are stored, in the same transaction: their slots are free for it
    const claim = this.started && flows.length ? this.poller.piggyback(Math.min(count, this.flusher.overflow)) : undefined;
    if (!claim) {
      await completeTasks(this.db, resultsJson);
      return;
    }
    let tasks: ClaimedTask[] | undefined;
    try {
      tasks = await this.claimWith((request) => completeTasksAndClaim(this.db, resultsJson, request), flows, claim.want);
    } finally {
      this.poller.piggybackDone(claim, tasks);
    }
  }

  /** Claims through `send`, leaving out the inputs of runs this process already holds. */
  private async claimWith(send: (request: ClaimRequest) => Promise<ClaimedTask[]>, flows: string[], limit: number,
  ): Promise<ClaimedTask[]> {
    const known = this.runInputs.snapshot();
    const tasks = await send({ flows, workerId: this.workerId, limit, knownRuns: [...known.keys()],
      leaseSeconds: this.opts.leaseSeconds });
    for (const t of tasks) {
      if (known.has(t.run_id)) t.run_input = known.get(t.run_id);
      this.runInputs.remember(t.run_id, t.run_input);
    }
    return tasks;
  }

  private dispatch(task: ClaimedTask): void {
    if (!this.runControl.recentlyEnded(task.run_id)) {
      void this.invoker.invoke(task).finally(() => this.poller.slotFreed());
      return;
    }
    // the task holds its slot while its run is checked
    this.awaitingRunCheck++;
    void this.runControl.runWantsTask(task.run_id)
      .then((live) => {
        this.awaitingRunCheck--;
        return live ? this.invoker.invoke(task) : undefined;
      })
      .finally(() => this.poller.slotFreed());
  }

  /** Gives claimed tasks back to the queue, their attempts uncounted. */
  private async release(tasks: ClaimedTask[]): Promise<void> {
    await releaseTasks(this.db, this.workerId, tasks)
      .catch((err) => this.logger.error(`releasing tasks: ${errorMessage(err)}`));
  }

  /**
   * Registers this worker or refreshes its heartbeat (flows, status), renewing the
   * leases of all its running tasks in the same statement. Tasks it no longer holds, or
   * whose lease ran out because renewing failed, are aborted: their results are stale.
   */
  private async heartbeat(status: 'online' | 'stopped'): Promise<void> {
    const sentAt = Date.now();
    try {
      const held = await upsertWorker(this.db, this.workerId, this.flows(), status,
        status === 'online' ? this.opts.leaseSeconds : undefined);
      if (status === 'online') this.invoker.leasesRenewed(sentAt, held);
    } catch (err) {
      this.logger.warn(`heartbeat failed: ${errorMessage(err)}`);
    }
    this.invoker.abortExpiredLeases(Date.now(), this.opts.leaseSeconds * 1000);
  }

  /**
   * Runs every claimable task of this process's flows until none is left, and resolves
   * with the number of attempts it ran. For tests of your own workflows (with
   * `worker.autoStart: false`). `skipDelays`: retry backoff and `startDelay` are due at
   * once, including delays already pending.
   */
  async drain(opts: { skipDelays?: boolean } = {}): Promise<number> {
    await this.definitions.ready();
    // a stopped worker hears no cancellations otherwise: handlers of a run cancelled
    // meanwhile must still see ctx.signal abort
    // and its handlers' leases must still be renewed
    let control: Subscription | undefined;
    let renewal: NodeJS.Timeout | undefined;
    const standalone = !this.started;
    if (standalone) {
      await this.listener.start();
      control = this.runControl.follow();
      renewal = setInterval(() => void this.heartbeat('online'), this.heartbeatEveryMs());
      renewal.unref();
    }
    try {
      return await this.drainLoop(opts);
    } finally {
      control?.unsubscribe();
      clearInterval(renewal);
      if (standalone && !this.started) await this.heartbeat('stopped');
    }
  }

  private async drainLoop(opts: { skipDelays?: boolean }): Promise<number> {
    let attempts = 0;
    for (;;) {
      const flows = this.flows();
      if (!flows.length) return attempts;
      if (opts.skipDelays) await makeTasksDue(this.db, flows);
      const tasks = await this.claimWith((request) => claimTasks(this.db, request), flows, this.opts.maxConcurrency);
      if (!tasks.length) {
        // a started poller may still be running tasks whose results make more claimable
        if (!this.invoker.size && !this.flusher.pending) return attempts;
        await this.invoker.idle();
        await this.flusher.drain();
        continue;
      }
      await Promise.all(tasks.map((t) => this.invoker.invoke(t)));
      attempts += tasks.length;
      await this.flusher.drain();
    }
  }
}
