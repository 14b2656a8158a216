import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { hostname } from 'os';
import { randomBytes } from 'crypto';
import { Subscription } from 'rxjs';
import { FlowCompiler } from '../definitions/definition.store';
import { PgflowDatabase } from '../db/pgflow.database';
import { PgflowModuleOptions } from '../interfaces/module-options.interface';
import { MODULE_OPTIONS_TOKEN } from '../pgflow.module-definition';
import { DEFAULTS } from '../core/pgflow.constants';
import { WorkflowRegistry } from '../definitions/workflow.registry';
import { EndedRuns } from './ended-runs';
import { NotifyListener } from '../db/notify.listener';
import { ResultFlusher } from './result.flusher';
import { errorMessage, StepInvoker } from './step.invoker';
import { TaskPoller } from './task.poller';
import { RunInputCache } from './run-input.cache';
import { ClaimedTask } from '../db/queries/task.types';

const CLAIMED = 'run_id, flow_slug, step_slug, task_index, attempt, input, run_input, timeout_seconds, ' +
  'lease_expires_at, attempt_number';
const CLAIM = `select ${CLAIMED} from pgflow.start_tasks($1::text[], $2, $3, $4::uuid[])`;
const COMPLETE = 'select 1 from pgflow.complete_tasks($1::jsonb)';
const COMPLETE_AND_CLAIM = `select ${CLAIMED} from pgflow.complete_tasks_and_claim($5::jsonb, $1::text[], $2, $3, $4::uuid[])`;

/**
 * This process's worker: claims tasks of the flows it has handlers for, runs them,
 * reports results, heartbeats, and drains on shutdown.
 */
@Injectable()
export class PgflowWorker implements OnApplicationBootstrap, OnModuleDestroy {
  /** This worker's id (`worker.workerId` or `${hostname}-${pid}-${random}`). */
  readonly workerId: string;
  private readonly logger = new Logger('Pgflow');
  private readonly opts: Required<Omit<NonNullable<PgflowModuleOptions['worker']>, 'flows' | 'workerId'>> &
    { flows?: string[] };
  private readonly flusher: ResultFlusher;
  private readonly invoker: StepInvoker;
  private readonly poller: TaskPoller;
  private readonly subscriptions: Subscription[] = [];
  private readonly runInputs = new RunInputCache();
  private readonly endedRuns = new EndedRuns();
  /** Claimed tasks of recently ended runs whose run is being checked (see `stillLive`). */
  private checking = 0;
  private heartbeat?: NodeJS.Timeout;
  private runCheck?: NodeJS.Timeout;
  private checkingRuns = false;
  private started = false;

