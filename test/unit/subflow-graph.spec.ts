import { PgflowDefinitionError } from '../../lib';
import { buildFlowDefinition, FlowDefinition } from '../../lib/definitions/dag.compiler';
import { orderBySubflows } from '../../lib/definitions/subflow.graph';

/** A one-step flow per entry: `{ a: ['b'] }` is flow a whose steps run subflow b. */
function flows(graph: Record<string, string[]>): FlowDefinition[] {
  return Object.entries(graph).map(([slug, subs]) => buildFlowDefinition({ slug },
    subs.length ? subs.map((sub, i) => ({ slug: `s${i}`, subflow: sub, dependsOn: [] })) : [{ slug: 'only' }]));
}

function cycleOf(graph: Record<string, string[]>): string {
  try {
    orderBySubflows(flows(graph));
  } catch (err) {
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    return (err as Error).message;
  }
  throw new Error('expected a PgflowDefinitionError');
}

describe('subflow graph', () => {
  it('orders every subflow before the flows that run it', () => {
    const order = orderBySubflows(flows({ album: ['resize', 'thumb'], resize: ['store'], thumb: [], store: [] }))
      .map((f) => f.slug);
    expect(order.indexOf('store')).toBeLessThan(order.indexOf('resize'));
    expect(order.indexOf('resize')).toBeLessThan(order.indexOf('album'));
    expect(order.indexOf('thumb')).toBeLessThan(order.indexOf('album'));
  });

  it('names a cycle in the direction runs go', () => {
    expect(cycleOf({ a: ['b'], b: ['a'] })).toBe('subflow cycle: a -> b -> a');
    expect(cycleOf({ a: ['b'], b: ['c'], c: ['a'] })).toBe('subflow cycle: a -> b -> c -> a');
  });

  it('leaves subflows defined elsewhere (stored, dynamic) to the database', () => {
    expect(orderBySubflows(flows({ a: ['elsewhere'] })).map((f) => f.slug)).toEqual(['a']);
  });

  it('refuses a flow running itself, a bad subflow slug and a bad compensate in the compiler', () => {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err(() => buildFlowDefinition({ slug: 'a' }, [{ slug: 'x', subflow: 'a' }])))
      .toBe('workflow "a" step "x": subflow cycle: a -> a');
    expect(err(() => buildFlowDefinition({ slug: 'a' }, [{ slug: 'x', subflow: 'no-dash' }])))
      .toMatch(/^workflow "a" step "x": subflow: /);
    expect(err(() => buildFlowDefinition({ slug: 'a' }, [{ slug: 'x', compensate: '' }])))
      .toBe('workflow "a" step "x": compensate must be the name of a method (got "")');
  });
});
