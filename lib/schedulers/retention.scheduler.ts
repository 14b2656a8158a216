import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PgflowDatabase } from '../db/pgflow.database';
import { PgflowValidationError } from '../core/errors/pgflow.error';
import { PgflowModuleOptions } from '../interfaces/module-options.interface';
import { MODULE_OPTIONS_TOKEN } from '../pgflow.module-definition';
import { pruneInBatches } from '../db/queries/prune.queries';

/** Default pause between two retention sweeps. */
export const DEFAULT_RETENTION_INTERVAL_MS = 60_000;

/**
 * Applies the `retention` module option: deletes finished runs older than
 * `olderThanSeconds`, once right after bootstrap and then `intervalMs` after each
 * sweep ends (so sweeps never overlap). Runs in every process configured with it;
 * concurrent sweeps of several instances skip each other's rows. States: off (no
 * option) → waiting ⇄ sweeping → stopped (module destroy: the timer is cleared, a
 * sweep in progress ends after its current batch and is awaited).
 */
@Injectable()
export class RetentionScheduler implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Pgflow');
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(MODULE_OPTIONS_TOKEN) private readonly options: PgflowModuleOptions,
    private readonly db: PgflowDatabase,
  ) {}

  /** Fails the boot on retention settings that cannot work. */
  onModuleInit(): void {
    const r = this.options.retention;
    if (r === undefined) return;
    if (r === null || typeof r !== 'object') throw new PgflowValidationError('retention must be an object');
    if (typeof r.olderThanSeconds !== 'number' || !Number.isFinite(r.olderThanSeconds) || r.olderThanSeconds <= 0) {
      throw new PgflowValidationError(`retention.olderThanSeconds must be a positive number of seconds ` +
        `(got ${String(r.olderThanSeconds)})`);
    }
    if (r.intervalMs !== undefined && (!Number.isInteger(r.intervalMs) || r.intervalMs <= 0)) {
      throw new PgflowValidationError(`retention.intervalMs must be a positive integer (got ${String(r.intervalMs)})`);
    }
  }

  onApplicationBootstrap(): void {
    if (!this.options.retention) return;
    this.stopped = false;
    this.sweepNow();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  private sweepNow(): void {
    const retention = this.options.retention;
    if (!retention || this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const cutoff = new Date(Date.now() - retention.olderThanSeconds * 1000);
    this.sweeping = pruneInBatches(this.db, cutoff, () => this.stopped)
      .then((n) => {
        if (n) this.logger.log(`retention: deleted ${n} run(s) finished before ${cutoff.toISOString()}`);
      })
      .catch((err: Error) => this.logger.warn(`retention sweep failed: ${err.message}`))
      .finally(() => {
        this.sweeping = undefined;
        if (this.stopped) return;
        this.timer = setTimeout(() => this.sweepNow(), retention.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS);
        this.timer.unref();
      });
  }
}
