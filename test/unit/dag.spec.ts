import { PgflowDefinitionError } from '../../lib';
import { buildFlowDefinition, findCycle, topologicalOrder } from '../../lib/definitions/dag.compiler';
import { FlowOptions, StepOptions } from '../../lib/interfaces/workflow-options.interface';

type Declared = StepOptions & { slug: string };

function build(steps: Declared[], flow: FlowOptions & { slug?: string } = {}) {
  return buildFlowDefinition({ slug: 'orders', ...flow }, steps);
}

/** The PgflowDefinitionError message thrown by building `steps`, or a test failure. */
function problem(steps: Declared[], flow: FlowOptions & { slug?: string } = {}): string {
  try {
    build(steps, flow);
  } catch (err) {
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    return (err as Error).message;
  }
  throw new Error('expected a PgflowDefinitionError');
}

const deps = (steps: Declared[]) => build(steps).steps.map((s) => [s.slug, s.dependsOn]);

describe('buildFlowDefinition', () => {
  describe('shape', () => {
    it('chains steps in declaration order when none names dependsOn or map', () => {
      expect(deps([{ slug: 'a' }, { slug: 'b' }, { slug: 'c' }])).toEqual([
        ['a', []], ['b', ['a']], ['c', ['b']],
      ]);
    });

    it('treats a step without dependsOn as a root once any step names dependencies', () => {
      expect(deps([{ slug: 'a' }, { slug: 'b' }, { slug: 'c', dependsOn: ['a'] }])).toEqual([
        ['a', []], ['b', []], ['c', ['a']],
      ]);
    });

    it('treats a map step as naming its dependencies (no sequential form)', () => {
      expect(deps([{ slug: 'a' }, { slug: 'b', map: 'run' }])).toEqual([['a', []], ['b', []]]);
    });

    it('orders steps topologically, the earliest declared ready step going first', () => {
      const def = build([
        { slug: 'report', dependsOn: ['left', 'right'] },
        { slug: 'right', dependsOn: ['fetch'] },
        { slug: 'left', dependsOn: ['fetch'] },
        { slug: 'fetch' },
        { slug: 'audit' },
      ]);
      expect(def.steps.map((s) => s.slug)).toEqual(['fetch', 'right', 'left', 'report', 'audit']);
    });

    it('keeps options, applies condition defaults and carries the flow options', () => {
      const def = build([{ slug: 'a', maxAttempts: 5, baseDelay: 0, timeout: 7, startDelay: 2, initialTasks: 3 }],
        { maxAttempts: 2, timeout: 30 });
      expect(def.options).toEqual({ maxAttempts: 2, baseDelay: undefined, timeout: 30 });
      expect(def.steps[0]).toMatchObject({
        maxAttempts: 5, baseDelay: 0, timeout: 7, startDelay: 2, initialTasks: 3,
        whenUnmet: 'skip', whenExhausted: 'fail',
      });
    });

    it('accepts map over a dependency and over the run input', () => {
      const def = build([{ slug: 'list' }, { slug: 'each', dependsOn: ['list'], map: 'list' },
        { slug: 'rows', map: 'run' }]);
      expect(def.steps.map((s) => s.map)).toEqual([undefined, 'list', 'run']);
    });

    it('accepts a slug of exactly 128 characters', () => {
      const slug = 'a'.repeat(128);
      expect(build([{ slug }]).steps[0].slug).toBe(slug);
    });
  });

  describe('errors name the workflow, the step and the problem', () => {
    it('rejects a duplicate step slug', () => {
      expect(problem([{ slug: 'a' }, { slug: 'a' }])).toBe('workflow "orders" step "a": duplicate step slug');
    });

    it('rejects an unknown dependency', () => {
      expect(problem([{ slug: 'a' }, { slug: 'b', dependsOn: ['nope'] }]))
        .toBe('workflow "orders" step "b": unknown dependency "nope"');
    });

    it('lists the cycle', () => {
      expect(problem([{ slug: 'a', dependsOn: ['c'] }, { slug: 'b', dependsOn: ['a'] }, { slug: 'c', dependsOn: ['b'] },
        { slug: 'root' }]))
        .toBe('workflow "orders": dependency cycle: a -> b -> c -> a');
    });

    it('rejects a step depending on itself', () => {
      expect(problem([{ slug: 'a', dependsOn: ['a'] }])).toBe('workflow "orders" step "a": depends on itself (cycle: a -> a)');
    });

    it('rejects a dependency listed twice', () => {
      expect(problem([{ slug: 'a' }, { slug: 'b', dependsOn: ['a', 'a'] }]))
        .toBe('workflow "orders" step "b": dependsOn lists a step twice');
    });

    it.each(['1abc', 'has-dash', 'with space', ''])('rejects the invalid step slug %j', (slug) => {
      expect(problem([{ slug }])).toBe(
        `workflow "orders" step "${slug}": invalid slug ${JSON.stringify(slug)}: must match ^[a-zA-Z_][a-zA-Z0-9_]*$`);
    });

    it('rejects a step slug longer than 128 characters', () => {
      const slug = 'a'.repeat(129);
      expect(problem([{ slug }])).toBe(`workflow "orders" step "${slug}": invalid slug "${'a'.repeat(20)}...": ` +
        'longer than 128 characters');
    });

    it('rejects an invalid workflow slug', () => {
      expect(problem([{ slug: 'a' }], { slug: 'my-flow' }))
        .toBe('workflow: invalid slug "my-flow": must match ^[a-zA-Z_][a-zA-Z0-9_]*$');
      expect(problem([{ slug: 'a' }], { slug: 'f'.repeat(129) })).toMatch(/longer than 128 characters/);
    });

    it('reserves the slug "run"', () => {
      expect(problem([{ slug: 'run' }])).toBe('workflow "orders" step "run": slug "run" is reserved for the run input');
    });

    it('rejects a map step with two dependencies', () => {
      expect(problem([{ slug: 'a' }, { slug: 'b' }, { slug: 'm', dependsOn: ['a', 'b'], map: 'a' }]))
        .toBe('workflow "orders" step "m": a map step can have at most one dependency (has a, b)');
    });

    it('rejects mapping over a step it does not depend on', () => {
      expect(problem([{ slug: 'a' }, { slug: 'b' }, { slug: 'm', dependsOn: ['b'], map: 'a' }]))
        .toBe('workflow "orders" step "m": maps over "a" but does not depend on it');
      expect(problem([{ slug: 'a' }, { slug: 'm', map: 'a' }]))
        .toBe('workflow "orders" step "m": maps over "a" but does not depend on it');
    });

    it('rejects initialTasks on a map step', () => {
      expect(problem([{ slug: 'm', map: 'run', initialTasks: 2 }]))
        .toBe('workflow "orders" step "m": initialTasks cannot be combined with map');
    });

    it.each<[Partial<StepOptions>, string]>([
      [{ maxAttempts: 0 }, 'maxAttempts must be an integer >= 1 (got 0)'],
      [{ maxAttempts: 1.5 }, 'maxAttempts must be an integer >= 1 (got 1.5)'],
      [{ timeout: 0 }, 'timeout must be an integer >= 1 (got 0)'],
      [{ baseDelay: -1 }, 'baseDelay must be an integer >= 0 (got -1)'],
      [{ baseDelay: 0.5 }, 'baseDelay must be an integer >= 0 (got 0.5)'],
      [{ startDelay: -1 }, 'startDelay must be an integer >= 0 (got -1)'],
      [{ initialTasks: 0 }, 'initialTasks must be an integer >= 1 (got 0)'],
      [{ timeout: '5' as unknown as number }, 'timeout must be an integer >= 1 (got "5")'],
      [{ timeout: 2 ** 31 }, `timeout must be an integer >= 1 (got ${2 ** 31})`],
      [{ maxAttempts: NaN }, 'maxAttempts must be an integer >= 1 (got null)'],
    ])('rejects the step option %j', (opts, message) => {
      expect(problem([{ slug: 'a', ...opts }])).toBe(`workflow "orders" step "a": ${message}`);
    });

    it('lists every bad option of a step', () => {
      expect(problem([{ slug: 'a', maxAttempts: 0, timeout: 0 }])).toBe('workflow "orders" step "a": ' +
        'maxAttempts must be an integer >= 1 (got 0); timeout must be an integer >= 1 (got 0)');
    });

    it('rejects bad workflow-level options', () => {
      expect(problem([{ slug: 'a' }], { maxAttempts: 0 }))
        .toBe('workflow "orders": maxAttempts must be an integer >= 1 (got 0)');
      expect(problem([{ slug: 'a' }], { timeout: 1.5 }))
        .toBe('workflow "orders": timeout must be an integer >= 1 (got 1.5)');
    });

    it('rejects a workflow with no steps', () => {
      expect(problem([])).toBe('workflow "orders": has no steps (decorate methods with @Step)');
    });

    it('rejects bad whenUnmet and whenExhausted values', () => {
      expect(problem([{ slug: 'a', whenUnmet: 'fail' as 'skip' }]))
        .toBe(`workflow "orders" step "a": whenUnmet must be 'skip' or 'skip-cascade' (got "fail")`);
      expect(problem([{ slug: 'a', whenExhausted: 'retry' as 'fail' }]))
        .toBe(`workflow "orders" step "a": whenExhausted must be 'fail', 'skip' or 'skip-cascade' (got "retry")`);
    });

    it('rejects conditions that are not JSON object patterns', () => {
      expect(problem([{ slug: 'a', if: [1] }])).toBe('workflow "orders" step "a": if must be a JSON object pattern');
      expect(problem([{ slug: 'a', ifNot: null as unknown as object }]))
        .toBe('workflow "orders" step "a": ifNot must be a JSON object pattern');
    });
  });
});

