import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Observable, Subject, Subscription } from 'rxjs';
import { diffRun } from '../client/run.events';
import { PgflowClient } from '../client/pgflow.client';
import { NotifyListener } from '../db/notify.listener';
import { RunEvent, RunInfo } from '../interfaces/run-info.interface';

/** Snapshots kept to tell which steps changed; the oldest are dropped past this. */
const MAX_SNAPSHOTS = 2000;
/** Runs read at once while notifications pile up. */
const READ_BATCH = 50;

/**
 * Run events for every browser from one LISTEN of this process (NotifyListener's
 * `runs$`, shared with waitForRun/watchRun): each notified run is read once, however
 * many streams are open, compared with the snapshot last seen, and its changes go to
 * every stream. Notifications that arrive while reads run fold into one read per run.
 * Idle (no stream): nothing is listened to or read.
 */
@Injectable()
export class DashboardEvents implements OnModuleDestroy {
  private readonly events$ = new Subject<RunEvent>();
  private readonly snapshots = new Map<string, RunInfo>();
  private readonly pending = new Set<string>();
  private readonly logger = new Logger('PgflowDashboard');
  private source?: Subscription;
  private streams = 0;
  private reading = false;

  constructor(
    private readonly client: PgflowClient,
    private readonly listener: NotifyListener,
  ) {}

  /** Every run and step change from now on, while subscribed. */
  stream(): Observable<RunEvent> {
    return new Observable<RunEvent>((subscriber) => {
      const sub = this.events$.subscribe(subscriber);
      if (this.streams++ === 0) this.open();
      return () => {
        sub.unsubscribe();
        if (--this.streams === 0) this.close();
      };
    });
  }

  private open(): void {
    this.source = this.listener.runs$.subscribe(({ runId }) => {
      this.pending.add(runId);
      void this.read();
    });
    this.listener.watchRuns().catch((err: Error) => this.logger.warn(`cannot listen for run changes: ${err.message}`));
  }

  private close(): void {
    this.source?.unsubscribe();
    this.source = undefined;
    this.pending.clear();
    this.snapshots.clear();
  }

  private async read(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      while (this.pending.size && this.source) {
        const batch = [...this.pending].slice(0, READ_BATCH);
        for (const id of batch) this.pending.delete(id);
        const runs = await Promise.all(batch.map((id) => this.client.getRun(id).catch(() => null)));
        for (const run of runs) if (run) this.publish(run);
      }
    } finally {
      this.reading = false;
    }
  }

  private publish(run: RunInfo): void {
    const prev = this.snapshots.get(run.runId);
    this.snapshots.delete(run.runId);
    this.snapshots.set(run.runId, run);
    if (this.snapshots.size > MAX_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value as string);
    for (const event of diffRun(prev, run)) this.events$.next(event);
  }

  onModuleDestroy(): void {
    this.events$.complete();
    this.close();
  }
}
