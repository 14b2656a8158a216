import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client, ClientConfig, Notification, Pool } from 'pg';
import { Subject } from 'rxjs';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { PgflowDatabase } from '../database/pgflow.database';
import { CONTROL_CHANNEL, RUNS_CHANNEL, TASKS_CHANNEL } from '../pgflow.constants';

const PROBE_CHANNEL = 'pgflow_probe';

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
 * (e.g. PGlite) it reports `available = false` and consumers rely on polling.
 */
@Injectable()
export class NotifyListener implements OnApplicationShutdown {
  readonly tasks$ = new Subject<string>();
  /** Every run change; only after `watchRuns()`. */
  readonly runs$ = new Subject<RunSignal>();
  /** Runs cancelled, failed or resumed: what running handlers must react to. */
  readonly control$ = new Subject<RunSignal>();
  readonly connected$ = new Subject<void>();
  available = false;

  private readonly logger = new Logger('Pgflow');
  private client?: Client;
  private starting?: Promise<void>;
  private stopped = false;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;
  private runsWanted = false;
  private watching?: Promise<void>;

  constructor(private readonly db: PgflowDatabase) {}

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

  private clientConfig(): ClientConfig {
    const driver = this.db.dataSource.driver as PostgresDriver;
    return { ...(driver.master as Pool).options, keepAlive: true };
  }

  private async connect(): Promise<void> {
    const client = new Client(this.clientConfig());
    try {
      await client.connect();
      client.on('error', (err) => this.lost(client, err));
      client.on('end', () => this.lost(client, new Error('connection ended')));
      const probe = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 2000);
        client.once('notification', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      await client.query(`listen ${PROBE_CHANNEL}`);
      // notify from another connection, as pgflow's functions will: PGlite's socket
      // server delivers a notification only to the connection that raised it
      await this.db.query(`select pg_notify('${PROBE_CHANNEL}', '')`);
      if (!(await probe)) {
        this.logger.warn('LISTEN/NOTIFY unavailable on this server; falling back to polling');
        this.available = false;
        client.removeAllListeners();
        // PGlite is one session: a LISTEN left behind would outlive this connection
        await client.query('unlisten *').catch(() => undefined);
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
    if (this.stopped || this.retryTimer) return;
    this.failures++;
    const delay = Math.min(30_000, 100 * 2 ** Math.min(this.failures, 9));
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
