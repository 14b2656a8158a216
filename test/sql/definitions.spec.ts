import { useSqlDatabase } from '../support/sql-harness';
import {
  addStep, count, createFlow, defineFlow, expectPgError, startFlow, useAsyncCommit,
} from '../support/sql-helpers';

describe('flow definitions: create_flow / add_step', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  const stepCount = (flow: string) => count(pool(), 'select 1 from pgflow.steps where flow_slug = $1', [flow]);

  describe('create_flow', () => {
    it.each([
      ['starts with a digit', '1flow'],
      ['has a dash', 'my-flow'],
      ['has a space', 'my flow'],
      ['is empty', ''],
      ['is too long (129 chars)', 'f'.repeat(129)],
    ])('rejects a slug that %s', async (_why, slug) => {
      await expectPgError(createFlow(pool(), slug), 'PGF01', `invalid flow slug "${slug}"`);
      expect(await count(pool(), 'select 1 from pgflow.flows where flow_slug = $1', [slug])).toBe(0);
    });

    it('accepts a 128-character slug', async () => {
      const slug = 'f'.repeat(128);
      await createFlow(pool(), slug);
      expect(await count(pool(), 'select 1 from pgflow.flows where flow_slug = $1', [slug])).toBe(1);
    });

    it.each([
      [{ maxAttempts: 0 }, 'flow "neg_flow": maxAttempts must be >= 1 (got 0)'],
      [{ baseDelay: -1 }, 'flow "neg_flow": baseDelay must be >= 0 (got -1)'],
      [{ timeout: 0 }, 'flow "neg_flow": timeout must be >= 1 (got 0)'],
    ])('rejects out-of-range options %j', async (opts, message) => {
      await expectPgError(createFlow(pool(), 'neg_flow', opts), 'PGF01', message);
      expect(await count(pool(), `select 1 from pgflow.flows where flow_slug = 'neg_flow'`)).toBe(0);
    });

    it('applies defaults, and a second create updates the options in place', async () => {
      await createFlow(pool(), 'opts_flow');
      const read = async () =>
        (await pool().query<{ opt_max_attempts: number; opt_base_delay: number; opt_timeout: number }>(
          `select opt_max_attempts, opt_base_delay, opt_timeout from pgflow.flows where flow_slug = $1`, ['opts_flow'],
        )).rows;
      expect(await read()).toEqual([{ opt_max_attempts: 3, opt_base_delay: 1, opt_timeout: 60 }]);
      await createFlow(pool(), 'opts_flow', { maxAttempts: 7, baseDelay: 0, timeout: 5 });
      expect(await read()).toEqual([{ opt_max_attempts: 7, opt_base_delay: 0, opt_timeout: 5 }]);
    });
  });

  describe('add_step validation', () => {
    beforeAll(async () => {
      await defineFlow(pool(), 'v', [{ slug: 'a' }, { slug: 'b' }, { slug: 'list', deps: ['a'] }]);
    });

    it('rejects an unknown flow with PGF02', async () => {
      await expectPgError(addStep(pool(), 'no_such_flow', { slug: 'x' }), 'PGF02', 'unknown flow "no_such_flow"');
    });

    it.each([
      ['a bad slug', { slug: 'bad-slug' }, 'invalid step slug "bad-slug"'],
      ['a slug starting with a digit', { slug: '9lives' }, 'invalid step slug "9lives"'],
      ['the reserved slug "run"', { slug: 'run' }, 'invalid step slug "run": it is reserved for the run input'],
      ['a too long slug', { slug: 's'.repeat(129) }, `invalid step slug "${'s'.repeat(129)}"`],
      ['an unknown dependency', { slug: 'x', deps: ['nope'] }, 'step "v.x": unknown dependency "nope"'],
      ['a self dependency', { slug: 'x', deps: ['x'] }, 'step "v.x": a step cannot depend on itself'],
      ['a duplicated dependency', { slug: 'x', deps: ['a', 'a'] }, 'step "v.x": dependencies list a step twice'],
      ['a map with two dependencies', { slug: 'x', deps: ['a', 'b'], map: 'a' },
        'step "v.x": a map step can have at most one dependency (has a, b)'],
      ['a map over a step it does not depend on', { slug: 'x', deps: ['a'], map: 'b' },
        'step "v.x": maps over "b" but does not depend on it'],
      ['a root map with a dependency over a non-dependency', { slug: 'x', map: 'a' },
        'step "v.x": maps over "a" but does not depend on it'],
      ['initialTasks with map', { slug: 'x', deps: ['list'], map: 'list', initialTasks: 2 },
        'step "v.x": initialTasks cannot be combined with map'],
      ['initialTasks 0', { slug: 'x', initialTasks: 0 }, 'step "v.x": initialTasks must be >= 1 (got 0)'],
      ['maxAttempts 0', { slug: 'x', maxAttempts: 0 }, 'step "v.x": maxAttempts must be >= 1 (got 0)'],
      ['a negative baseDelay', { slug: 'x', baseDelay: -5 }, 'step "v.x": baseDelay must be >= 0 (got -5)'],
      ['timeout 0', { slug: 'x', timeout: 0 }, 'step "v.x": timeout must be >= 1 (got 0)'],
      ['a negative startDelay', { slug: 'x', startDelay: -1 }, 'step "v.x": startDelay must be >= 0 (got -1)'],
      ['an unknown whenUnmet', { slug: 'x', whenUnmet: 'fail' }, 'step "v.x": whenUnmet must be skip or skip-cascade'],
      ['an unknown whenExhausted', { slug: 'x', whenExhausted: 'retry' },
        'step "v.x": whenExhausted must be fail, skip or skip-cascade'],
      ['a non-object if', { slug: 'x', if: [1] }, 'step "v.x": if/ifNot must be JSON objects'],
      ['a non-object ifNot', { slug: 'x', ifNot: 'yes' }, 'step "v.x": if/ifNot must be JSON objects'],
    ])('rejects %s with PGF01', async (_why, step, message) => {
      await expectPgError(addStep(pool(), 'v', step), 'PGF01', message);
      expect(await stepCount('v')).toBe(3);
    });

    it('accepts a 128-character step slug and valid map definitions', async () => {
      await addStep(pool(), 'v', { slug: 's'.repeat(128), deps: ['a'] });
      await addStep(pool(), 'v', { slug: 'root_map', map: 'run' });
      await addStep(pool(), 'v', { slug: 'dep_map', deps: ['list'], map: 'list' });
      const { rows } = await pool().query<{ step_slug: string; step_type: string; map_source: string | null; step_index: number }>(
        `select step_slug, step_type, map_source, step_index from pgflow.steps where flow_slug = 'v' order by step_index`,
      );
      expect(rows.map((r) => [r.step_slug.slice(0, 8), r.step_type, r.map_source, r.step_index])).toEqual([
        ['a', 'single', null, 0], ['b', 'single', null, 1], ['list', 'single', null, 2],
        ['ssssssss', 'single', null, 3], ['root_map', 'map', 'run', 4], ['dep_map', 'map', 'list', 5],
      ]);
    });
  });

  describe('re-adding a step', () => {
    beforeAll(async () => {
      await defineFlow(pool(), 'shape', [
        { slug: 'a' },
        { slug: 'b' },
        { slug: 'items', deps: ['a'] },
        { slug: 'each', deps: ['items'], map: 'items', maxAttempts: 2, timeout: 30 },
        { slug: 'fan', deps: ['a'], initialTasks: 3 },
        { slug: 'cond', deps: ['a'], if: { a: { ok: true } } },
      ]);
    });

    it.each([
      ['deps', { slug: 'items', deps: ['b'] }, 'step "shape.items": dependencies changed from [a] to [b]'],
      ['deps (one added)', { slug: 'items', deps: ['a', 'b'] }, 'step "shape.items": dependencies changed from [a] to [a, b]'],
      ['map source', { slug: 'each', deps: ['items'] }, 'step "shape.each": map changed from items to none'],
      ['initialTasks', { slug: 'fan', deps: ['a'], initialTasks: 4 }, 'step "shape.fan": initialTasks changed from 3 to 4'],
      ['conditions', { slug: 'cond', deps: ['a'], if: { a: { ok: false } } }, 'step "shape.cond": conditions (if/ifNot) changed'],
    ])('refuses a changed %s with PGF04 naming the step', async (_what, step, message) => {
      const err = await expectPgError(addStep(pool(), 'shape', step), 'PGF04', message);
      expect(err.message).toContain('use a new flow slug (e.g. "shape_v2")');
    });

    it('updates options in place when the shape is unchanged', async () => {
      await addStep(pool(), 'shape', {
        slug: 'each', deps: ['items'], map: 'items', maxAttempts: 9, baseDelay: 4, timeout: 120, startDelay: 2,
        whenExhausted: 'skip',
      });
      const { rows } = await pool().query(
        `select step_index, opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay, when_exhausted
           from pgflow.steps where flow_slug = 'shape' and step_slug = 'each'`,
      );
      expect(rows).toEqual([{
        step_index: 3, opt_max_attempts: 9, opt_base_delay: 4, opt_timeout: 120, opt_start_delay: 2,
        when_exhausted: 'skip',
      }]);
      expect(await stepCount('shape')).toBe(6);
    });

    it('allows option updates but refuses new steps once the flow has runs', async () => {
      await startFlow(pool(), 'shape', {});
      await addStep(pool(), 'shape', { slug: 'a', maxAttempts: 5 });
      await expectPgError(addStep(pool(), 'shape', { slug: 'late', deps: ['a'] }), 'PGF04',
        'step "shape.late": flow "shape" already has runs');
      expect(await stepCount('shape')).toBe(6);
    });
  });

  describe('start_flow against definitions', () => {
    it('rejects an unknown flow (PGF02), a flow without steps (PGF01) and a deprecated flow (PGF06)', async () => {
      await expectPgError(startFlow(pool(), 'ghost', {}), 'PGF02', 'unknown flow "ghost"');
      await createFlow(pool(), 'empty_flow');
      await expectPgError(startFlow(pool(), 'empty_flow', {}), 'PGF01', 'flow "empty_flow" has no steps');
      await defineFlow(pool(), 'old_flow', [{ slug: 'a' }]);
      await pool().query('select pgflow.deprecate_flow($1)', ['old_flow']);
      await expectPgError(startFlow(pool(), 'old_flow', {}), 'PGF06', 'flow "old_flow" is deprecated');
      expect(await count(pool(), `select 1 from pgflow.runs where flow_slug in ('ghost', 'empty_flow', 'old_flow')`)).toBe(0);
    });
  });
});
