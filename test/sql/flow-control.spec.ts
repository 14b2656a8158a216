import { useSqlDatabase } from '../support/sql-harness';
import { claim, completeMany, count, defineFlow, expireLeases, startFlow, useAsyncCommit } from '../support/sql-helpers';

describe('start_tasks under flow control', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  const setLimits = (flow: string, step: string | null, c: number | null, ck: string | null, r: number | null = null,
    period: number | null = null, rk: string | null = null) =>
    pool().query('select pgflow.set_flow_control($1, $2, $3, $4, $5, $6, $7)', [flow, step, c, ck, r, period, rk]);

  it('finishes runs in the order they started: older runs\' ready tasks are claimed first', async () => {
    await defineFlow(pool(), 'dag', [{ slug: 'root' }, { slug: 'each', deps: ['root'], map: 'root' },
      { slug: 'agg', deps: ['each'] }]);
    const runs: string[] = [];
    for (let i = 0; i < 30; i++) runs.push((await startFlow(pool(), 'dag', {})).run_id);
    const finished: string[] = [];
    let claims = 0;
    for (;;) {
      const tasks = await claim(pool(), 'dag', 10);
      if (!tasks.length) break;
      claims++;
      await completeMany(pool(), tasks.map((t) => ({ ...t, output: t.step_slug === 'root' ? [1, 2, 3, 4, 5] : 1 })));
      const { rows } = await pool().query<{ run_id: string }>(
        `select run_id from pgflow.runs where status = 'completed' and not (run_id = any($1)) order by run_id`, [finished]);
      finished.push(...rows.map((r) => r.run_id).sort((a, b) => runs.indexOf(a) - runs.indexOf(b)));
      // half-way through the claims (7 tasks per run, 21 claims), runs have been completing all along
      if (claims === 10) expect(finished.length).toBeGreaterThanOrEqual(10);
    }
    expect(finished).toEqual(runs);
  });

  // Runs started in one statement share now(): their tasks tie on visible_at, and
  // without the run sequence came back in heap order, every root before any map.
  it.each([
    ['alone (the one-flow probe)', ['bulk_dag']],
    ['beside a limited flow (the round-robin claim)', ['bulk_dag', 'bulk_capped']],
  ])('works on runs started in one statement oldest first, claiming %s', async (_path, flows) => {
    await pool().query('truncate pgflow.runs cascade');
    await defineFlow(pool(), 'bulk_dag', [{ slug: 'root' }, { slug: 'each', deps: ['root'], map: 'root' },
      { slug: 'agg', deps: ['each'] }]);
    await defineFlow(pool(), 'bulk_capped', [{ slug: 'work' }]);
    await setLimits('bulk_capped', null, 1, null);
    const { rows: started } = await pool().query<{ run_id: string }>(
      `select (pgflow.start_flow('bulk_dag', '{}'::jsonb)).run_id from generate_series(1, 30) g`);
    const runs = started.map((r) => r.run_id);
    const finished: string[] = [];
    let claims = 0;
    for (;;) {
      const tasks = await claim(pool(), flows, 10);
      if (!tasks.length) break;
      claims++;
      // older runs' next steps before newer runs' roots: a root is claimed only with no
      // ready task of an older run left
      const roots = tasks.filter((t) => t.step_slug === 'root').map((t) => runs.indexOf(t.run_id));
      const others = tasks.filter((t) => t.step_slug !== 'root').map((t) => runs.indexOf(t.run_id));
      if (roots.length && others.length) expect(Math.max(...others)).toBeLessThan(Math.min(...roots));
      await completeMany(pool(), tasks.map((t) => ({ ...t, output: t.step_slug === 'root' ? [1, 2, 3, 4, 5] : 1 })));
      const { rows } = await pool().query<{ run_id: string }>(
        `select run_id from pgflow.runs where status = 'completed' and run_id = any($1) and not (run_id = any($2))`,
        [runs, finished]);
      finished.push(...rows.map((r) => r.run_id).sort((a, b) => runs.indexOf(a) - runs.indexOf(b)));
      if (claims === 10) expect(finished.length).toBeGreaterThanOrEqual(10);
    }
    expect(finished).toEqual(runs);
  });

  it('admits tasks while their concurrency bucket has room; a finished task or an expired lease frees its slot', async () => {
    await defineFlow(pool(), 'capped', [{ slug: 'work' }], { maxAttempts: 5 });
    await setLimits('capped', null, 2, null);
    const runs: string[] = [];
    for (let i = 0; i < 5; i++) runs.push((await startFlow(pool(), 'capped', {})).run_id);
    const first = await claim(pool(), 'capped', 10);
    expect(first).toHaveLength(2);
    expect(await claim(pool(), 'capped', 10)).toEqual([]);
    await completeMany(pool(), [{ ...first[0], output: 1 }]);
    const second = await claim(pool(), 'capped', 10);
    expect(second).toHaveLength(1);
    // the held-back tasks wait queued, none failed
    expect(await count(pool(), `select 1 from pgflow.step_tasks where flow_slug = 'capped' and status = 'queued'`)).toBe(2);
    // the lease of first[1] runs out: its slot comes back (the task is reclaimed as a failed attempt)
    await expireLeases(pool(), first[1].run_id);
    const third = await claim(pool(), 'capped', 10);
    expect(third).toHaveLength(1);
    expect(await claim(pool(), 'capped', 10)).toEqual([]);
    // a limit change applies at the next claim (the one visible task left; the reclaimed one waits for its retry delay)
    await setLimits('capped', null, 4, null);
    expect(await claim(pool(), 'capped', 10)).toHaveLength(1);
  });

  it('keeps at most `limit` starts in any window of the rate period, retries included', async () => {
    await defineFlow(pool(), 'paced', [{ slug: 'call' }], { maxAttempts: 3, baseDelay: 0 });
    await setLimits('paced', 'call', null, null, 3, 10, null);
    for (let i = 0; i < 5; i++) await startFlow(pool(), 'paced', {});
    const first = await claim(pool(), 'paced', 10);
    expect(first).toHaveLength(3);
    await completeMany(pool(), first.map((t) => ({ ...t, output: 1 })));
    // finished or not, the three starts count for ten seconds
    expect(await claim(pool(), 'paced', 10)).toEqual([]);
    // nine seconds on, still inside the window; past it, room again
    await pool().query(`update pgflow.limit_starts set started_at = started_at - interval '9 seconds'`);
    expect(await claim(pool(), 'paced', 10)).toEqual([]);
    await pool().query(`update pgflow.limit_starts set started_at = started_at - interval '1.1 seconds'`);
    const later = await claim(pool(), 'paced', 10);
    expect(later).toHaveLength(2);
    // a retry is a start too: the window now holds two starts, so one failed task's retry fits, no more
    await pool().query('select pgflow.fail_task($1, $2, $3, $4, $5)',
      [later[0].run_id, later[0].step_slug, later[0].task_index, later[0].attempt, 'boom']);
    await pool().query('select pgflow.fail_task($1, $2, $3, $4, $5)',
      [later[1].run_id, later[1].step_slug, later[1].task_index, later[1].attempt, 'boom']);
    expect(await claim(pool(), 'paced', 10)).toHaveLength(1);
  });

  it('passes over a saturated key for another, and shares a batch among keys round-robin', async () => {
    await defineFlow(pool(), 'tenants', [{ slug: 'sync' }]);
    await setLimits('tenants', null, 2, 'tenant');
    for (let i = 0; i < 20; i++) await startFlow(pool(), 'tenants', { tenant: 'big' });
    await startFlow(pool(), 'tenants', { tenant: 'small' });
    await startFlow(pool(), 'tenants', {});
    const tasks = await claim(pool(), 'tenants', 10);
    const inputs = await pool().query<{ t: string | null }>(
      `select r.input->>'tenant' as t from pgflow.runs r where r.run_id = any($1) order by 1`, [tasks.map((t) => t.run_id)]);
    // two of big's (its limit), small's one, and the one of the runs without a tenant
    expect(inputs.rows.map((r) => r.t)).toEqual(['big', 'big', 'small', null]);
  });

  it('claims tasks queued before their flow had limits as unlimited, never leaving them stuck', async () => {
    await defineFlow(pool(), 'later_capped', [{ slug: 'work' }]);
    for (let i = 0; i < 3; i++) await startFlow(pool(), 'later_capped', {});
    await setLimits('later_capped', null, 1, null);
    await startFlow(pool(), 'later_capped', {});
    // the three older tasks (no limit key) and one limited task
    expect(await claim(pool(), 'later_capped', 10)).toHaveLength(4);
  });
});
