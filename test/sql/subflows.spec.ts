import { useSqlDatabase, withClient } from '../support/sql-harness';
import { claim, completeMany, defineFlow, expectPgError, fail, Json, startFlow, tasksOf } from '../support/sql-helpers';

/**
 * Subflows and compensation in SQL: a child's completion settles its parent's task in
 * the same transaction, a compensation is claimed like any task, and add_step refuses
 * subflow cycles.
 */
describe('subflows and compensation (SQL)', () => {
  const { pool } = useSqlDatabase();
  const childStart = (runId: string, step: string, idx: number, attempt: number, input: Json) => pool().query(
    'select * from pgflow.start_child_runs($1::jsonb)',
    [JSON.stringify([{ run_id: runId, step_slug: step, task_index: idx, attempt, input }])]);

  beforeAll(async () => {
    await defineFlow(pool(), 'kid', [{ slug: 'only' }]);
    await defineFlow(pool(), 'mom', [{ slug: 'spawn', subflow: 'kid' }, { slug: 'after', deps: ['spawn'] }]);
    await defineFlow(pool(), 'undo', [
      { slug: 'a', compensate: true }, { slug: 'b', deps: ['a'], compensate: true, maxAttempts: 1 },
      { slug: 'c', deps: ['b'], maxAttempts: 1 },
    ]);
  });

  it('completes the parent task in the transaction that completes the child, with the child output', async () => {
    const mom = await startFlow(pool(), 'mom', {});
    const [spawn] = await claim(pool(), 'mom');
    const [{ outcome }] = (await childStart(mom.run_id, 'spawn', 0, spawn.attempt, { n: 1 })).rows;
    expect(outcome).toBe('started');
    expect(await tasksOf(pool(), mom.run_id, 'spawn')).toMatchObject([{ status: 'waiting', lease_expires_at: null }]);
    const [kidTask] = await claim(pool(), 'kid');
    await withClient(pool(), async (c) => {
      await c.query('begin');
      await completeMany(c, [{ ...kidTask, output: { v: 2 } }]);
      // inside the child's completing transaction, before commit
      const { rows } = await c.query(`select status, output from pgflow.step_tasks where run_id = $1 and step_slug = 'spawn'`,
        [mom.run_id]);
      expect(rows).toEqual([{ status: 'completed', output: { only: { v: 2 } } }]);
      await c.query('commit');
    });
    const [after] = await claim(pool(), 'mom');
    expect(after).toMatchObject({ step_slug: 'after', input: { run: {}, spawn: { only: { v: 2 } } } });
  });

  it('hands out a compensation as a claimable task with its reason and the task output as input', async () => {
    const run = await startFlow(pool(), 'undo', {});
    for (const step of ['a', 'b']) {
      const [t] = await claim(pool(), 'undo');
      expect(t.step_slug).toBe(step);
      await completeMany(pool(), [{ ...t, output: `${step}-out` }]);
    }
    const [c] = await claim(pool(), 'undo');
    expect(await fail(pool(), c, 'boom')).toBe('failed');
    const status = async () => (await pool().query('select status from pgflow.runs where run_id = $1', [run.run_id])).rows[0].status;
    expect(await status()).toBe('compensating');
    // b depends on a: only b's compensation is claimable first
    const [undoB, ...none] = await claim(pool(), 'undo', 10);
    expect(none).toEqual([]);
    expect(undoB).toMatchObject({ step_slug: 'b', input: 'b-out', compensation: 'failed', attempt_number: 1 });
    expect(await fail(pool(), undoB, 'refund refused')).toBe('failed');
    expect(await status()).toBe('compensation_failed');
    await pool().query('select pgflow.retry_run($1)', [run.run_id]);
    const [again] = await claim(pool(), 'undo');
    expect(again).toMatchObject({ step_slug: 'b', compensation: 'failed' });
    await completeMany(pool(), [{ ...again, output: null }]);
    const [undoA] = await claim(pool(), 'undo');
    expect(undoA).toMatchObject({ step_slug: 'a', input: 'a-out' });
    await completeMany(pool(), [{ ...undoA, output: null }]);
    expect(await status()).toBe('failed');
  });

  it('refuses a subflow cycle and an unknown subflow in add_step', async () => {
    await defineFlow(pool(), 'ping', [{ slug: 'go' }]);
    await defineFlow(pool(), 'pong', [{ slug: 'go', subflow: 'ping' }]);
    await expectPgError(pool().query(`select pgflow.add_step('ping', 'back', p_subflow => 'pong')`), 'PGF01',
      'step "ping.back": subflow cycle: ping -> pong -> ping');
    await expectPgError(pool().query(`select pgflow.add_step('ping', 'lost', p_subflow => 'nowhere')`), 'PGF01',
      'step "ping.lost": subflow "nowhere" is not a defined flow');
  });
});
