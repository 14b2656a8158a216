import { useSqlDatabase } from '../support/sql-harness';
import { claim, count, defineFlow, drain, fail, startFlow, useAsyncCommit } from '../support/sql-helpers';

describe('prune_runs', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  const prune = async (olderThan: string, limit: number) =>
    (await pool().query<{ n: number }>(
      `select pgflow.prune_runs(now() - $1::interval, $2) as n`, [olderThan, limit],
    )).rows[0].n;
  // column is one of three fixed names, never a value
  const age = (runId: string, column: 'completed_at' | 'failed_at' | 'cancelled_at') => pool().query(
    `update pgflow.runs set ${column} = now() - interval '2 days', created_at = now() - interval '3 days'
      where run_id = $1`,
    [runId],
  );
  const remaining = async () =>
    (await pool().query<{ run_id: string }>('select run_id from pgflow.runs order by run_id')).rows.map((r) => r.run_id).sort();

  it('deletes only finished runs that ended before the cutoff, with their states and tasks', async () => {
    await defineFlow(pool(), 'prune_ok', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }]);
    await defineFlow(pool(), 'prune_bad', [{ slug: 'a' }], { maxAttempts: 1 });
    await defineFlow(pool(), 'prune_live', [{ slug: 'a' }]);

    const oldDone = await startFlow(pool(), 'prune_ok', {});
    const newDone = await startFlow(pool(), 'prune_ok', {});
    await drain(pool(), 'prune_ok', () => 'x');
    const oldFailed = await startFlow(pool(), 'prune_bad', {});
    const [badTask] = await claim(pool(), 'prune_bad');
    expect(await fail(pool(), badTask, 'no')).toBe('failed');
    const oldCancelled = await startFlow(pool(), 'prune_live', {});
    await pool().query('select pgflow.cancel_run($1)', [oldCancelled.run_id]);
    const oldRunning = await startFlow(pool(), 'prune_live', {});
    const queued = await startFlow(pool(), 'prune_live', {}, { startAt: new Date(Date.now() + 3600_000) });

    await age(oldDone.run_id, 'completed_at');
    await age(oldFailed.run_id, 'failed_at');
    await age(oldCancelled.run_id, 'cancelled_at');
    await pool().query(`update pgflow.runs set created_at = now() - interval '3 days', started_at = now() - interval '3 days'
                         where run_id = $1`, [oldRunning.run_id]);

    expect(await prune('1 day', 1000)).toBe(3);
    expect(await remaining()).toEqual([newDone.run_id, oldRunning.run_id, queued.run_id].sort());
    for (const table of ['step_states', 'step_tasks']) {
      expect(await count(pool(), `select 1 from pgflow.${table} where run_id = any($1::uuid[])`,
        [[oldDone.run_id, oldFailed.run_id, oldCancelled.run_id]])).toBe(0);
    }
    expect(await count(pool(), 'select 1 from pgflow.step_tasks where run_id = $1', [newDone.run_id])).toBe(2);
    expect(await prune('1 day', 1000)).toBe(0);
  });

  it('deletes at most the limit per call', async () => {
    await defineFlow(pool(), 'prune_many', [{ slug: 'a' }]);
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await startFlow(pool(), 'prune_many', { i }));
    await drain(pool(), 'prune_many', () => 1);
    for (const r of runs) await age(r.run_id, 'completed_at');
    expect([await prune('1 day', 2), await prune('1 day', 2), await prune('1 day', 2), await prune('1 day', 2)])
      .toEqual([2, 2, 1, 0]);
    expect(await count(pool(), `select 1 from pgflow.runs where flow_slug = 'prune_many'`)).toBe(0);
  });
  it('leaves no row of a pruned run in any run-owned table, and those of a kept run untouched', async () => {
    await defineFlow(pool(), 'prune_clean', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }, { slug: 'c', deps: ['a'] }]);
    const gone = await startFlow(pool(), 'prune_clean', {});
    const kept = await startFlow(pool(), 'prune_clean', {});
    for (const r of [gone, kept]) {
      await pool().query(`insert into pgflow.signals (run_id, name, signal_id) values ($1, 'go', 's1'), ($1, 'go', 's2')`,
        [r.run_id]);
    }
    await drain(pool(), 'prune_clean', () => 'x');
    await age(gone.run_id, 'completed_at');
    const rows = (runId: string) => Promise.all(['runs', 'step_states', 'step_tasks', 'signals'].map(
      (table) => count(pool(), `select 1 from pgflow.${table} where run_id = $1`, [runId])));
    expect(await rows(gone.run_id)).toEqual([1, 3, 3, 2]);

    expect(await prune('1 day', 1000)).toBe(1);
    expect(await rows(gone.run_id)).toEqual([0, 0, 0, 0]);
    expect(await rows(kept.run_id)).toEqual([1, 3, 3, 2]);
  });

  it('skips a run another transaction holds locked (one finishing, say) and deletes it on a later call', async () => {
    await defineFlow(pool(), 'prune_locked', [{ slug: 'a' }]);
    const held = await startFlow(pool(), 'prune_locked', {});
    const free = await startFlow(pool(), 'prune_locked', {});
    await drain(pool(), 'prune_locked', () => 1);
    await age(held.run_id, 'completed_at');
    await age(free.run_id, 'completed_at');
    const other = await pool().connect();
    try {
      await other.query('begin');
      await other.query('select 1 from pgflow.runs where run_id = $1 for update', [held.run_id]);
      expect(await prune('1 day', 1000)).toBe(1);
      expect(await count(pool(), 'select 1 from pgflow.step_tasks where run_id = $1', [held.run_id])).toBe(1);
      await other.query('commit');
    } finally {
      other.release();
    }
    expect(await prune('1 day', 1000)).toBe(1);
    expect(await count(pool(), `select 1 from pgflow.runs where flow_slug = 'prune_locked'`)).toBe(0);
  });
});
