import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { ResolvedPgflowOptions, ResolvedWorkerOptions } from '../core/options.resolver';
import { PGFLOW_OPTIONS } from '../core/pgflow.constants';
import { NotifyListener } from '../db/notify.listener';
import { PgflowDatabase } from '../db/pgflow.database';
import {
  ClaimedTask, ClaimRequest, claimTasks, completeTasks, completeTasksAndClaim, endedRuns, releaseTasks, runStatus,
  upsertWorker,
} from '../db/queries';
import { DefinitionStore } from '../definitions/definition.store';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { EndedRuns } from './ended-runs';
import { ResultFlusher } from './result.flusher';
import { RunInputCache } from './run-input.cache';
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
  private readonly endedRuns = new EndedRuns();
  /** Claimed tasks of recently ended runs, holding their slots while their run is checked. */
  private awaitingRunCheck = 0;
  private heartbeatTimer?: NodeJS.Timeout;
  private runCheck?: NodeJS.Timeout;
  private checkingRuns = false;
  private started = false;

  constructor(
    @Inject(PGFLOW_OPTIONS) options: ResolvedPgflowOptions,
    private readonly db: PgflowDatabase,
    private readonly registry: WorkflowRegistry,
    private readonly definitions: DefinitionStore,
    private readonly listener: NotifyListener,
  ) {
    this.opts = options.worker;
    this.workerId = options.worker.workerId;
    this.flusher = new ResultFlusher(db, (json) => this.report(json));
    this.invoker = new StepInvoker(registry, this.flusher, this.workerId);
    this.poller = new TaskPoller({
      claim: (n) => this.claim(n),
      dispatch: (task) => this.dispatch(task),
      running: () => this.invoker.size + this.awaitingRunCheck,
      maxConcurrency: this.opts.maxConcurrency,
      batchSize: this.opts.batchSize,
      pollIntervalMs: this.opts.pollIntervalMs,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.opts.enabled && this.opts.autoStart) await this.start();
  }

  async onModuleDestroy(): Promise<void> {
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
      this.listener.control$.subscribe(({ runId, status }) => {
        if (status === 'cancelled' || status === 'failed') {
          this.endedRuns.markEnded(runId);
          this.invoker.abortRun(runId, status);
        } else if (status === 'started') {
          this.endedRuns.markResumed(runId);
        }
      }),
    );
    await this.heartbeat('online');
    this.heartbeatTimer = setInterval(() => void this.heartbeat('online'), this.opts.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    this.runCheck = setInterval(() => void this.checkRunningRuns(), this.opts.pollIntervalMs);
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
  private async report(resultsJson: string): Promise<void> {
    const flows = this.flows();
    const claim = this.started && flows.length ? this.poller.piggyback() : undefined;
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
    const tasks = await send({ flows, workerId: this.workerId, limit, knownRuns: [...known.keys()] });
    for (const t of tasks) {
      if (known.has(t.run_id)) t.run_input = known.get(t.run_id);
      this.runInputs.remember(t.run_id, t.run_input);
    }
    return tasks;
  }

  private dispatch(task: ClaimedTask): void {
    if (!this.endedRuns.has(task.run_id)) {
      void this.invoker.invoke(task).finally(() => this.poller.slotFreed());
      return;
    }
    // the task holds its slot while its run is checked
    this.awaitingRunCheck++;
    void this.runWantsTask(task.run_id)
      .then((live) => {
        this.awaitingRunCheck--;
        return live ? this.invoker.invoke(task) : undefined;
      })
      .finally(() => this.poller.slotFreed());
  }

  /**
   * A task of a run we just heard end was claimed right before the end committed; its
   * handler would run for nothing. Only a run resumed since (whose NOTIFY we missed)
   * still wants it. If this cannot be checked the task waits for its lease to expire.
   */
  private async runWantsTask(runId: string): Promise<boolean> {
    const status = await runStatus(this.db, runId).catch(() => undefined);
    const live = status === 'started' || status === 'queued';
    if (live) this.endedRuns.markResumed(runId);
    return live;
  }

  /**
   * Where no control NOTIFY arrives (LISTEN/NOTIFY unavailable, or its connection lost)
   * nothing tells running handlers that their run was cancelled or failed: ask, every
   * poll interval.
   */
  private async checkRunningRuns(): Promise<void> {
    if (this.listener.available || this.checkingRuns) return;
    const runIds = [...new Set(this.invoker.tasks().map((t) => t.run_id))];
    if (!runIds.length) return;
    this.checkingRuns = true;
    try {
      const ended = await endedRuns(this.db, runIds);
      for (const { run_id: runId, status } of ended) {
        this.endedRuns.markEnded(runId);
        this.invoker.abortRun(runId, status);
      }
    } catch (err) {
      this.logger.warn(`checking the runs of running tasks failed: ${errorMessage(err)}`);
    } finally {
      this.checkingRuns = false;
    }
  }

  /** Gives claimed tasks back to the queue, their attempts uncounted. */
  private async release(tasks: ClaimedTask[]): Promise<void> {
    await releaseTasks(this.db, this.workerId, tasks)
      .catch((err) => this.logger.error(`releasing tasks: ${errorMessage(err)}`));
  }

  /** Registers this worker or refreshes its heartbeat (flows, status). */
  private async heartbeat(status: 'online' | 'stopped'): Promise<void> {
    try {
      await upsertWorker(this.db, this.workerId, this.flows(), status);
    } catch (err) {
      this.logger.warn(`heartbeat failed: ${errorMessage(err)}`);
    }
  }
}
