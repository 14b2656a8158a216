import { PoolClient } from 'pg';
import { useSqlDatabase } from '../support/sql-harness';
import {
  claim, ClaimedTask, completeMany, count, defineFlow, expectCompleted, startFlow, useAsyncCommit,
} from '../support/sql-helpers';

describe('concurrent claimers', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);
  const N = 5000;

  it(`two connections claiming in batches of 10 get each of ${N} tasks exactly once`, async () => {
    await defineFlow(pool(), 'swarm', [{ slug: 'each', map: 'run' }]);
    const input = Array.from({ length: N }, (_, i) => i);
    const run = await startFlow(pool(), 'swarm', input);

    /**
     * Claims until nothing is left; completes what it holds every 100 tasks (output =
     * 2 * element), so completions interleave with the other connection's claims.
     */
    async function worker(client: PoolClient, workerId: string): Promise<number[]> {
      const got: number[] = [];
      let held: ClaimedTask[] = [];
      const flush = async () => {
        await completeMany(client, held.map((t) => ({ ...t, output: (t.input as number) * 2 })));
        held = [];
      };
      for (;;) {
        const tasks = await claim(client, 'swarm', 10, workerId);
        if (tasks.length === 0) break;
        for (const t of tasks) {
          expect(t.input).toBe(t.task_index);
          expect(t.attempt).toBe(1);
          got.push(t.task_index);
        }
        held.push(...tasks);
        if (held.length >= 100) await flush();
      }
      if (held.length > 0) await flush();
      return got;
    }

    const clients = [await pool().connect(), await pool().connect()];
    let results: number[][];
    try {
      results = await Promise.all(clients.map((c, i) => worker(c, `claimer-${i}`)));
    } finally {
      for (const c of clients) c.release();
    }

    const all = results.flat();
    expect(all).toHaveLength(N);
    expect(new Set(all).size).toBe(N);
    for (const r of results) expect(r.length).toBeGreaterThan(0);
    expect(await count(pool(), `select 1 from pgflow.step_tasks where run_id = $1 and status = 'completed' and attempts_count = 1`,
      [run.run_id])).toBe(N);
    // each claimer's tasks are recorded as its own
    for (const [i, r] of results.entries()) {
      expect(await count(pool(), 'select 1 from pgflow.step_tasks where run_id = $1 and claimed_by = $2', [run.run_id, `claimer-${i}`]))
        .toBe(r.length);
    }
    await expectCompleted(pool(), run.run_id, { each: input.map((i) => i * 2) });
  });
});
