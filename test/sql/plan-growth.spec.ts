import { useSqlDatabase, withClient } from '../support/sql-harness';
import { claim, complete, defineFlow, nestedPlans, startFlow, useAsyncCommit } from '../support/sql-helpers';

/**
 * The hot functions keep their plans for the whole session. Plans made on a fresh,
 * nearly empty database (where a seq scan is cheapest) must not turn into a read of
 * the whole history once the tables have grown.
 */
describe('hot-path plans made on an empty database, used after history grew', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);
  const HISTORY = 50_000;

  it('claims and completions still go by index (auto_explain), not by seq scans', async () => {
    await defineFlow(pool(), 'grow', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }]);
    await withClient(pool(), async (c) => {
      // no autovacuum: its ANALYZE would replan and hide a plan kept from the empty tables
      await c.query('alter table pgflow.step_tasks set (autovacuum_enabled = false)');
      await c.query('alter table pgflow.runs set (autovacuum_enabled = false)');
      await c.query('alter table pgflow.step_states set (autovacuum_enabled = false)');
      // this session plans its claims and completions while the tables are nearly empty
      for (let i = 0; i < 7; i++) {
        await startFlow(pool(), 'grow', {});
        const [a] = await claim(c, 'grow', 1);
        expect(await complete(c, a, i)).toBe(true);
      }
      // then the history grows: finished runs, their step states and tasks
      await pool().query(`
        with r as (
          insert into pgflow.runs (flow_slug, status, input, remaining_steps, completed_at)
          select 'grow', 'completed', '{}'::jsonb, 0, now() from generate_series(1, $1::int)
          returning run_id
        ), s as (
          insert into pgflow.step_states (run_id, flow_slug, step_slug, status, remaining_deps)
          select r.run_id, 'grow', x.slug, 'completed', 0 from r, (values ('a'), ('b')) x(slug)
          returning run_id, step_slug
        )
        insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, status, attempts_count, output)
        select s.run_id, 'grow', s.step_slug, 0, 'completed', 1, '1'::jsonb from s`, [HISTORY]);

      let plans: string[];
      try {
        plans = await nestedPlans(c, async () => {
          await startFlow(pool(), 'grow', {});
          // a claim, and completions that cascade and start the next step
          for (const task of await claim(c, 'grow', 10)) expect(await complete(c, task, 'last')).toBe(true);
        });
      } finally {
        await c.query('alter table pgflow.step_tasks reset (autovacuum_enabled)');
        await c.query('alter table pgflow.runs reset (autovacuum_enabled)');
        await c.query('alter table pgflow.step_states reset (autovacuum_enabled)');
      }
      expect(plans.some((p) => p.includes('Tid Scan on step_tasks'))).toBe(true);
      const scans = plans.flatMap((p) => p.match(/Seq Scan on (step_tasks|step_states|runs)\b/g) ?? []);
      expect(scans).toEqual([]);
    });
  });
});
