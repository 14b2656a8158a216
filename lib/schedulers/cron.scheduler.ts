import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob, validateCronExpression } from 'cron';
import { PgflowClient } from '../client/pgflow.client';
import { validateRunInput } from '../definitions/input.validator';
import { toJsonText } from '../core/json.codec';
import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { PgflowExplorer } from '../definitions/pgflow.explorer';
import { ResolvedPgflowOptions } from '../core/options.resolver';
import { PGFLOW_OPTIONS } from '../core/pgflow.constants';
import { RegisteredFlow, WorkflowRegistry } from '../definitions/workflow.registry';
import { tryOptionalPeer } from '../core/optional-peer';
import { cronRunKey, tickTime } from './cron-tick';

/** Name of a workflow's job in the app's SchedulerRegistry. */
export function cronJobName(flowSlug: string): string {
  return `pgflow:${flowSlug}`;
}

type CronFlow = RegisteredFlow & { cron: string };

/** Why `zone` is not a usable cronTimezone (an IANA name such as `Europe/Paris`), or null. */
export function timeZoneProblem(zone: unknown): string | null {
  if (zone === undefined) return null;
  if (typeof zone !== 'string' || !zone) return `cronTimezone must be an IANA time zone name (got ${JSON.stringify(zone)})`;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return null;
  } catch {
    return `cronTimezone "${zone}" is not an IANA time zone name (such as "Europe/Paris")`;
  }
}

/**
 * Starts a run of each `@Workflow({ cron })` on every tick.
 *
 * Expressions are read in the workflow's `cronTimezone` (default: the process's zone).
 * Ticks happen in processes whose worker is enabled, for the flows that worker
 * executes (`worker.flows`); client-only processes never tick. Every ticking
 * instance starts the run with the idempotency key `cron:<tick ISO time>`, so each
 * tick creates exactly one run however many instances there are.
 *
 * Jobs are `cron` CronJobs. When the app imports ScheduleModule they are added to
 * its SchedulerRegistry as `pgflow:<slug>`; pgflow never imports ScheduleModule
 * itself, so an app's own `@Cron` methods are never mounted twice. Validation at
 * init (no I/O), jobs start at bootstrap and stop at module destroy, after which
 * ticks already in flight are awaited while the DataSource is still open.
 */
@Injectable()
export class CronScheduler implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Pgflow');
  private readonly jobs = new Map<string, CronJob>();
  private readonly inFlight = new Set<Promise<void>>();
  private schedulerRegistry?: SchedulerRegistry;

  constructor(
    @Inject(PGFLOW_OPTIONS) private readonly options: ResolvedPgflowOptions,
    private readonly registry: WorkflowRegistry,
    private readonly explorer: PgflowExplorer,
    private readonly client: PgflowClient,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** Fails the boot on a bad cron expression or a cronInput the workflow's input DTO refuses. */
  async onModuleInit(): Promise<void> {
    this.explorer.explore();
    for (const flow of this.registry.decorated()) {
      const where = `workflow "${flow.slug}"`;
      if (flow.cron === undefined) {
        if (flow.cronInput !== undefined) throw new PgflowDefinitionError(`${where}: cronInput is set but cron is not`);
        if (flow.cronTimezone !== undefined) throw new PgflowDefinitionError(`${where}: cronTimezone is set but cron is not`);
        continue;
      }
      const zoneProblem = timeZoneProblem(flow.cronTimezone);
      if (zoneProblem) throw new PgflowDefinitionError(`${where}: ${zoneProblem}`);
      if (typeof flow.cron !== 'string' || !flow.cron.trim()) {
        throw new PgflowDefinitionError(`${where}: cron must be a non-empty cron expression`);
      }
      const check = validateCronExpression(flow.cron);
      if (!check.valid) {
        throw new PgflowDefinitionError(`${where}: invalid cron "${flow.cron}": ${check.error?.message ?? 'unparsable'}`);
      }
      const input = flow.cronInput ?? {};
      try {
        toJsonText(input, 'cronInput');
        if (flow.inputDto) await validateRunInput(flow.slug, flow.inputDto, input);
      } catch (err) {
        throw new PgflowDefinitionError(`${where}: cronInput is invalid: ${(err as Error).message}`);
      }
    }
  }

  onApplicationBootstrap(): void {
    const worker = this.options.worker;
    if (!worker.enabled) return;
    const flows = this.registry.decorated().filter((f): f is typeof f & CronFlow =>
      f.cron !== undefined && (!worker.flows || worker.flows.includes(f.slug)));
    if (!flows.length) return;
    this.schedulerRegistry = this.findSchedulerRegistry();
    for (const flow of flows) this.schedule(flow);
    this.logger.log(`cron: ${flows.map((f) => `${f.slug} (${f.cron})`).join(', ')}`);
  }

  async onModuleDestroy(): Promise<void> {
    for (const [slug, job] of this.jobs) {
      const name = cronJobName(slug);
      if (this.schedulerRegistry?.doesExist('cron', name) && this.schedulerRegistry.getCronJob(name) === job) {
        this.schedulerRegistry.deleteCronJob(name);
      } else {
        void job.stop();
      }
    }
    this.jobs.clear();
    await Promise.all([...this.inFlight]);
  }

  /** The running job of a flow in this process, if it ticks here. */
  job(flowSlug: string): CronJob | undefined {
    return this.jobs.get(flowSlug);
  }

  private schedule(flow: CronFlow): void {
    let due: Date | undefined;
    const job = CronJob.from({
      cronTime: flow.cron,
      timeZone: flow.cronTimezone,
      start: false,
      name: cronJobName(flow.slug),
      onTick: () => {
        const at = tickTime(due, new Date());
        // cron has already planned the following tick when it calls us
        due = job.nextDate().toJSDate();
        this.track(this.tick(flow, at));
      },
    });
    this.schedulerRegistry?.addCronJob(cronJobName(flow.slug), job);
    this.jobs.set(flow.slug, job);
    job.start();
    due = job.nextDate().toJSDate();
  }

  private async tick(flow: CronFlow, at: Date): Promise<void> {
    const key = cronRunKey(at);
    try {
      const run = await this.client.startRun(flow.slug, flow.cronInput ?? {}, { idempotencyKey: key });
      this.logger.debug(`cron ${key} of "${flow.slug}": run ${run.runId}`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.logger.error(`cron ${key} of "${flow.slug}" could not start a run: ${message}`);
    }
  }

  private track(promise: Promise<void>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  private findSchedulerRegistry(): SchedulerRegistry | undefined {
    // @nestjs/schedule is an optional peer: without it there is no registry to join
    const schedule = tryOptionalPeer<typeof import('@nestjs/schedule')>('@nestjs/schedule');
    if (!schedule) return undefined;
    try {
      return this.moduleRef.get(schedule.SchedulerRegistry, { strict: false });
    } catch {
      return undefined; // the app does not import ScheduleModule: pgflow keeps its jobs to itself
    }
  }
}
