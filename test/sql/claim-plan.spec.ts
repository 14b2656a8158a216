import { useSqlDatabase, withClient } from '../support/sql-harness';
import { claim, count, defineFlow, nestedPlans, startFlow, useAsyncCommit } from '../support/sql-helpers';

/**
 * Claim cost must not grow with finished history: with 100,000 completed tasks in
 * step_tasks, the claim query still walks the small partial index of queued tasks.
 */
describe('claim query plan with a large finished history', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);
  const HISTORY = 100_000;

  // the per-flow probe of start_tasks (tasks under no limit, in claim order)
  const CLAIM_SELECT = `
    select q.run_id, q.step_slug, q.task_index
      from pgflow.flows fl
     cross join lateral (
       select t.run_id, t.step_slug, t.task_index from pgflow.step_tasks t
        where t.status = 'queued' and t.flow_slug = fl.flow_slug and t.limit_key = '' and t.visible_at <= now()
        order by t.priority desc, t.visible_at
        limit 10
          for update skip locked) q`;

  beforeAll(async () => {
    await defineFlow(pool(), 'history', [{ slug: 'a' }]);
    await defineFlow(pool(), 'live', [{ slug: 'each', map: 'run' }]);
    const old = await startFlow(pool(), 'history', {});
    // 100,000 completed tasks, inserted set-based next to the run's own task 0
    await pool().query(
      `insert into pgflow.step_tasks (run_id, flow_slug, step_slug, task_index, status, attempts_count,
                                      visible_at, queued_at, started_at, completed_at, output)
       select $1, 'history', 'a', g, 'completed', 1,
              now() - make_interval(secs => g), now() - make_interval(secs => g),
              now() - make_interval(secs => g), now() - make_interval(secs => g), to_jsonb(g)
         from generate_series(1, $2::int) g`,
      [old.run_id, HISTORY],
    );
    // the history run is over: its own task 0 is no longer claimable either
    await pool().query('select pgflow.cancel_run($1)', [old.run_id]);
    await startFlow(pool(), 'live', Array.from({ length: 25 }, (_, i) => i));
    await pool().query('analyze pgflow.step_tasks');
    expect(await count(pool(), `select 1 from pgflow.step_tasks where status = 'completed'`)).toBe(HISTORY);
  });

  async function plan(sql: string, params: unknown[] = []): Promise<string> {
    const { rows } = await pool().query<{ 'QUERY PLAN': string }>(`explain ${sql}`, params);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  }

  it('EXPLAIN of the claim select uses step_tasks_queued_idx', async () => {
    const text = await plan(CLAIM_SELECT);
    expect(text).toContain('step_tasks_queued_idx');
    expect(text).not.toMatch(/Seq Scan on step_tasks/);
  });

  it('so does the flow-filtered form, also as a generic plan (as inside PL/pgSQL)', async () => {
    const filtered = `
      select q.run_id, q.step_slug, q.task_index
        from pgflow.flows fl
       cross join lateral (
         select t.run_id, t.step_slug, t.task_index from pgflow.step_tasks t
          where t.status = 'queued' and t.flow_slug = fl.flow_slug and t.limit_key = '' and t.visible_at <= now()
          order by t.priority desc, t.visible_at
          limit $2::int
            for update skip locked) q
       where $1::text[] is null or fl.flow_slug = any($1::text[])`;
    expect(await plan(filtered, [['live'], 10])).toContain('step_tasks_queued_idx');
    await withClient(pool(), async (c) => {
      await c.query('set plan_cache_mode = force_generic_plan');
      try {
        await c.query(`prepare claim_generic(text[], int) as ${filtered.replace(/\$1::text\[\]/g, '$1').replace('$2::int', '$2')}`);
        const { rows } = await c.query<{ 'QUERY PLAN': string }>(`explain execute claim_generic(null, 10)`);
        expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('step_tasks_queued_idx');
      } finally {
        await c.query('deallocate all');
        await c.query('reset plan_cache_mode');
      }
    });
  });

  it('the claim inside start_tasks uses step_tasks_queued_idx, as a generic plan made once (auto_explain)', async () => {
    await withClient(pool(), async (c) => {
      const plans = await nestedPlans(c, async () => {
        // past the five custom plans after which PL/pgSQL may switch to a generic one;
        // each claim is its own transaction, as a worker's are
        for (let i = 0; i < 7; i++) {
          const claimed = await claim(c, ['live'], 2);
          expect(claimed).toHaveLength(2);
          expect(new Set(claimed.map((t) => t.flow_slug))).toEqual(new Set(['live']));
        }
      });
      // the choice (locks the tasks) and the claim (updates them by ctid) are two statements
      const choicePlans = plans.filter((n) => n.includes('for update skip locked') && n.includes('v_chosen := array('));
      const claimPlans = plans.filter((n) => n.includes('with claimed as'));
      expect(choicePlans).toHaveLength(7);
      expect(claimPlans).toHaveLength(7);
      for (const plan of choicePlans) {
        expect(plan).toContain('step_tasks_queued_idx');
        expect(plan).not.toMatch(/Seq Scan on (step_tasks|flows)/);
        // a generic plan refers to the function's arguments as parameters; a custom
        // plan (made anew on every call, which cost more than the claim) inlines them
        // (a worker of one flow probes it alone: p_flow_slugs[1])
        expect(plan).toMatch(/flow_slug = (ANY \(\$\d+\)|\(\$\d+\)\[1\])/);
      }
      for (const plan of claimPlans) {
        expect(plan).toContain('Tid Scan on step_tasks');
        expect(plan).not.toMatch(/Seq Scan on step_tasks/);
      }
    });
  });
  it('the functions on the claim and completion path are planned once per session, never with a seq scan', async () => {
    const hot = ['cascade_finished', 'complete_tasks', 'start_ready_steps', 'start_tasks'];
    const { rows } = await pool().query<{ proname: string; proconfig: string[] }>(
      `select proname, proconfig from pg_proc
        where pronamespace = 'pgflow'::regnamespace and proname = any($1) order by proname`, [hot]);
    expect(rows).toEqual(hot.map((proname) => ({
      proname, proconfig: ['plan_cache_mode=force_generic_plan', 'enable_seqscan=off'],
    })));
    // SQL-language functions are planned anew by every query calling them
    const { rows: sql } = await pool().query(
      `select proname from pg_proc where pronamespace = 'pgflow'::regnamespace
          and prolang = (select oid from pg_language where lanname = 'sql') and proname in ('build_step_input', 'notify_run')`);
    expect(sql).toEqual([]);
  });
});
