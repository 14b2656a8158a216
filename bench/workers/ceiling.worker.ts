import { Client } from 'pg';
import type { CeilingSettings } from '../engines/ceiling.engine';
import { workerSettings } from '../engines/engine';
import { runWorker } from './worker.runtime';

const CLAIM = `update jobs set status = 1, claimed_at = now()
  where id in (select id from jobs where status = 0 order by id limit $1 for update skip locked)
  returning id`;
const COMPLETE = 'update jobs set status = 2, completed_at = now() where id = any($1::bigint[])';
const IDLE_MS = 5;

// The raw Postgres limit: each loop claims N and completes them, nothing else.
runWorker(async (progress, env) => {
  const { loops, claim } = workerSettings<CeilingSettings>();
  const clients = await Promise.all(Array.from({ length: loops }, async () => {
    const c = new Client({ connectionString: env.dbUrl });
    await c.connect();
    return c;
  }));
  let running = false;
  const loop = async (c: Client) => {
    while (running) {
      const { rows } = await c.query<{ id: string }>(CLAIM, [claim]);
      if (!rows.length) {
        await new Promise((r) => setTimeout(r, IDLE_MS));
        continue;
      }
      await c.query(COMPLETE, [rows.map((r) => r.id)]);
      progress.handled += rows.length;
    }
  };
  let done: Promise<unknown> = Promise.resolve();
  return {
    async start() {
      running = true;
      done = Promise.all(clients.map(loop));
    },
    async stop() {
      running = false;
      await done;
      await Promise.all(clients.map((c) => c.end()));
    },
  };
});
