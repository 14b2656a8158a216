import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Observable, Subject, Subscription } from 'rxjs';
import { diffRun } from '../client/run.events';
import { FINISHED_RUN_STATUSES, PGFLOW_OPTIONS } from '../core/pgflow.constants';
import { ResolvedPgflowOptions } from '../core/options.resolver';
import { NotifyListener } from '../db/notify.listener';
import { PgflowDatabase } from '../db/pgflow.database';
import { findRuns, listRuns } from '../db/queries';
import { RunEvent, RunInfo, RunStatus, StepStatus } from '../interfaces/run-info.interface';

/** Snapshots kept to tell which steps changed; the oldest are dropped past this. */
const MAX_SNAPSHOTS = 2000;
/** Runs read at once while notifications pile up. */
const READ_BATCH = 500;
/** How long a read waits for more notifications to fold in: fewer, larger reads under load. */
const GATHER_MS = 50;
/** Without NOTIFY: the newest runs each poll reads, beside the unfinished runs already seen. */
const POLL_NEWEST = 50;

/** One SSE message per event: `data: <json>` and a blank line. */
export function sseMessages(events: readonly RunEvent[]): string {
  let text = '';
  for (const event of events) text += `data: ${JSON.stringify(event)}\n\n`;
  return text;
}

/** A run event without its RunInfo / StepInfo: what changed, for a page that reads the rest itself. */
export type BriefRunEvent =
  | { type: 'run'; runId: string; status: RunStatus }
  | { type: 'step'; runId: string; stepSlug: string; status: StepStatus };

/** Like sseMessages, each event without its `run` / `step` (a quarter of the bytes of a single-step run's). */
export function briefSseMessages(events: readonly RunEvent[]): string {
  let text = '';
  for (const e of events) {
    // the dashboard sends no progress events
    if (e.type === 'progress') continue;
    const brief: BriefRunEvent = e.type === 'step'
      ? { type: e.type, runId: e.runId, stepSlug: e.stepSlug, status: e.status }
      : { type: e.type, runId: e.runId, status: e.status };
    text += `data: ${JSON.stringify(brief)}\n\n`;
  }
  return text;
}

/** What a stream carries: whole RunEvents, or brief ones (see briefSseMessages). */
export type StreamDetail = 'full' | 'brief';

/**
 * Run events for every browser from one LISTEN of this process (NotifyListener's
 * `runs$`, shared with waitForRun/watchRun): each notified run is read once, however
 * many streams are open, compared with the snapshot last seen, and its changes go to
 * every stream. Notifications that arrive while reads run fold into one read per batch
 * of runs. The changes of one read go out as one chunk of SSE text, serialized once for
 * all streams: a write per event per stream cost the worker in the same process more
 * than the reads did (20 streams took a W1 drain to a tenth).
 * Idle (no stream): nothing is listened to or read.
 */
@Injectable()
export class DashboardEvents implements OnModuleDestroy {
  private readonly chunks = { full: new Subject<Buffer>(), brief: new Subject<Buffer>() };
  private readonly snapshots = new Map<string, RunInfo>();
  private readonly pending = new Set<string>();
  private readonly logger = new Logger('PgflowDashboard');
  private source?: Subscription;
  private streams = 0;
  private reading = false;
  private poller?: NodeJS.Timeout;
  private polling = false;

  constructor(
    private readonly db: PgflowDatabase,
    private readonly listener: NotifyListener,
    @Inject(PGFLOW_OPTIONS) private readonly options: ResolvedPgflowOptions,
  ) {}

  /**
   * Every run and step change from now on, while subscribed, as SSE text (sseMessages, or
   * briefSseMessages for `'brief'`), encoded once for all streams: a string written to
   * each would be encoded for each.
   */
  stream(detail: StreamDetail = 'full'): Observable<Buffer> {
    return new Observable<Buffer>((subscriber) => {
      const sub = this.chunks[detail].subscribe(subscriber);
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
    // behind a transaction-mode pooler (or while the listening connection is lost) no
    // notification arrives: then streams are fed by polling, at the worker's poll interval
    this.poller = setInterval(() => void this.poll(), this.options.worker.pollIntervalMs);
    this.poller.unref();
  }

  private close(): void {
    this.source?.unsubscribe();
    this.source = undefined;
    clearInterval(this.poller);
    this.poller = undefined;
    this.pending.clear();
    this.snapshots.clear();
  }

  /**
   * Without notifications: reads the newest runs and the unfinished ones seen so far, and
   * publishes what changed. A run resumed long after it finished and left the newest
   * shows on its next notification or when the page is reloaded.
   */
  private async poll(): Promise<void> {
    if (this.listener.available || this.polling || !this.source) return;
    this.polling = true;
    try {
      const unfinished = [...this.snapshots.values()].filter((r) => !FINISHED_RUN_STATUSES.has(r.status)).map((r) => r.runId);
      const [newest, seen] = await Promise.all([
        listRuns(this.db, { limit: POLL_NEWEST }),
        unfinished.length ? findRuns(this.db, unfinished) : Promise.resolve([]),
      ]);
      const runs = new Map([...newest, ...seen].map((r) => [r.runId, r]));
      // the first poll reports the newest runs as they stand: news to no page, harmless to all
      const events = [...runs.values()].flatMap((run) => this.changes(run));
      if (events.length) this.publish(events);
    } catch (err) {
      this.logger.warn(`polling run changes: ${(err as Error).message}`);
    } finally {
      this.polling = false;
    }
  }

  private async read(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      await new Promise((r) => setTimeout(r, GATHER_MS));
      while (this.pending.size && this.source) {
        const batch = [...this.pending].slice(0, READ_BATCH);
        for (const id of batch) this.pending.delete(id);
        // one statement per batch: a query per run would take the pool from the worker
        const runs = await findRuns(this.db, batch).catch((err: Error) => {
          this.logger.warn(`reading changed runs: ${err.message}`);
          return [];
        });
        const events = runs.flatMap((run) => this.changes(run));
        if (events.length) this.publish(events);
      }
    } finally {
      this.reading = false;
    }
  }

  private publish(events: RunEvent[]): void {
    // each form is serialized only when a stream wants it, and once however many do
    if (this.chunks.full.observed) this.chunks.full.next(Buffer.from(sseMessages(events)));
    if (this.chunks.brief.observed) this.chunks.brief.next(Buffer.from(briefSseMessages(events)));
  }

  private changes(run: RunInfo): RunEvent[] {
    const prev = this.snapshots.get(run.runId);
    this.snapshots.delete(run.runId);
    this.snapshots.set(run.runId, run);
    if (this.snapshots.size > MAX_SNAPSHOTS) this.snapshots.delete(this.snapshots.keys().next().value as string);
    return diffRun(prev, run);
  }

  onModuleDestroy(): void {
    this.chunks.full.complete();
    this.chunks.brief.complete();
    this.close();
  }
}
