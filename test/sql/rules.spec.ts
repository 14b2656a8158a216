import { buildFlowDefinition } from '../../lib/definitions/dag.compiler';
import { slugProblem } from '../../lib/core/slug';
import { StepOptions } from '../../lib';
import { useSqlDatabase } from '../support/sql-harness';

/**
 * The database is the authority on stored definitions (pgflow.add_step, assert_slug,
 * assert_options and the tables' CHECKs); lib/definitions checks the same rules first
 * for earlier, clearer boot errors. One table of cases, run through both: they must
 * agree on every one.
 */
type Case = [what: string, step: StepOptions & { slug: string }, accepted: boolean];

const CASES: Case[] = [
  ['a plain step', { slug: 'plain' }, true],
  ['slug with underscore and digits', { slug: '_a1' }, true],
  ['slug of 128 characters', { slug: 'x'.repeat(128) }, true],
  ['slug of 129 characters', { slug: 'x'.repeat(129) }, false],
  ['slug with a dash', { slug: 'my-step' }, false],
  ['slug starting with a digit', { slug: '1step' }, false],
  ['slug with a space', { slug: 'a b' }, false],
  ['empty slug', { slug: '' }, false],
  ['maxAttempts 1', { slug: 's', maxAttempts: 1 }, true],
  ['maxAttempts 0', { slug: 's', maxAttempts: 0 }, false],
  ['baseDelay 0', { slug: 's', baseDelay: 0 }, true],
  ['baseDelay -1', { slug: 's', baseDelay: -1 }, false],
  ['timeout 1', { slug: 's', timeout: 1 }, true],
  ['timeout 0', { slug: 's', timeout: 0 }, false],
  ['startDelay 0', { slug: 's', startDelay: 0 }, true],
  ['startDelay -1', { slug: 's', startDelay: -1 }, false],
  ['initialTasks 1', { slug: 's', initialTasks: 1 }, true],
  ['initialTasks 0', { slug: 's', initialTasks: 0 }, false],
  ['map over run', { slug: 's', map: 'run' }, true],
  ['map over its dependency', { slug: 's', dependsOn: ['root'], map: 'root' }, true],
  ['map over a step it does not depend on', { slug: 's', dependsOn: ['root'], map: 'other' }, false],
  ['map with two dependencies', { slug: 's', dependsOn: ['root', 'other'], map: 'root' }, false],
  ['map with initialTasks', { slug: 's', map: 'run', initialTasks: 2 }, false],
  ['depends on itself', { slug: 's', dependsOn: ['s'] }, false],
  ['depends on a step twice', { slug: 's', dependsOn: ['root', 'root'] }, false],
  ['unknown dependency', { slug: 's', dependsOn: ['missing'] }, false],
  ['whenUnmet skip-cascade', { slug: 's', whenUnmet: 'skip-cascade' }, true],
  ['whenUnmet bogus', { slug: 's', whenUnmet: 'bogus' as 'skip' }, false],
  ['whenExhausted skip', { slug: 's', whenExhausted: 'skip' }, true],
  ['whenExhausted bogus', { slug: 's', whenExhausted: 'bogus' as 'fail' }, false],
  ['if an object', { slug: 's', if: { run: { a: 1 } } }, true],
  ['if an array', { slug: 's', if: [1] as unknown as object }, false],
  ['step slug "signal" (reserved like "run")', { slug: 'signal' }, false],
  ['step slug "run"', { slug: 'run' }, false],
  ['signal a slug-like name', { slug: 's', signal: 'approved_2' }, true],
  ['signal with a dash', { slug: 's', signal: 'my-signal' }, false],
  ['signal empty', { slug: 's', signal: '' }, false],
  ['signal of 129 characters', { slug: 's', signal: 'x'.repeat(129) }, false],
  ['signal named like a step', { slug: 's', signal: 'root' }, true],
  ['signal another step already waits on', { slug: 's', signal: 'taken' }, false],
  ['signalTimeout 1', { slug: 's', signal: 'go', signalTimeout: 1 }, true],
  ['signalTimeout 0', { slug: 's', signal: 'go', signalTimeout: 0 }, false],
  ['signalTimeout without signal', { slug: 's', signalTimeout: 5 }, false],
  ['signal on a map step', { slug: 's', map: 'run', signal: 'go' }, true],
];

