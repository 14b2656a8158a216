import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ResolvedPgflowOptions } from '../core/options.resolver';
import { PGFLOW_OPTIONS } from '../core/pgflow.constants';
import { PgflowDatabase } from '../db/pgflow.database';
import { pruneInBatches } from '../db/queries';

/**
 * Applies the `retention` module option: deletes finished runs older than
 * `olderThanSeconds`, once right after bootstrap and then `intervalMs` after each
 * sweep ends (so sweeps never overlap). Runs in every process configured with it;
 * concurrent sweeps of several instances skip each other's rows. States: off (no
 * option; its values are checked with the other options at boot) → waiting ⇄ sweeping → stopped (module destroy: the timer is cleared, a
 * sweep in progress ends after its current batch and is awaited).
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Pgflow');
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopped = false;

  constructor(
    @Inject(PGFLOW_OPTIONS) private readonly options: ResolvedPgflowOptions,
    private readonly db: PgflowDatabase,
  ) {}

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
        this.timer = setTimeout(() => this.sweepNow(), retention.intervalMs);
        this.timer.unref();
      });
  }
}