describe('findCycle and topologicalOrder', () => {
  it('finds no cycle in a DAG and orders it', () => {
    const steps = [{ slug: 'c', dependsOn: ['a', 'b'] }, { slug: 'b', dependsOn: ['a'] }, { slug: 'a', dependsOn: [] }];
    expect(findCycle(steps)).toBeNull();
    expect(topologicalOrder(steps).map((s) => s.slug)).toEqual(['a', 'b', 'c']);
  });

  it('returns a two-step cycle as a closed path in execution order', () => {
    expect(findCycle([{ slug: 'x', dependsOn: ['y'] }, { slug: 'y', dependsOn: ['x'] }])).toEqual(['x', 'y', 'x']);
  });

  it('refuses to order a cycle', () => {
    expect(() => topologicalOrder([{ slug: 'x', dependsOn: ['y'] }, { slug: 'y', dependsOn: ['x'] }]))
      .toThrow(PgflowDefinitionError);
  });
});

describe('buildFlowDefinition: signal steps and runTimeout', () => {
  it('carries signal, signalTimeout and runTimeout', () => {
    const def = build([{ slug: 'ship' }, { slug: 'delivered', signal: 'delivered', signalTimeout: 259_200 }],
      { slug: 'orders', runTimeout: 604_800 });
    expect(def.options).toMatchObject({ runTimeout: 604_800 });
    expect(def.steps[1]).toMatchObject({ slug: 'delivered', dependsOn: ['ship'], signal: 'delivered', signalTimeout: 259_200 });
  });

  it('refuses two steps waiting on one name, naming both', () => {
    expect(problem([{ slug: 'a', signal: 'approved' }, { slug: 'b', signal: 'approved' }]))
      .toBe('workflow "orders" step "b": signal "approved" is already waited on by step "a" (one step per signal name)');
  });

  it('reserves the slug "signal"', () => {
    expect(problem([{ slug: 'signal' }])).toBe('workflow "orders" step "signal": slug "signal" is reserved for the signal payload');
  });

  it.each([
    [{ slug: 'a', signal: 'go', signalTimeout: 0 }, 'signalTimeout must be an integer >= 1 (got 0)'],
    [{ slug: 'a', signal: 'go', signalTimeout: 2.5 }, 'signalTimeout must be an integer >= 1 (got 2.5)'],
    [{ slug: 'a', signalTimeout: 5 }, 'signalTimeout needs signal'],
    [{ slug: 'a', signal: 'not-a-slug' }, 'signal: invalid slug "not-a-slug"'],
  ] as Array<[Declared, string]>)('refuses %j', (step, message) => {
    expect(problem([step])).toContain(message);
  });

  it('refuses a runTimeout that is not an integer >= 1', () => {
    expect(problem([{ slug: 'a' }], { runTimeout: 0 }))
      .toBe('workflow "orders": runTimeout must be an integer >= 1 (got 0)');
  });
});
