import { DrainResult } from '../workloads/throughput.workload';
import { FanoutResult } from '../workloads/fanout.workload';
import { LatencyResult } from '../workloads/latency.workload';
import { MemoryResult } from '../workloads/memory.workload';
import { Setup } from '../engines/engine';
import { median } from './stats';

/** Everything measured for one engine configuration, round by round. */
export interface EngineResults {
  key: string;
  family: string;
  kind: Setup;
  label: string;
  /** see Engine.variant */
  variant?: string;
  notes: string[];
  /** set when the engine could not be set up or run at all */
  skipped?: string;
  drains: Record<string, DrainResult[]>;
  latency: LatencyResult[];
  fanout: FanoutResult[];
  memory: MemoryResult[];
  errors: string[];
}

/** One table column: a metric, its unit and how to read it. */
interface Metric {
  title: string;
  /** compared with ours (value ÷ ours in brackets) */
  ratio: boolean;
  value(e: EngineResults): number;
  format(v: number): string;
}

const MB = 1024 * 1024;
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const fixed = (d: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(d) : '–');

function drainMedian(e: EngineResults, procs: number, f: (d: DrainResult) => number): number {
  return median((e.drains[procs] ?? []).map(f));
}

const rate = (procs: number): Metric => ({
  title: `${procs} process${procs > 1 ? 'es' : ''}`,
  ratio: true,
  value: (e) => drainMedian(e, procs, (d) => d.rate),
  format: int,
});

function throughputMetrics(processes: number[]): Metric[] {
  return [
    ...processes.map(rate),
    {
      title: '2 ÷ 1 process',
      ratio: false,
      value: (e) => drainMedian(e, 2, (d) => d.rate) / drainMedian(e, 1, (d) => d.rate),
      format: fixed(2),
    },
    {
      title: 'peak RSS, 1 worker (MB)',
      ratio: false,
      value: (e) => drainMedian(e, 1, (d) => d.peakRss) / MB,
      format: int,
    },
  ];
}

const lat = (p: 'p50' | 'p95' | 'p99'): Metric => ({
  title: `${p} (ms)`,
  ratio: true,
  value: (e) => median(e.latency.map((l) => l[p])),
  format: fixed(1),
});

const LATENCY: Metric[] = [lat('p50'), lat('p95'), lat('p99'), {
  title: 'chains measured',
  ratio: false,
  value: (e) => median(e.latency.map((l) => l.samples)),
  format: int,
}];

const FANOUT_MEMORY: Metric[] = [
  {
    title: 'W3 fan-out + aggregate (s)',
    ratio: true,
    value: (e) => median(e.fanout.map((f) => f.seconds)),
    format: fixed(2),
  },
  {
    title: 'W5 RSS growth (%)',
    ratio: false,
    value: (e) => median(e.memory.map((m) => m.rssGrowthPct)),
    format: fixed(1),
  },
  {
    // RSS keeps pages V8 and the allocator have not returned; live objects tell a leak
    title: 'W5 heap after GC, growth (%)',
    ratio: false,
    value: (e) => median(e.memory.map((m) => m.heapGrowthPct)),
    format: fixed(1),
  },
];

/** Medians of every metric (also written to JSON). */
export function medians(e: EngineResults, processes: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of throughputMetrics(processes)) out[`W1/W4 ${m.title}${m.ratio ? ' (completed/s)' : ''}`] = m.value(e);
  for (const m of LATENCY) out[`W2 ${m.title}`] = m.value(e);
  for (const m of FANOUT_MEMORY) out[m.title] = m.value(e);
  return out;
}

function cell(m: Metric, e: EngineResults, base: EngineResults | undefined): string {
  const v = m.value(e);
  const text = m.format(v);
  if (!m.ratio || !base || base === e || !Number.isFinite(v)) return text;
  const b = m.value(base);
  return Number.isFinite(b) && b !== 0 ? `${text} (${(v / b).toFixed(2)}×)` : text;
}

