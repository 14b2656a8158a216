import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { Client, Notification } from 'pg';
import { Subject } from 'rxjs';
import { PgflowDatabase } from './pgflow.database';
import { sqlState } from '../core/errors/sql-error.mapper';
import { ResolvedPgflowOptions } from '../core/options.resolver';
import { CONTROL_CHANNEL, PGFLOW_OPTIONS, RUNS_CHANNEL, TASKS_CHANNEL } from '../core/pgflow.constants';
import { backoffMs } from '../core/backoff';
import { dedicatedConnectionConfig } from './pg-driver.adapter';
import { notify } from './queries/notify.queries';

/** How long the probe waits for its own notification. */
const PROBE_TIMEOUT_MS = 2000;

/** A run changed: `status` is the run's status at the time of the change. */
export interface RunSignal {
  runId: string;
  status: string;
}

/**
 * One dedicated connection LISTENing on pgflow's channels: tasks and run control
 * from `start()`, every run change only once `watchRuns()` was called (a process
 * that never waits for or watches a run is not sent every run's completion).
 * Reconnects with backoff and announces each (re)connection on `connected$` so
 * consumers re-check state they may have missed. Where notifications never arrive
 * (a transaction-mode pooler, PGlite) it says why, reports `available = false`, and
 * consumers rely on polling.
 */
@Injectable()
export class NotifyListener implements OnApplicationShutdown {
  readonly tasks$ = new Subject<string>();
  /** Every run change; only after `watchRuns()`. */
  readonly runs$ = new Subject<RunSignal>();
  /** Runs cancelled, failed or resumed: what running handlers must react to. */
  readonly control$ = new Subject<RunSignal>();
  readonly connected$ = new Subject<void>();
  /** Listening right now; false where notifications do not arrive (consumers poll instead). */
  available = false;

  private readonly logger = new Logger('Pgflow');
  private client?: Client;
  private starting?: Promise<void>;
  private stopped = false;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private runsWanted = false;
  private watching?: Promise<void>;
  private readonly pollIntervalMs: number;

  constructor(
    private readonly db: PgflowDatabase,
    @Inject(PGFLOW_OPTIONS) options: ResolvedPgflowOptions,
  ) {
    this.pollIntervalMs = options.worker.pollIntervalMs;
  }

  /** Idempotent; resolves once listening (or once known unavailable). */
  start(): Promise<void> {
    this.stopped = false;
    this.starting ??= this.connect();
    return this.starting;
  }

  /** Starts, and LISTENs on every run change too; resolves once that is in effect. */
  watchRuns(): Promise<void> {
    this.watching ??= this.start().then(async () => {
      this.runsWanted = true;
      // the connection made so far does not listen there yet; reconnections will
      const client = this.client;
      if (client) await client.query(`listen ${RUNS_CHANNEL}`).catch((err: Error) => this.lost(client, err));
    });
    return this.watching;
  }

  private async connect(): Promise<void> {
    const client = new Client(dedicatedConnectionConfig(this.db.dataSource));
    try {
      await client.connect();
      client.on('error', (err) => this.lost(client, err));
      client.on('end', () => this.lost(client, new Error('connection ended')));
      const unavailable = await this.probe(client);
      if (unavailable) {
        this.logger.warn(`LISTEN/NOTIFY unavailable (${unavailable}); falling back to polling every ${this.pollIntervalMs} ms`);
        this.available = false;
        client.removeAllListeners();
        await client.end().catch(() => undefined);
        return;
      }
      client.on('notification', (n) => this.dispatch(n));
      await client.query(`listen ${TASKS_CHANNEL}`);
      await client.query(`listen ${CONTROL_CHANNEL}`);
      if (this.runsWanted) await client.query(`listen ${RUNS_CHANNEL}`);
      this.client = client;
      this.available = true;
      if (this.failures > 0) this.logger.log('notification connection restored');
      this.failures = 0;
      this.connected$.next();
    } catch (err) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
      this.lost(undefined, err as Error);
    }
  }

  /**
   * Whether notifications reach `client`: it LISTENs on a channel of its own, another
   * connection NOTIFYs there (as pgflow's functions do: PGlite's socket server delivers
   * a notification only to the connection that raised it), and the notification must
   * arrive. Resolves with why not, or undefined when they work.
   *
   * Behind a transaction-mode pooler the LISTEN lands on a server connection that other
   * clients get once the statement is done, and `client`, idle, holds none: what that
   * server connection receives meanwhile is dropped by the pooler (PgBouncer logs "got
   * packet 'A' from server when not linked") or goes to whichever client holds it. So
   * only a kept session passes: a notification can reach an idle client only through
   * its own server connection. The channel is unique to this probe because a shared one
   * could pass it wrongly: another process's probe notification, arriving while this
   * client's LISTEN runs on a server connection where an earlier client LISTENed on the
   * same channel, reaches this client.
   */
  private async probe(client: Client): Promise<string | undefined> {
    const channel = `pgflow_probe_${randomBytes(6).toString('hex')}`;
    let received!: () => void;
    const arrived = new Promise<void>((resolve) => (received = resolve));
    const onNotification = (n: Notification) => {
      if (n.channel === channel) received();
    };
    client.on('notification', onNotification);
    try {
      try {
        await client.query(`listen ${channel}`);
      } catch (err) {
        // the server answered (e.g. a pooler refusing LISTEN): no retry will change that
        if (sqlState(err) === undefined) throw err;
        return `LISTEN refused: ${(err as Error).message}`;
      }
      await notify(this.db, channel);
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([
        arrived.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      // PGlite is one session: a LISTEN left behind would outlive this connection
      await client.query(`unlisten ${channel}`).catch(() => undefined);
      return ok ? undefined : `no notification arrived within ${PROBE_TIMEOUT_MS / 1000} s — ` +
        'a transaction-mode pooler such as PgBouncer, or a server without LISTEN/NOTIFY such as PGlite?';
    } finally {
      client.off('notification', onNotification);
    }
  }

  private dispatch(n: Notification): void {
    if (n.channel === TASKS_CHANNEL) {
      this.tasks$.next(n.payload ?? '');
    } else if ((n.channel === RUNS_CHANNEL || n.channel === CONTROL_CHANNEL) && n.payload) {
      const [runId, status] = n.payload.split(':');
      (n.channel === RUNS_CHANNEL ? this.runs$ : this.control$).next({ runId, status });
    }
  }

  private lost(client: Client | undefined, err: Error): void {
    if (client && client !== this.client) return;
    this.client = undefined;
    this.available = false;
    if (this.stopped || this.retryTimer) return;
    this.failures++;
    const delay = backoffMs(this.failures, 100, 30_000);
    this.logger.warn(`notification connection lost (${err.message}); reconnecting in ${delay} ms`);
    client?.removeAllListeners();
    client?.end().catch(() => undefined);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.starting = this.connect();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    this.starting = undefined;
    this.watching = undefined;
    if (client) {
      client.removeAllListeners();
      await client.end().catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
