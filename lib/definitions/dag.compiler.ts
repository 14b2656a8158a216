import { PgflowDefinitionError } from '../core/errors/pgflow.error';
import { FlowOptions, StepOptions } from '../interfaces/workflow-options.interface';
import { slugProblem } from '../core/slug';
import { checkFlowControl, FlowControlDefinition } from './flow-control.rules';

/** A validated step, dependencies resolved (sequential form applied). */
export interface StepDefinition {
  slug: string;
  dependsOn: string[];
  map?: string;
  initialTasks?: number;
  maxAttempts?: number;
  baseDelay?: number;
  timeout?: number;
  startDelay?: number;
  if?: object;
  ifNot?: object;
  whenUnmet: 'skip' | 'skip-cascade';
  whenExhausted: 'fail' | 'skip' | 'skip-cascade';
  signal?: string;
  signalTimeout?: number;
  /** Slug of the flow each task starts a run of. */
  subflow?: string;
  /** Name of the class's method that compensates this step. */
  compensate?: string;
  /** Concurrency and rate limits of the step's tasks. */
  limits: FlowControlDefinition;
}

/** A validated flow whose steps are in topological order (declaration order breaks ties). */
export interface FlowDefinition {
  slug: string;
  options: FlowOptions;
  /** Concurrency and rate limits of all the flow's tasks together. */
  limits: FlowControlDefinition;
  steps: StepDefinition[];
}

const RANGES: Array<[keyof FlowOptions | 'startDelay' | 'initialTasks' | 'signalTimeout', number]> = [
  ['maxAttempts', 1], ['baseDelay', 0], ['timeout', 1], ['startDelay', 0], ['initialTasks', 1],
  ['signalTimeout', 1], ['runTimeout', 1],
];

/** Step slugs that are input keys of their own. */
const RESERVED: Record<string, string> = { run: 'the run input', signal: 'the signal payload' };

