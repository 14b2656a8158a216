import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { findCycle, FlowDefinition, topologicalOrder } from './dag.compiler';

/** Which flows each flow starts as subflows. */
function subflowsOf(flow: FlowDefinition): string[] {
  return [...new Set(flow.steps.flatMap((s) => (s.subflow ? [s.subflow] : [])))];
}

/**
 * Checks the subflows of flows defined together and returns the flows with every
 * subflow before the flows that run it (the order to store them in: a step refers to
 * its subflow's stored definition). Throws PgflowDefinitionError naming a cycle
 * (`a -> b -> a`: a runs b, which runs a).
 */
export function orderBySubflows(flows: FlowDefinition[]): FlowDefinition[] {
  const known = new Set(flows.map((f) => f.slug));
  // edges point from a flow to the flows that run it: findCycle shows paths against
  // them, reversed, so a cycle reads in the direction runs go
  const nodes = flows.map((f) => ({
    slug: f.slug,
    dependsOn: flows.filter((p) => subflowsOf(p).includes(f.slug)).map((p) => p.slug),
  }));
  const cycle = findCycle(nodes);
  if (cycle) throw new PgflowDefinitionError(`subflow cycle: ${cycle.join(' -> ')}`);
  const bySlug = new Map(flows.map((f) => [f.slug, f]));
  const order = topologicalOrder(flows.map((f) => ({ slug: f.slug, dependsOn: subflowsOf(f).filter((s) => known.has(s)) })));
  return order.map((n) => bySlug.get(n.slug) as FlowDefinition);
}