describe('definition rules: TypeScript and SQL agree', () => {
  const { pool } = useSqlDatabase();

  function tsAccepts(step: Case[1]): boolean {
    // the steps it may depend on exist (as in the SQL setup below)
    // (root waits on signal "taken")
    const existing = ['root', 'other'].filter((d) => d !== step.slug)
      .map((slug) => ({ slug, dependsOn: [], ...(slug === 'root' ? { signal: 'taken' } : {}) }));
    try {
      buildFlowDefinition({ slug: 'rules' }, [...existing, { ...step, dependsOn: step.dependsOn ?? [] }]);
      return true;
    } catch {
      return false;
    }
  }

  async function sqlAccepts(flow: string, step: Case[1]): Promise<boolean> {
    const c = await pool().connect();
    try {
      await c.query('begin');
      await c.query('select pgflow.create_flow($1)', [flow]);
      await c.query('select pgflow.add_step($1, $2, p_signal => $3)', [flow, 'root', 'taken']);
      await c.query('select pgflow.add_step($1, $2)', [flow, 'other']);
      await c.query('savepoint s');
      try {
        await c.query(`select pgflow.add_step(p_flow_slug => $1, p_step_slug => $2, p_deps => $3::text[],
          p_map_source => $4, p_initial_tasks => $5, p_max_attempts => $6, p_base_delay => $7, p_timeout => $8,
          p_start_delay => $9, p_if => $10::jsonb, p_when_unmet => $11, p_when_exhausted => $12,
          p_signal => $13, p_signal_timeout => $14)`, [
          flow, step.slug, step.dependsOn ?? [], step.map ?? null, step.initialTasks ?? null, step.maxAttempts ?? null,
          step.baseDelay ?? null, step.timeout ?? null, step.startDelay ?? null,
          step.if === undefined ? null : JSON.stringify(step.if), step.whenUnmet ?? 'skip', step.whenExhausted ?? 'fail',
          step.signal ?? null, step.signalTimeout ?? null,
        ]);
        return true;
      } catch (err) {
        // only pgflow's own refusals and CHECK violations count as "refused"
        if (!/^(PGF|23)/.test((err as { code?: string }).code ?? '')) throw err;
        return false;
      }
    } finally {
      await c.query('rollback');
      c.release();
    }
  }

  it.each(CASES.map((c, i) => [...c, i] as const))('%s', async (_what, step, accepted, i) => {
    expect({ ts: tsAccepts(step), sql: await sqlAccepts(`rules_${i}`, step) }).toEqual({ ts: accepted, sql: accepted });
  });

  it.each([[1, true], [3600, true], [0, false], [-5, false]] as const)('runTimeout %s', async (runTimeout, accepted) => {
    const ts = (() => {
      try {
        buildFlowDefinition({ slug: 'rt', runTimeout }, [{ slug: 'a' }]);
        return true;
      } catch {
        return false;
      }
    })();
    const c = await pool().connect();
    let sql: boolean;
    try {
      await c.query('begin');
      sql = await c.query('select pgflow.create_flow($1, p_run_timeout => $2)', ['rt', runTimeout])
        .then(() => true, (err: { code?: string }) => {
          if (!/^(PGF|23)/.test(err.code ?? '')) throw err;
          return false;
        });
    } finally {
      await c.query('rollback');
      c.release();
    }
    expect({ ts, sql }).toEqual({ ts: accepted, sql: accepted });
  });

  it('slugs: lib/core/slug.ts, pgflow.assert_slug and the CHECK of pgflow.flows agree', async () => {
    const slugs = ['a', '_', 'A_1', 'x'.repeat(128), 'x'.repeat(129), 'a-b', '9a', '', 'é', 'a.b', 'run_2'];
    for (const slug of slugs) {
      const asserted = await pool().query('select pgflow.assert_slug($1, $2)', ['flow', slug]).then(() => true, () => false);
      const c = await pool().connect();
      let stored: boolean;
      try {
        await c.query('begin');
        stored = await c.query('insert into pgflow.flows (flow_slug) values ($1)', [slug]).then(() => true, () => false);
      } finally {
        await c.query('rollback');
        c.release();
      }
      expect({ slug, ts: slugProblem(slug) === null, sql: asserted }).toEqual({ slug, ts: stored, sql: stored });
    }
  });
});
