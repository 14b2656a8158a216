import { useSqlDatabase, withClient } from '../support/sql-harness';
import {
  claim, complete, completeMany, defineFlow, drain, expectCompleted, getRun, Json, startFlow, stepStates,
  stepStatuses, tasksOf, useAsyncCommit,
} from '../support/sql-helpers';

describe('cascade: steps start when their dependencies finish', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  it('runs a linear chain one step at a time, passing outputs along', async () => {
    await defineFlow(pool(), 'chain', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }, { slug: 'c', deps: ['b'] }]);
    const run = await startFlow(pool(), 'chain', { n: 1 });
    expect(run).toMatchObject({ status: 'started', remaining_steps: 3, input: { n: 1 } });
    expect(await stepStatuses(pool(), run.run_id)).toEqual({ a: 'started', b: 'created', c: 'created' });

    const [a, ...moreA] = await claim(pool(), 'chain');
    expect(moreA).toEqual([]);
    expect(a).toMatchObject({ step_slug: 'a', task_index: 0, attempt: 1, input: { run: { n: 1 } }, run_input: { n: 1 } });
    expect(await claim(pool(), 'chain')).toEqual([]); // b waits for a
    expect(await complete(pool(), a, { a: 1 })).toBe(true);

    const states = await stepStates(pool(), run.run_id);
    expect(states.a).toMatchObject({ status: 'completed', output: { a: 1 }, remaining_tasks: 0 });
    expect(states.b).toMatchObject({ status: 'started', remaining_deps: 0, remaining_tasks: 1 });
    expect(states.c).toMatchObject({ status: 'created', remaining_deps: 1 });
    expect((await getRun(pool(), run.run_id)).remaining_steps).toBe(2);

    const [b] = await claim(pool(), 'chain');
    expect(b).toMatchObject({ step_slug: 'b', input: { run: { n: 1 }, a: { a: 1 } } });
    expect(await complete(pool(), b, 'from b')).toBe(true);
    const [c] = await claim(pool(), 'chain');
    expect(c).toMatchObject({ step_slug: 'c', input: { run: { n: 1 }, b: 'from b' } });
    expect(await getRun(pool(), run.run_id)).toMatchObject({ status: 'started', remaining_steps: 1 });
    expect(await complete(pool(), c, [1, 2])).toBe(true);

    const done = await getRun(pool(), run.run_id);
    expect(done.remaining_steps).toBe(0);
    await expectCompleted(pool(), run.run_id, { c: [1, 2] });
    expect(done.completed_at).toBeInstanceOf(Date);
    // a second completion of a finished task is ignored and changes nothing
    expect(await complete(pool(), c, 'again')).toBe(false);
    expect((await getRun(pool(), run.run_id)).output).toEqual({ c: [1, 2] });
  });

  it('joins a diamond: the join step gets {run, b, c} and runs once', async () => {
    await defineFlow(pool(), 'diamond', [
      { slug: 'a' }, { slug: 'b', deps: ['a'] }, { slug: 'c', deps: ['a'] }, { slug: 'd', deps: ['b', 'c'] },
    ]);
    const run = await startFlow(pool(), 'diamond', { x: 2 });
    const [a] = await claim(pool(), 'diamond');
    await complete(pool(), a, { fromA: true });

    const bc = await claim(pool(), 'diamond');
    expect(bc.map((t) => t.step_slug).sort()).toEqual(['b', 'c']);
    for (const t of bc) expect(t.input).toEqual({ run: { x: 2 }, a: { fromA: true } });
    const b = bc.find((t) => t.step_slug === 'b');
    const c = bc.find((t) => t.step_slug === 'c');
    if (!b || !c) throw new Error('b and c must both be claimed');

    await complete(pool(), b, { fromB: 1 });
    expect(await stepStates(pool(), run.run_id)).toMatchObject({ d: { status: 'created', remaining_deps: 1 } });
    expect(await claim(pool(), 'diamond')).toEqual([]);
    await complete(pool(), c, { fromC: 2 });

    const [d, ...more] = await claim(pool(), 'diamond');
    expect(more).toEqual([]);
    expect(d).toMatchObject({ step_slug: 'd', input: { run: { x: 2 }, b: { fromB: 1 }, c: { fromC: 2 } } });
    await complete(pool(), d, 'joined');
    await expectCompleted(pool(), run.run_id, { d: 'joined' });
    expect(await tasksOf(pool(), run.run_id, 'd')).toHaveLength(1);
  });

  it('builds the run output from every leaf step, keyed by slug', async () => {
    await defineFlow(pool(), 'leaves', [
      { slug: 'root' }, { slug: 'left', deps: ['root'] }, { slug: 'right', deps: ['root'] }, { slug: 'solo' },
    ]);
    const run = await startFlow(pool(), 'leaves', 'text input');
    const handled = await drain(pool(), 'leaves', (t) => ({ step: t.step_slug, input: t.input }));
    expect(handled.map((t) => t.step_slug).sort()).toEqual(['left', 'right', 'root', 'solo']);
    const done = await getRun(pool(), run.run_id);
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({
      left: { step: 'left', input: { run: 'text input', root: { step: 'root', input: { run: 'text input' } } } },
      right: { step: 'right', input: { run: 'text input', root: { step: 'root', input: { run: 'text input' } } } },
      solo: { step: 'solo', input: { run: 'text input' } },
    });
  });

  it('creates initialTasks N tasks with the same input and collects their outputs by index', async () => {
    await defineFlow(pool(), 'fanout', [
      { slug: 'seed' }, { slug: 'work', deps: ['seed'], initialTasks: 4 }, { slug: 'sum', deps: ['work'] },
    ]);
    const run = await startFlow(pool(), 'fanout', { k: 'v' });
    const [seed] = await claim(pool(), 'fanout');
    await complete(pool(), seed, 10);
    expect(await stepStates(pool(), run.run_id)).toMatchObject({ work: { total_tasks: 4, remaining_tasks: 4 } });

    const work = await claim(pool(), 'fanout', 10);
    expect(work.map((t) => t.task_index).sort()).toEqual([0, 1, 2, 3]);
    for (const t of work) expect(t.input).toEqual({ run: { k: 'v' }, seed: 10 });

    // complete in reverse index order, in two batches
    const byIndex = [...work].sort((x, y) => y.task_index - x.task_index);
    await completeMany(pool(), byIndex.slice(0, 2).map((t) => ({ ...t, output: `out${t.task_index}` })));
    expect(await stepStates(pool(), run.run_id)).toMatchObject({ work: { status: 'started', remaining_tasks: 2 } });
    await completeMany(pool(), byIndex.slice(2).map((t) => ({ ...t, output: `out${t.task_index}` })));

    const states = await stepStates(pool(), run.run_id);
    expect(states.work).toMatchObject({ status: 'completed', output: ['out0', 'out1', 'out2', 'out3'] });
    const [sum] = await claim(pool(), 'fanout');
    expect(sum.input).toEqual({ run: { k: 'v' }, work: ['out0', 'out1', 'out2', 'out3'] });
    await complete(pool(), sum, 'total');
    await expectCompleted(pool(), run.run_id, { sum: 'total' });
  });

  it('keeps null and scalar outputs as they are', async () => {
    await defineFlow(pool(), 'scalars', [{ slug: 'nothing' }, { slug: 'num' }, { slug: 'after', deps: ['nothing', 'num'] }]);
    const run = await startFlow(pool(), 'scalars', {});
    const outputs: Record<string, Json> = { nothing: null, num: 0 };
    const handled = await drain(pool(), 'scalars', (t) => (t.step_slug === 'after' ? t.input : outputs[t.step_slug]));
    expect(handled).toHaveLength(3);
    expect((await getRun(pool(), run.run_id)).output).toEqual({ after: { run: {}, nothing: null, num: 0 } });
  });
  it('a run whose last step completes is written once: counted down and completed in one update', async () => {
    await defineFlow(pool(), 'one_write', [{ slug: 'only' }]);
    const run = await startFlow(pool(), 'one_write', {});
    const [task] = await claim(pool(), 'one_write');
    await withClient(pool(), async (c) => {
      // n_tup_upd of this backend (what it has not yet flushed to the shared counters
      // included), read on both sides of the completion: no other session's work in it
      const updates = async () => Number((await c.query<{ n: string }>(
        `select n_tup_upd::text as n from pg_stat_xact_user_tables where relid = 'pgflow.runs'::regclass`)).rows[0].n);
      await c.query('begin');
      try {
        const before = await updates();
        expect(await complete(c, task, 'done')).toBe(true);
        expect(await updates() - before).toBe(1);
      } finally {
        await c.query('commit');
      }
    });
    await expectCompleted(pool(), run.run_id, { only: 'done' });
  });
});
