import { Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { Step, Workflow } from '../../lib';
import { UNSTORED_ALLOWANCE } from '../../lib/worker/result.flusher';
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

  it('past UNSTORED_ALLOWANCE results waiting to be stored, claims wait for completions', async () => {
    const total = UNSTORED_ALLOWANCE + 100;
    const maxConcurrency = 4;
    // the client app stores the flow definition; the runs are started in one statement
    await createApp({ providers: [Handled, SingleFlow], worker: { enabled: false } });
    const runs = await query<{ run_id: string }>(
      `select (pgflow.start_flow('bp_single', '{}'::jsonb)).run_id from generate_series(1, $1)`, [total]);
    expect(runs).toHaveLength(total);

    // complete_tasks locks each run first: a transaction holding the runs' locks keeps
    // every result unstored while claims (which lock no run) still go through
    const locker = new Client({ connectionString: db().url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('select 1 from pgflow.runs where run_id = any($1::uuid[]) for no key update',
        [runs.map((r) => r.run_id)]);

      const app = await createApp({ providers: [Handled, SingleFlow], worker: { maxConcurrency, batchSize: maxConcurrency } });
      const handled = app.get(Handled);
      await until('the allowance of handlers', () => handled.count >= UNSTORED_ALLOWANCE);
      // the handlers return at once; without backpressure their freed slots were claimed
      // again and every task ran within a second, its result waiting in memory. Here the
      // last claims in flight when the allowance filled may still land, no more.
      const bound = UNSTORED_ALLOWANCE + 2 * maxConcurrency;
      const windowEnd = Date.now() + 1500;
      let seen = 0;
      while (Date.now() < windowEnd) {
        const [{ n }] = await query<{ n: number }>(
          `select count(*)::int as n from pgflow.step_tasks where flow_slug = 'bp_single' and status = 'started'`);
        seen = Math.max(seen, handled.count);
        expect({ started: n <= bound, handled: handled.count <= bound }).toEqual({ started: true, handled: true });
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(seen).toBeGreaterThanOrEqual(UNSTORED_ALLOWANCE);

      await locker.query('rollback');
      await until('every run completed', async () => (await query<{ n: number }>(
        `select count(*)::int as n from pgflow.runs where flow_slug = 'bp_single' and status = 'completed'`))[0].n === total);
      expect(handled.count).toBe(total);
    } finally {
      await locker.end();
    }
  });
});