function table(rows: EngineResults[], metrics: Metric[], baseOf: (e: EngineResults) => EngineResults | undefined): string[] {
  return [
    `| configuration | ${metrics.map((m) => m.title).join(' | ')} |`,
    `|---|${metrics.map(() => '---:').join('|')}|`,
    ...rows.map((e) => `| ${e.label} | ${metrics.map((m) => cell(m, e, baseOf(e))).join(' | ')} |`),
  ];
}

/**
 * The tables: W1/W4 and W2 for every configuration (each peer ÷ ours in the same
 * setup, the ceilings ÷ our tuned setup) with each engine's best W2 named, W3 and W5
 * for the tuned setups (÷ our tuned setup).
 */
export function markdownTables(results: EngineResults[], oursFamily: string, processes: number[], header: string[]): string {
  const shown = results.filter((r) => !r.skipped);
  const ours = (kind: Setup) => shown.find((r) => r.family === oursFamily && r.kind === kind && !r.variant);
  const oursTuned = ours('tuned');
  const sameSetup = (e: EngineResults) => (e.kind === 'defaults' ? ours('defaults') : oursTuned);
  const lines = [...header, ''];

  const drained = shown.filter((r) => Object.keys(r.drains).length);
  if (drained.length) {
    lines.push('**W1/W4 throughput**: single-step runs drained, completed/s (× = ÷ nestjs-pgflow in the same setup; ' +
      'ceilings ÷ nestjs-pgflow tuned)', '', ...table(drained, throughputMetrics(processes), sameSetup), '');
    const ceilings = drained.filter((r) => r.kind === 'ceiling');
    if (oursTuned && ceilings.length) {
      const shares = ceilings.map((c) => `${c.label}: ` + processes.map((p) => {
        const v = drainMedian(oursTuned, p, (d) => d.rate) / drainMedian(c, p, (d) => d.rate);
        return `${p} process${p > 1 ? 'es' : ''} ${Number.isFinite(v) ? (100 * v).toFixed(0) : '–'} %`;
      }).join(', '));
      lines.push(`${oursTuned.label} as a share of the raw Postgres ceilings — ${shares.join('; ')}.`, '');
    }
  }
  const timed = shown.filter((r) => r.latency.length);
  if (timed.length) {
    lines.push('**W2 latency**: a 3-step chain, start → completed seen by the client, one idle worker process, in both ' +
      'setups (× = ÷ nestjs-pgflow in the same setup)', '', ...table(timed, LATENCY, sameSetup), '');
    const p50 = LATENCY[0];
    const best = [...new Set(timed.map((r) => r.family))].map((family) => {
      const mine = timed.filter((r) => r.family === family && !r.variant && Number.isFinite(p50.value(r)));
      const top = mine.sort((a, b) => p50.value(a) - p50.value(b))[0];
      return top ? `${top.label.split(' (')[0]} ${p50.format(p50.value(top))} ms (${top.kind})` : undefined;
    }).filter(Boolean);
    if (best.length) lines.push(`Each engine's best W2 p50 and the setup it came from: ${best.join(', ')}.`, '');
  }
  const other = shown.filter((r) => r.fanout.length || r.memory.length);
  if (other.length) {
    lines.push('**W3 fan-out and W5 memory**, tuned setups (× = ÷ nestjs-pgflow tuned)', '',
      ...table(other, FANOUT_MEMORY, () => oursTuned), '');
  }
  const notes = results.flatMap((r) => [
    ...(r.skipped ? [`**${r.label}: skipped** — ${r.skipped}`] : []),
    ...r.notes.map((n) => `${r.label}: ${n}`),
    ...r.errors.map((e) => `${r.label} error: ${e}`),
  ]);
  if (notes.length) lines.push('Notes:', ...notes.map((n) => `- ${n}`));
  return lines.join('\n').trimEnd();
}
