import { PoolClient } from 'pg';
import { useSqlDatabase, withClient } from '../support/sql-harness';
import { claim, completeMany, defineFlow, startFlow } from '../support/sql-helpers';

/**
 * The hot path's row versions: a run's completion (and a step state's counters) are
 * HOT updates, new index entries only where a row enters or leaves a claimable set.
 */
describe('write path', () => {
  const { pool } = useSqlDatabase();

  /** Columns named by each index of a table: keys, expressions and predicate. */
  const indexedColumns = async (table: string) => (await pool().query<{ index: string; columns: string[] }>(
    `select i.indexrelid::regclass::text as index,
            array(select a.attname from pg_attribute a
                   where a.attrelid = i.indrelid and a.attnum > 0
                     and (a.attnum = any(i.indkey)
                          or pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M')
                          or pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M'))
                   order by a.attname) as columns
       from pg_index i where i.indrelid = $1::regclass order by 1`, [table])).rows;

  it('no index of runs or step_states names a column a completion changes', async () => {
    const runs = await indexedColumns('pgflow.runs');
    expect(runs.length).toBeGreaterThan(0);
    for (const { index, columns } of runs) {
      for (const col of ['status', 'output', 'completed_at', 'remaining_steps']) {
        expect({ index, names: columns.includes(col) ? col : null }).toEqual({ index, names: null });
      }
    }
    for (const { index, columns } of await indexedColumns('pgflow.step_states')) {
      for (const col of ['status', 'output', 'completed_at', 'started_at', 'remaining_tasks', 'remaining_deps', 'total_tasks']) {
        expect({ index, names: columns.includes(col) ? col : null }).toEqual({ index, names: null });
      }
    }
  });

  /** This connection's writes to pgflow's tables so far (flushed first). */
  const writes = async (c: PoolClient) => {
    await c.query('select pg_stat_force_next_flush()');
    await c.query('select 1'); // the flush happens when a transaction ends
    await c.query('select pg_stat_clear_snapshot()');
    const { rows } = await c.query<{ relname: string; upd: string; hot: string }>(
      `select relname, n_tup_upd as upd, n_tup_hot_upd as hot from pg_stat_user_tables where schemaname = 'pgflow'`);
    return Object.fromEntries(rows.map((r) => [r.relname, { upd: Number(r.upd), hot: Number(r.hot) }]));
  };

  it('completing a batch of single-step runs updates each run and step state once, HOT', async () => {
    await withClient(pool(), async (c) => {
      await defineFlow(c, 'wp_single', [{ slug: 'only' }]);
      for (let i = 0; i < 20; i++) await startFlow(c, 'wp_single', { i });
      const tasks = await claim(c, 'wp_single', 20);
      expect(tasks).toHaveLength(20);
      const before = await writes(c);
      const res = await completeMany(c, tasks.map((t) => ({ ...t, output: { done: t.run_id } })));
      expect(res.every((r) => r.accepted)).toBe(true);
      const after = await writes(c);
      const delta = (t: string) => ({ upd: after[t].upd - before[t].upd, hot: after[t].hot - before[t].hot });
      expect(delta('runs')).toEqual({ upd: 20, hot: 20 });
      expect(delta('step_states')).toEqual({ upd: 20, hot: 20 });
      // the task leaves the started set: one new version, indexed
      expect(delta('step_tasks').upd).toBe(20);
    });
  });

  it("a completed run's deadline is cleared: runs_timeout_idx holds only live runs", async () => {
    await defineFlow(pool(), 'wp_deadline', [{ slug: 'only' }], { runTimeout: 3600 });
    const run = await startFlow(pool(), 'wp_deadline', {});
    expect((run as unknown as { timeout_at: Date | null }).timeout_at).not.toBeNull();
    const [task] = await claim(pool(), 'wp_deadline');
    await completeMany(pool(), [{ ...task, output: 1 }]);
    const { rows } = await pool().query<{ status: string; timeout_at: Date | null }>(
      'select status, timeout_at from pgflow.runs where run_id = $1', [run.run_id]);
    expect(rows).toEqual([{ status: 'completed', timeout_at: null }]);
  });
});