  constructor(
    @Inject(MODULE_OPTIONS_TOKEN) options: PgflowModuleOptions,
    private readonly db: PgflowDatabase,
    private readonly registry: WorkflowRegistry,
    private readonly compiler: FlowCompiler,
    private readonly listener: NotifyListener,
  ) {
    const w = options.worker ?? {};
    this.workerId = w.workerId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.opts = {
      enabled: w.enabled ?? true,
      flows: w.flows,
      batchSize: w.batchSize ?? DEFAULTS.batchSize,
      maxConcurrency: w.maxConcurrency ?? DEFAULTS.maxConcurrency,
      pollIntervalMs: w.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
      heartbeatIntervalMs: w.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      shutdownTimeoutMs: w.shutdownTimeoutMs ?? DEFAULTS.shutdownTimeoutMs,
      autoStart: w.autoStart ?? true,
    };
    this.flusher = new ResultFlusher(db, (json) => this.report(json));
    this.invoker = new StepInvoker(registry, this.flusher, this.workerId);
    this.poller = new TaskPoller({
      claim: (n) => this.claim(n),
      dispatch: (task) => this.dispatch(task),
      running: () => this.invoker.size + this.checking,
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
  flowsChanged(): void {
    if (!this.started) return;
    void this.beat('online');
    this.poller.wake();
  }

  /** Starts claiming (idempotent). Needed only with `autoStart: false`. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.flusher.reopen();
    await this.compiler.ready();
    await this.listener.start();
    this.subscriptions.push(
      this.listener.tasks$.subscribe((flow) => {
        if (this.flows().includes(flow)) this.poller.wake();
      }),
      this.listener.connected$.subscribe(() => this.poller.wake()),
      this.listener.control$.subscribe(({ runId, status }) => {
        if (status === 'cancelled' || status === 'failed') {
          this.endedRuns.markEnded(runId);
          this.invoker.abortRun(runId, status);
        } else if (status === 'started') {
          this.endedRuns.markResumed(runId);
        }
      }),
    );
    await this.beat('online');
    this.heartbeat = setInterval(() => void this.beat('online'), this.opts.heartbeatIntervalMs);
    this.heartbeat.unref();
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
    while (this.invoker.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const unfinished = this.invoker.abortAll();
    if (unfinished.length) {
      this.logger.warn(`shutdown deadline passed; releasing ${unfinished.length} running task(s)`);
      await this.release(unfinished);
    }
    let drainTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flusher.drain(),
      new Promise((r) => (drainTimer = setTimeout(r, Math.max(1000, deadline - Date.now())))),
    ]);
    clearTimeout(drainTimer);
    const dropped = this.flusher.abandon();
    if (dropped) {
      this.logger.warn(`${dropped} result(s) could not be reported before the deadline; ` +
        'their tasks run again when their leases expire');
    }
    clearInterval(this.heartbeat);
    clearInterval(this.runCheck);
    for (const s of this.subscriptions.splice(0)) s.unsubscribe();
    await this.beat('stopped');
    this.logger.log(`worker ${this.workerId} stopped`);
  }

  private async claim(n: number): Promise<ClaimedTask[]> {
    const flows = this.flows();
    return flows.length ? this.claimVia('pgflow_claim', CLAIM, flows, n, []) : [];
  }

  /**
   * Sends results; when the poller can lend its next claim, claims along in the same
   * round trip (and transaction), so a busy worker needs one query per batch and a
   * chain's next step is claimed the moment its predecessor completes.
   */
  private async report(resultsJson: string): Promise<void> {
    const flows = this.flows();
    const loan = this.started && flows.length ? this.poller.lend() : undefined;
    if (!loan) {
      await this.db.hotQuery('pgflow_complete', COMPLETE, [resultsJson]);
      return;
    }
    let tasks: ClaimedTask[] | undefined;
    try {
      tasks = await this.claimVia('pgflow_complete_claim', COMPLETE_AND_CLAIM, flows, loan.want, [resultsJson]);
    } finally {
      this.poller.repay(loan, tasks);
    }
  }

  private async claimVia(name: string, sql: string, flows: string[], n: number, extra: unknown[]): Promise<ClaimedTask[]> {
    const known = this.runInputs.snapshot();
    const tasks = await this.db.hotQuery<ClaimedTask>(name, sql, [flows, this.workerId, n, [...known.keys()], ...extra]);
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
    this.checking++;
    void this.stillLive(task.run_id)
      .then((live) => {
        this.checking--;
        return live ? this.invoker.invoke(task) : undefined;
      })
      .finally(() => this.poller.slotFreed());
  }

  /**
   * A task of a run we just heard end was claimed right before the end committed; its
   * handler would run for nothing. Only a run resumed since (whose NOTIFY we missed)
   * still wants it. If this cannot be checked the task waits for its lease to expire.
   */
  private async stillLive(runId: string): Promise<boolean> {
    const rows = await this.db.query<{ status: string }>('select status from pgflow.runs where run_id = $1', [runId])
      .catch(() => []);
    const live = rows.length > 0 && (rows[0].status === 'started' || rows[0].status === 'queued');
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
      const ended = await this.db.query<{ run_id: string; status: string }>(
        `select run_id, status from pgflow.runs where run_id = any($1::uuid[]) and status in ('cancelled', 'failed')`,
        [runIds]);
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
    await this.db.query('select pgflow.release_tasks($1, $2::jsonb)', [this.workerId, JSON.stringify(
      tasks.map((t) => ({ run_id: t.run_id, step_slug: t.step_slug, task_index: t.task_index, attempt: t.attempt })),
    )]).catch((err) => this.logger.error(`releasing tasks: ${errorMessage(err)}`));
  }

  private async beat(status: 'online' | 'stopped'): Promise<void> {
    try {
      await this.db.query(
        `insert into pgflow.workers (worker_id, flows, status, started_at, last_heartbeat_at, stopped_at)
         values ($1, $2::text[], $3, now(), now(), case when $3 = 'stopped' then now() end)
         on conflict (worker_id) do update
           set flows = excluded.flows, status = excluded.status, last_heartbeat_at = now(),
               stopped_at = excluded.stopped_at`,
        [this.workerId, this.flows(), status],
      );
    } catch (err) {
      this.logger.warn(`heartbeat failed: ${errorMessage(err)}`);
    }
  }
}
