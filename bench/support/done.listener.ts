import { Client } from 'pg';

/** Channel on which peers' last handler of a chain or fan-out reports completion. */
export const DONE_CHANNEL = 'bench_done';

/**
 * For Postgres peers without a "wait for result" API (pg-boss, graphile-worker):
 * their final handler runs `pg_notify('bench_done', id)` and the orchestrator
 * LISTENs, which is the quickest a client of theirs could learn of it.
 */
export class DoneListener {
  private readonly waiting = new Map<string, () => void>();

  private constructor(private readonly client: Client) {
    client.on('notification', (n) => {
      const done = n.payload ? this.waiting.get(n.payload) : undefined;
      if (done) {
        this.waiting.delete(n.payload ?? '');
        done();
      }
    });
  }

  static async connect(url: string): Promise<DoneListener> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query(`listen ${DONE_CHANNEL}`);
    return new DoneListener(client);
  }

  /** Call before starting the work, then await the promise. */
  expect(id: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no completion for ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
