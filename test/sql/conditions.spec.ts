import { useSqlDatabase } from '../support/sql-harness';
import {
  claim, complete, defineFlow, drain, expectCompleted, fail, getRun, Json, startFlow, stepStates, stepStatuses,
  tasksOf, useAsyncCommit,
} from '../support/sql-helpers';

describe('conditions (if / ifNot, whenUnmet) and whenExhausted', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  /** Completes every task with {step, input} and returns the run's final state. */
  async function runToEnd(flow: string, runId: string) {
    const handled = await drain(pool(), flow, (t) => ({ step: t.step_slug, input: t.input }));
    return { handled: handled.map((t) => t.step_slug).sort(), run: await getRun(pool(), runId) };
  }

  describe('whenUnmet skip', () => {
    beforeAll(async () => {
      await defineFlow(pool(), 'cond', [
        { slug: 'only_a', if: { run: { kind: 'a' } } },
        { slug: 'unless_b', ifNot: { run: { kind: 'b' } } },
        { slug: 'after', deps: ['only_a', 'unless_b'] },
      ]);
    });

    it('runs steps whose input contains the if pattern and lacks the ifNot pattern', async () => {
      const run = await startFlow(pool(), 'cond', { kind: 'a', extra: [1] });
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ only_a: 'started', unless_b: 'started', after: 'created' });
      const { handled, run: done } = await runToEnd('cond', run.run_id);
      expect(handled).toEqual(['after', 'only_a', 'unless_b']);
      expect(done.status).toBe('completed');
      expect(Object.keys((done.output as { after: { input: object } }).after.input).sort()).toEqual(['only_a', 'run', 'unless_b']);
    });

    it('skips unmet steps without tasks; dependents run without their keys', async () => {
      const run = await startFlow(pool(), 'cond', { kind: 'b' });
      const states = await stepStates(pool(), run.run_id);
      expect(states.only_a).toMatchObject({ status: 'skipped', skip_cascade: false, output: null });
      expect(states.unless_b).toMatchObject({ status: 'skipped', skip_cascade: false });
      expect(states.after).toMatchObject({ status: 'started', remaining_deps: 0 });
      expect((await tasksOf(pool(), run.run_id)).map((t) => t.step_slug)).toEqual(['after']);
      const { handled, run: done } = await runToEnd('cond', run.run_id);
      expect(handled).toEqual(['after']);
      await expectCompleted(pool(), done.run_id, { after: { step: 'after', input: { run: { kind: 'b' } } } });
    });

    it('tests conditions against dependency outputs, and a skipped leaf is absent from the run output', async () => {
      await defineFlow(pool(), 'cond_dep', [
        { slug: 'check' },
        { slug: 'ship', deps: ['check'], if: { check: { ok: true } } },
        { slug: 'log', deps: ['check'] },
      ]);
      const run = await startFlow(pool(), 'cond_dep', {});
      const [check] = await claim(pool(), 'cond_dep');
      await complete(pool(), check, { ok: false, why: 'nope' });
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ check: 'completed', ship: 'skipped', log: 'started' });
      const { handled, run: done } = await runToEnd('cond_dep', run.run_id);
      expect(handled).toEqual(['log']);
      expect(done.status).toBe('completed');
      expect(Object.keys(done.output as object)).toEqual(['log']);
    });

    it('a map over a skipped step maps over nothing and completes with []', async () => {
      await defineFlow(pool(), 'cond_map', [
        { slug: 'list', if: { run: { go: true } } }, { slug: 'each', deps: ['list'], map: 'list' },
      ]);
      const run = await startFlow(pool(), 'cond_map', { go: false });
      expect({ status: run.status, output: run.output }).toEqual({ status: 'completed', output: { each: [] } });
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ list: 'skipped', each: 'completed' });
    });

    it('a run whose only step is skipped completes at once with an empty output', async () => {
      await defineFlow(pool(), 'cond_all', [{ slug: 'a', ifNot: { run: { off: true } } }]);
      const run = await startFlow(pool(), 'cond_all', { off: true });
      expect({ status: run.status, output: run.output, remaining_steps: run.remaining_steps })
        .toEqual({ status: 'completed', output: {}, remaining_steps: 0 });
    });
  });

  it('whenUnmet skip-cascade skips every dependent, also joins with other completed deps', async () => {
    await defineFlow(pool(), 'cascade_skip', [
      { slug: 'gate', if: { run: { open: true } }, whenUnmet: 'skip-cascade' },
      { slug: 'free' },
      { slug: 'child', deps: ['gate'] },
      { slug: 'join', deps: ['child', 'free'] },
      { slug: 'other', deps: ['free'] },
    ]);
    const run = await startFlow(pool(), 'cascade_skip', { open: false });
    expect(await stepStates(pool(), run.run_id)).toMatchObject({
      gate: { status: 'skipped', skip_cascade: true }, child: { status: 'skipped', skip_cascade: true },
      free: { status: 'started' }, join: { status: 'created', remaining_deps: 1 },
    });
    const { handled, run: done } = await runToEnd('cascade_skip', run.run_id);
    expect(handled).toEqual(['free', 'other']);
    expect(await stepStatuses(pool(), run.run_id)).toEqual({
      gate: 'skipped', free: 'completed', child: 'skipped', join: 'skipped', other: 'completed',
    });
    expect(done).toMatchObject({ status: 'completed', remaining_steps: 0 });
    expect(Object.keys(done.output as object)).toEqual(['other']);
  });

  describe('whenExhausted', () => {
    const define = (flow: string, whenExhausted: string) => defineFlow(pool(), flow, [
      { slug: 'a' },
      { slug: 'b', deps: ['a'], maxAttempts: 2, baseDelay: 0, whenExhausted },
      { slug: 'c', deps: ['b'] },
      { slug: 'd', deps: ['a'] },
    ]);

    async function exhaustB(flow: string): Promise<string> {
      const run = await startFlow(pool(), flow, { x: 1 });
      const [a] = await claim(pool(), flow);
      await complete(pool(), a, 'A');
      const outcomes: string[] = [];
      for (let attempt = 1; attempt <= 2; attempt++) {
        const claimed = await claim(pool(), flow, 10);
        const b = claimed.find((t) => t.step_slug === 'b');
        if (!b) throw new Error('b must be claimable');
        // d (claimed alongside b on the first round) completes like runToEnd would
        for (const t of claimed.filter((x) => x !== b)) await complete(pool(), t, { step: t.step_slug, input: t.input });
        expect(b.attempt).toBe(attempt);
        outcomes.push(await fail(pool(), b, `b failed ${attempt}`));
      }
      expect(outcomes).toEqual(['retrying', 'skipped']);
      return run.run_id;
    }

    it('skip: the exhausted step is skipped with its error kept; dependents run without it', async () => {
      await define('exhaust_skip', 'skip');
      const runId = await exhaustB('exhaust_skip');
      expect(await stepStates(pool(), runId)).toMatchObject({
        b: { status: 'skipped', skip_cascade: false, error_message: 'b failed 2' },
        c: { status: 'started' },
      });
      const { handled, run } = await runToEnd('exhaust_skip', runId);
      expect(handled).toEqual(['c']);
      await expectCompleted(pool(), run.run_id, {
        c: { step: 'c', input: { run: { x: 1 } } }, d: { step: 'd', input: { run: { x: 1 }, a: 'A' } },
      });
    });

    it('skip-cascade: dependents of the exhausted step are skipped too; the rest completes', async () => {
      await define('exhaust_cascade', 'skip-cascade');
      const runId = await exhaustB('exhaust_cascade');
      expect(await stepStatuses(pool(), runId)).toMatchObject({ b: 'skipped', c: 'skipped' });
      const { handled, run } = await runToEnd('exhaust_cascade', runId);
      expect(handled).toEqual([]);
      await expectCompleted(pool(), run.run_id, { d: { step: 'd', input: { run: { x: 1 }, a: 'A' } } });
    });

    it('skip on a map step cancels its other elements and ignores their late results', async () => {
      await defineFlow(pool(), 'exhaust_map', [
        { slug: 'each', map: 'run', maxAttempts: 1, whenExhausted: 'skip' }, { slug: 'after', deps: ['each'] },
      ]);
      const run = await startFlow(pool(), 'exhaust_map', [1, 2, 3]);
      const [t0, t1, t2] = [...(await claim(pool(), 'exhaust_map', 10))].sort((x, y) => x.task_index - y.task_index);
      await complete(pool(), t0, 'one');
      expect(await fail(pool(), t1, 'two broke')).toBe('skipped');
      expect((await tasksOf(pool(), run.run_id, 'each')).map((t) => t.status)).toEqual(['completed', 'failed', 'cancelled']);
      expect(await complete(pool(), t2, 'late')).toBe(false);
      const outputs: Json[] = [];
      await drain(pool(), 'exhaust_map', (t) => {
        outputs.push(t.input);
        return 'after';
      });
      expect(outputs).toEqual([{ run: [1, 2, 3] }]);
      await expectCompleted(pool(), run.run_id, { after: 'after' });
    });
  });
});
