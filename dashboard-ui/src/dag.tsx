import dagre from '@dagrejs/dagre';
import { useMemo } from 'preact/hooks';
import type { FlowGraphStep, StepInfo } from './api';

const NODE_H = 46;
const CHAR_W = 7.5;

interface Props {
  steps: FlowGraphStep[];
  /** Step states of a run; absent on a flow's page. */
  states?: StepInfo[];
}

/** Progress " n/N" of a map step, or of a step with several tasks. */
function tasksText(step: FlowGraphStep, s: StepInfo | undefined): string {
  if (!s || s.totalTasks === null || (step.stepType !== 'map' && s.totalTasks === 1)) return '';
  const done = s.totalTasks - (s.remainingTasks ?? s.totalTasks);
  return ` ${done}/${s.totalTasks}`;
}

/** A flow's DAG laid out by dagre; every node shows its slug and (on a run) its status as text. */
export function Dag({ steps, states }: Props) {
  const layout = useMemo(() => {
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 46, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const s of steps) {
      g.setNode(s.stepSlug, { width: Math.max(110, (s.stepSlug.length + 4) * CHAR_W), height: NODE_H });
    }
    for (const s of steps) for (const d of s.dependsOn) g.setEdge(d, s.stepSlug);
    dagre.layout(g);
    const graph = g.graph();
    return {
      width: (graph.width ?? 0) + 2,
      height: (graph.height ?? 0) + 2,
      nodes: steps.map((s) => ({ step: s, n: g.node(s.stepSlug) })),
      edges: g.edges().map((e) => ({ key: `${e.v}->${e.w}`, points: g.edge(e).points ?? [] })),
    };
  }, [steps]);
  const stateOf = new Map(states?.map((s) => [s.stepSlug, s]));
  return (
    <svg class="dag" width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`}
      role="img" aria-label="flow graph">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" class="arrow" />
        </marker>
      </defs>
      {layout.edges.map((e) => (
        <polyline key={e.key} class="edge" marker-end="url(#arrow)"
          points={e.points.map((p: { x: number; y: number }) => `${p.x},${p.y}`).join(' ')} />
      ))}
      {layout.nodes.map(({ step, n }) => {
        const st = stateOf.get(step.stepSlug);
        const status = st?.status ?? (step.stepType === 'map' ? 'map' : step.signalName ? 'signal' : '');
        return (
          <g key={step.stepSlug} class={`node ${st ? `st-${st.status}` : ''}`} data-step={step.stepSlug}
            transform={`translate(${n.x - n.width / 2},${n.y - n.height / 2})`}>
            <rect width={n.width} height={n.height} rx="6" />
            <text x={n.width / 2} y="19" class="slug">{step.stepSlug}</text>
            <text x={n.width / 2} y="36" class="status">{status}{tasksText(step, st)}</text>
          </g>
        );
      })}
    </svg>
  );
}
