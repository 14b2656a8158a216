import { Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { PgflowClient, Step, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

@Injectable()
class Handled {
  count = 0;
}

@Workflow({ slug: 'bp_single' })
class SingleFlow {
  constructor(private readonly handled: Handled) {}

  @Step()
  only(): number {
    return ++this.handled.count;
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('backpressure', () => {
  const { createApp, db, query } = useNestApps();

  it('a task holds its slot until its result is stored: claims never run ahead of completions', async () => {
    const client = (await createApp({ providers: [Handled, SingleFlow], worker: { enabled: false } })).get(PgflowClient);
    const runs = await Promise.all(Array.from({ length: 20 }, () => client.startRun(SingleFlow, {})));

    // complete_tasks locks each run first: a transaction holding the runs' locks keeps
    // every result unstored while claims (which lock no run) still go through
    const locker = new Client({ connectionString: db().url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select 1 from pgflow.runs where run_id = any($1::uuid[]) for no key update',
        [runs.map((r) => r.runId)]);

      const app = await createApp({ providers: [Handled, SingleFlow], worker: { maxConcurrency: 4, batchSize: 4 } });
      const handled = app.get(Handled);
      await until('the first 4 handlers', () => handled.count >= 4);
      // the handlers returned at once; without backpressure their freed slots were
      // claimed again and all 20 ran within milliseconds, their results piling up
      const windowEnd = Date.now() + 1000;
      while (Date.now() < windowEnd) {
        const [{ n }] = await query<{ n: number }>(
          `select count(*)::int as n from pgflow.step_tasks where flow_slug = 'bp_single' and status = 'started'`);
        expect({ started: n, handled: handled.count }).toEqual({ started: 4, handled: 4 });
        await new Promise((r) => setTimeout(r, 50));
      }

      await locker.query('rollback');
      await until('every run completed', async () => (await query<{ n: number }>(
        `select count(*)::int as n from pgflow.runs where flow_slug = 'bp_single' and status = 'completed'`))[0].n === 20);
      expect(handled.count).toBe(20);
    } finally {
      await locker.end();
    }
  });
});
