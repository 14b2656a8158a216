import { useSqlDatabase } from '../support/sql-harness';
import {
  claim, complete, completeMany, count, defineFlow, drain, expectCompleted, expectPgError, getRun, startFlow,
  stepStates, stepStatuses, tasksOf, useAsyncCommit,
} from '../support/sql-helpers';

describe('map steps', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  it('root map: one task per element of the run input, output ordered by index', async () => {
    await defineFlow(pool(), 'root_map', [{ slug: 'double', map: 'run' }]);
    const run = await startFlow(pool(), 'root_map', [3, { v: 4 }, 'five']);
    expect(await stepStates(pool(), run.run_id)).toMatchObject({
      double: { status: 'started', total_tasks: 3, remaining_tasks: 3 },
    });
    const tasks = await claim(pool(), 'root_map', 10);
    expect(tasks.map((t) => [t.task_index, t.input]).sort()).toEqual([[0, 3], [1, { v: 4 }], [2, 'five']]);
    for (const t of tasks) expect(t.run_input).toEqual([3, { v: 4 }, 'five']);
    for (const t of tasks) await complete(pool(), t, { i: t.task_index });
    await expectCompleted(pool(), run.run_id, { double: [{ i: 0 }, { i: 1 }, { i: 2 }] });
  });

  it('dependent map: iterates over its dependency output once that completes', async () => {
    await defineFlow(pool(), 'dep_map', [
      { slug: 'list' }, { slug: 'each', deps: ['list'], map: 'list' }, { slug: 'total', deps: ['each'] },
    ]);
    const run = await startFlow(pool(), 'dep_map', { base: 100 });
    expect(await tasksOf(pool(), run.run_id, 'each')).toEqual([]);
    const [list] = await claim(pool(), 'dep_map');
    await complete(pool(), list, [1, 2, 3, 4]);

    const each = await claim(pool(), 'dep_map', 10);
    expect(each).toHaveLength(4);
    expect(each.map((t) => [t.step_slug, t.task_index, t.input]).sort()).toEqual([
      ['each', 0, 1], ['each', 1, 2], ['each', 2, 3], ['each', 3, 4],
    ]);
    for (const t of each) expect(t.run_input).toEqual({ base: 100 });
    await completeMany(pool(), each.map((t) => ({ ...t, output: (t.input as number) * 10 })));

    const [total] = await claim(pool(), 'dep_map');
    expect(total.input).toEqual({ run: { base: 100 }, each: [10, 20, 30, 40] });
    await complete(pool(), total, 100);
    await expectCompleted(pool(), run.run_id, { total: 100 });
  });

  it('map over map: the second map starts after every element of the first completed', async () => {
    await defineFlow(pool(), 'map_map', [
      { slug: 'm1', map: 'run' }, { slug: 'm2', deps: ['m1'], map: 'm1' },
    ]);
    const run = await startFlow(pool(), 'map_map', ['a', 'b', 'c']);
    const m1 = await claim(pool(), 'map_map', 10);
    expect(m1).toHaveLength(3);
    const [first, ...rest] = [...m1].sort((x, y) => x.task_index - y.task_index);
    await complete(pool(), first, `${String(first.input)}!`);
    expect(await claim(pool(), 'map_map', 10)).toEqual([]);
    expect(await stepStates(pool(), run.run_id)).toMatchObject({ m1: { remaining_tasks: 2 }, m2: { status: 'created' } });
    await completeMany(pool(), rest.map((t) => ({ ...t, output: `${String(t.input)}!` })));

    const m2 = await claim(pool(), 'map_map', 10);
    expect(m2.map((t) => [t.step_slug, t.task_index, t.input]).sort()).toEqual([
      ['m2', 0, 'a!'], ['m2', 1, 'b!'], ['m2', 2, 'c!'],
    ]);
    await completeMany(pool(), m2.map((t) => ({ ...t, output: `${String(t.input)}?` })));
    await expectCompleted(pool(), run.run_id, { m2: ['a!?', 'b!?', 'c!?'] });
  });

  describe('empty maps', () => {
    it('a root map over [] completes with [] at once and its dependents start', async () => {
      await defineFlow(pool(), 'empty_root', [
        { slug: 'each', map: 'run' }, { slug: 'after', deps: ['each'] },
      ]);
      const run = await startFlow(pool(), 'empty_root', []);
      expect(await stepStates(pool(), run.run_id)).toMatchObject({
        each: { status: 'completed', output: [], total_tasks: 0, remaining_tasks: 0 },
        after: { status: 'started', remaining_deps: 0 },
      });
      expect(await tasksOf(pool(), run.run_id, 'each')).toEqual([]);
      const [after] = await claim(pool(), 'empty_root');
      expect(after).toMatchObject({ step_slug: 'after', input: { run: [], each: [] } });
      await complete(pool(), after, 'done');
      await expectCompleted(pool(), run.run_id, { after: 'done' });
    });

    it('a chain of maps that are all empty completes the run inside start_flow', async () => {
      await defineFlow(pool(), 'empty_chain', [
        { slug: 'm1', map: 'run' }, { slug: 'm2', deps: ['m1'], map: 'm1' }, { slug: 'm3', deps: ['m2'], map: 'm2' },
      ]);
      const run = await startFlow(pool(), 'empty_chain', []);
      expect({ status: run.status, output: run.output, remaining_steps: run.remaining_steps })
        .toEqual({ status: 'completed', output: { m3: [] }, remaining_steps: 0 });
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ m1: 'completed', m2: 'completed', m3: 'completed' });
      expect(await tasksOf(pool(), run.run_id)).toEqual([]);
    });

    it('a dependent map over an empty output completes with [] and cascades', async () => {
      await defineFlow(pool(), 'empty_dep', [
        { slug: 'list' }, { slug: 'each', deps: ['list'], map: 'list' }, { slug: 'after', deps: ['each'] },
      ]);
      const run = await startFlow(pool(), 'empty_dep', {});
      const [list] = await claim(pool(), 'empty_dep');
      await complete(pool(), list, []);
      expect(await stepStates(pool(), run.run_id)).toMatchObject({
        each: { status: 'completed', output: [] }, after: { status: 'started' },
      });
      const [after] = await claim(pool(), 'empty_dep');
      expect(after.input).toEqual({ run: {}, each: [] });
      await complete(pool(), after, 1);
      await expectCompleted(pool(), run.run_id, { after: 1 });
    });
  });

  describe('map over a non-array', () => {
    it('root map: start_flow raises PGF05 and creates nothing', async () => {
      await defineFlow(pool(), 'bad_root', [{ slug: 'other' }, { slug: 'each', map: 'run' }]);
      for (const input of [{ not: 'an array' }, 'text', 7, null]) {
        await expectPgError(startFlow(pool(), 'bad_root', input), 'PGF05',
          /step "bad_root\.each" maps over the run input, which must be an array \(got (object|string|number|null)\)/);
      }
      expect(await count(pool(), `select 1 from pgflow.runs where flow_slug = 'bad_root'`)).toBe(0);
      expect(await count(pool(), `select 1 from pgflow.step_states where flow_slug = 'bad_root'`)).toBe(0);
      expect(await count(pool(), `select 1 from pgflow.step_tasks where flow_slug = 'bad_root'`)).toBe(0);
    });

    it('dependent map: the run fails with an error naming both steps, other work cancelled', async () => {
      await defineFlow(pool(), 'bad_dep', [
        { slug: 'list' }, { slug: 'slow' }, { slug: 'each', deps: ['list'], map: 'list' },
      ]);
      const run = await startFlow(pool(), 'bad_dep', {});
      const claimed = await claim(pool(), 'bad_dep', 10);
      const list = claimed.find((t) => t.step_slug === 'list');
      const slow = claimed.find((t) => t.step_slug === 'slow');
      if (!list || !slow) throw new Error('both root steps must be claimed');
      expect(await complete(pool(), list, { items: [1, 2] })).toBe(true);

      const failed = await getRun(pool(), run.run_id);
      expect(failed.status).toBe('failed');
      expect(failed.error).toEqual({
        stepSlug: 'each', taskIndex: 0,
        message: 'step "each" maps over "list", whose output is not an array (got object)',
      });
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ list: 'completed', slow: 'cancelled', each: 'failed' });
      expect(await tasksOf(pool(), run.run_id, 'each')).toEqual([]);
      expect(await complete(pool(), slow, 'late')).toBe(false);
      expect(await claim(pool(), 'bad_dep')).toEqual([]);
    });
  });

  it('complete_tasks: a batch completed out of order aggregates the map output by task_index', async () => {
    await defineFlow(pool(), 'batch', [{ slug: 'each', map: 'run' }, { slug: 'solo' }]);
    const input = Array.from({ length: 8 }, (_, i) => i);
    const run = await startFlow(pool(), 'batch', input);
    const tasks = await claim(pool(), 'batch', 20);
    expect(tasks).toHaveLength(9);
    const each = tasks.filter((t) => t.step_slug === 'each');
    const solo = tasks.filter((t) => t.step_slug === 'solo');
    const order = [5, 2, 7, 0, 3, 6, 1, 4];
    const shuffled = order.map((i) => {
      const t = each.find((x) => x.task_index === i);
      if (!t) throw new Error(`task ${i} missing`);
      return { ...t, output: { sq: i * i } };
    });
    // one stale entry (wrong attempt) rides along and is reported as not accepted
    const stale = { ...shuffled[0], attempt: 2 };
    const results = await completeMany(pool(), [shuffled[0], stale, ...shuffled.slice(1, 4)]);
    expect(results.map((r) => [r.task_index, r.accepted])).toEqual([[5, true], [5, false], [2, true], [7, true], [0, true]]);
    expect(await stepStates(pool(), run.run_id)).toMatchObject({ each: { status: 'started', remaining_tasks: 4 } });

    const second = await completeMany(pool(), [...shuffled.slice(4), { ...solo[0], output: 's' }, { ...stale }]);
    expect(second.map((r) => [r.step_slug, r.task_index, r.accepted])).toEqual([
      ['each', 3, true], ['each', 6, true], ['each', 1, true], ['each', 4, true], ['solo', 0, true], ['each', 5, false],
    ]);
    const done = await getRun(pool(), run.run_id);
    expect(done.status).toBe('completed');
    expect(done.output).toEqual({ each: input.map((i) => ({ sq: i * i })), solo: 's' });
  });

  it('complete_tasks: one batch spanning several runs completes each run', async () => {
    await defineFlow(pool(), 'multi', [{ slug: 'each', map: 'run' }]);
    const runs = await Promise.all([[1, 2], [3], [4, 5, 6]].map((input) => startFlow(pool(), 'multi', input)));
    const handled = await drain(pool(), 'multi', (t) => (t.input as number) * 2, 100);
    expect(handled).toHaveLength(6);
    const outputs = await Promise.all(runs.map(async (r) => (await getRun(pool(), r.run_id)).output));
    expect(outputs).toEqual([{ each: [2, 4] }, { each: [6] }, { each: [8, 10, 12] }]);
  });
});