function optionProblems(opts: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [key, min] of RANGES) {
    const value = opts[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2_147_483_647) {
      problems.push(`${key} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
    }
  }
  return problems;
}

/**
 * Validates a flow and its declared steps and returns them in topological order.
 * Throws PgflowDefinitionError naming the workflow, the step and the problem.
 */
export function buildFlowDefinition(
  flow: { slug: string } & FlowOptions,
  declared: Array<StepOptions & { slug: string }>,
): FlowDefinition {
  const flowProblem = slugProblem(flow.slug);
  if (flowProblem) throw new PgflowDefinitionError(`workflow: ${flowProblem}`);
  const where = `workflow "${flow.slug}"`;
  const fail = (step: string | null, problem: string): never => {
    throw new PgflowDefinitionError(step !== null ? `${where} step "${step}": ${problem}` : `${where}: ${problem}`);
  };

  const flowOptionProblems = optionProblems({
    maxAttempts: flow.maxAttempts, baseDelay: flow.baseDelay, timeout: flow.timeout, runTimeout: flow.runTimeout,
  });
  const flowControl = checkFlowControl(flow);
  flowOptionProblems.push(...flowControl.problems);
  if (flowOptionProblems.length) fail(null, flowOptionProblems.join('; '));
  if (declared.length === 0) fail(null, 'has no steps (decorate methods with @Step)');

  const sequential = declared.every((s) => s.dependsOn === undefined && s.map === undefined);
  const seen = new Set<string>();
  const signals = new Map<string, string>();
  const steps: StepDefinition[] = declared.map((s, i) => {
    const problem = slugProblem(s.slug);
    if (problem) fail(String(s.slug), problem);
    if (Object.hasOwn(RESERVED, s.slug)) fail(s.slug, `slug "${s.slug}" is reserved for ${RESERVED[s.slug]}`);
    if (seen.has(s.slug)) fail(s.slug, 'duplicate step slug');
    seen.add(s.slug);
    const deps = sequential ? (i > 0 ? [declared[i - 1].slug] : []) : [...(s.dependsOn ?? [])];
    if (new Set(deps).size !== deps.length) fail(s.slug, 'dependsOn lists a step twice');
    const problems = optionProblems(s as unknown as Record<string, unknown>);
    const control = checkFlowControl(s);
    problems.push(...control.problems);
    if (problems.length) fail(s.slug, problems.join('; '));
    if (s.map !== undefined) {
      if (deps.length > 1) fail(s.slug, `a map step can have at most one dependency (has ${deps.join(', ')})`);
      if (s.map !== 'run' && !deps.includes(s.map)) fail(s.slug, `maps over "${s.map}" but does not depend on it`);
      if (s.initialTasks !== undefined) fail(s.slug, 'initialTasks cannot be combined with map');
    }
    for (const [key, value] of [['if', s.if], ['ifNot', s.ifNot]] as const) {
      if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
        fail(s.slug, `${key} must be a JSON object pattern`);
      }
    }
    if (s.whenUnmet !== undefined && !['skip', 'skip-cascade'].includes(s.whenUnmet)) {
      fail(s.slug, `whenUnmet must be 'skip' or 'skip-cascade' (got ${JSON.stringify(s.whenUnmet)})`);
    }
    if (s.whenExhausted !== undefined && !['fail', 'skip', 'skip-cascade'].includes(s.whenExhausted)) {
      fail(s.slug, `whenExhausted must be 'fail', 'skip' or 'skip-cascade' (got ${JSON.stringify(s.whenExhausted)})`);
    }
    if (s.signal !== undefined) {
      const signalProblem = slugProblem(s.signal);
      if (signalProblem) fail(s.slug, `signal: ${signalProblem}`);
      const other = signals.get(s.signal);
      if (other) fail(s.slug, `signal "${s.signal}" is already waited on by step "${other}" (one step per signal name)`);
      signals.set(s.signal, s.slug);
    }
    if (s.signalTimeout !== undefined && s.signal === undefined) fail(s.slug, 'signalTimeout needs signal');
    let subflow: string | undefined;
    if (s.subflow !== undefined) {
      // the explorer has turned a @Workflow class into its slug
      if (typeof s.subflow !== 'string') fail(s.slug, 'subflow must be a @Workflow class or a flow slug');
      subflow = s.subflow as string;
      const subflowProblem = slugProblem(subflow);
      if (subflowProblem) fail(s.slug, `subflow: ${subflowProblem}`);
      if (subflow === flow.slug) fail(s.slug, `subflow cycle: ${flow.slug} -> ${flow.slug}`);
    }
    if (s.compensate !== undefined && (typeof s.compensate !== 'string' || !s.compensate)) {
      fail(s.slug, `compensate must be the name of a method (got ${JSON.stringify(s.compensate)})`);
    }
    return {
      slug: s.slug, dependsOn: deps, map: s.map, initialTasks: s.initialTasks,
      maxAttempts: s.maxAttempts, baseDelay: s.baseDelay, timeout: s.timeout, startDelay: s.startDelay,
      if: s.if, ifNot: s.ifNot, whenUnmet: s.whenUnmet ?? 'skip', whenExhausted: s.whenExhausted ?? 'fail',
      signal: s.signal, signalTimeout: s.signalTimeout, subflow, compensate: s.compensate, limits: control.limits,
    };
  });

  for (const s of steps) {
    for (const d of s.dependsOn) {
      if (d === s.slug) fail(s.slug, `depends on itself (cycle: ${s.slug} -> ${s.slug})`);
      if (!seen.has(d)) fail(s.slug, `unknown dependency "${d}"`);
    }
  }
  const cycle = findCycle(steps);
  if (cycle) fail(null, `dependency cycle: ${cycle.join(' -> ')}`);

  return {
    slug: flow.slug,
    options: { maxAttempts: flow.maxAttempts, baseDelay: flow.baseDelay, timeout: flow.timeout, runTimeout: flow.runTimeout },
    limits: flowControl.limits,
    steps: topologicalOrder(steps),
  };
}

/** Returns one cycle as a closed path (`a -> b -> a`), or null. */
export function findCycle(steps: Array<{ slug: string; dependsOn: string[] }>): string[] | null {
  const deps = new Map(steps.map((s) => [s.slug, s.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (slug: string): string[] | null => {
    if (state.get(slug) === 'done') return null;
    if (state.get(slug) === 'visiting') return [...path.slice(path.indexOf(slug)), slug];
    state.set(slug, 'visiting');
    path.push(slug);
    for (const d of deps.get(slug) ?? []) {
      const found = visit(d);
      if (found) return found;
    }
    path.pop();
    state.set(slug, 'done');
    return null;
  };
  for (const s of steps) {
    const found = visit(s.slug);
    // a path found by following dependencies runs against execution order; show it forwards
    if (found) return found.reverse();
  }
  return null;
}

/** Kahn's algorithm; among ready steps the earliest declared goes first. Assumes no cycle. */
export function topologicalOrder<T extends { slug: string; dependsOn: string[] }>(steps: T[]): T[] {
  const done = new Set<string>();
  const order: T[] = [];
  while (order.length < steps.length) {
    const next = steps.find((s) => !done.has(s.slug) && s.dependsOn.every((d) => done.has(d)));
    if (!next) throw new PgflowDefinitionError('dependency cycle');
    done.add(next.slug);
    order.push(next);
  }
  return order;
}
