import { DrainResult } from '../workloads/throughput.workload';
import { FanoutResult } from '../workloads/fanout.workload';
import { LatencyResult } from '../workloads/latency.workload';
import { MemoryResult } from '../workloads/memory.workload';
import { median } from './stats';

/** Everything measured for one engine, round by round. */
export interface EngineResults {
  key: string;
  label: string;
  notes: string[];
  /** set when the engine could not be set up or run at all */
  skipped?: string;
  drains: Record<string, DrainResult[]>;
  latency: LatencyResult[];
  fanout: FanoutResult[];
  memory: MemoryResult[];
  errors: string[];
}

/** One table row: a metric, its unit and how to read it. */
interface Row {
  title: string;
  higherIsBetter: boolean;
  value(e: EngineResults): number;
  format(v: number): string;
}

const MB = 1024 * 1024;
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const fixed = (d: number) => (v: number) => (Number.isFinite(v) ? v.toFixed(d) : '–');

function drainMedian(e: EngineResults, procs: number, f: (d: DrainResult) => number): number {
  return median((e.drains[procs] ?? []).map(f));
}

export const THROUGHPUT_PROCESSES = [1, 2, 4];

/** Medians of every metric, keyed like the table rows (also written to JSON). */
export function medians(e: EngineResults): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of rows()) out[row.title] = row.value(e);
  return out;
}

function rows(): Row[] {
  const rate = (procs: number): Row => ({
    title: `W1/W4 throughput, ${procs} worker process${procs > 1 ? 'es' : ''} (completed/s)`,
    higherIsBetter: true,
    value: (e) => drainMedian(e, procs, (d) => d.rate),
    format: int,
  });
  const lat = (p: 'p50' | 'p95' | 'p99'): Row => ({
    title: `W2 latency 3-step chain ${p} (ms)`,
    higherIsBetter: false,
    value: (e) => median(e.latency.map((l) => l[p])),
    format: fixed(1),
  });
  return [
    ...THROUGHPUT_PROCESSES.map(rate),
    {
      title: 'W4 scaling, 2 processes ÷ 1 (×)',
      higherIsBetter: true,
      value: (e) => drainMedian(e, 2, (d) => d.rate) / drainMedian(e, 1, (d) => d.rate),
      format: fixed(2),
    },
    lat('p50'),
    lat('p95'),
    lat('p99'),
    {
      title: 'W3 fan-out + aggregate (s)',
      higherIsBetter: false,
      value: (e) => median(e.fanout.map((f) => f.seconds)),
      format: fixed(2),
    },
    {
      title: 'W5 peak RSS of 1 worker during W1 (MB)',
      higherIsBetter: false,
      value: (e) => drainMedian(e, 1, (d) => d.peakRss) / MB,
      format: int,
    },
    {
      title: 'W5 RSS growth, first → second sample (%)',
      higherIsBetter: false,
      value: (e) => median(e.memory.map((m) => m.rssGrowthPct)),
      format: fixed(1),
    },
    {
      // RSS keeps pages V8 and the allocator have not returned; live objects tell a leak
      title: 'W5 heap used after GC, growth first → second sample (%)',
      higherIsBetter: false,
      value: (e) => median(e.memory.map((m) => m.heapGrowthPct)),
      format: fixed(1),
    },
  ];
}

function cell(row: Row, v: number, ours: number, isOurs: boolean): string {
  const text = row.format(v);
  if (isOurs || !Number.isFinite(v) || !Number.isFinite(ours) || ours === 0 || row.title.includes('(%)')) return text;
  return `${text} (${(v / ours).toFixed(2)}×)`;
}

/** The markdown table: medians per engine, each peer's value ÷ ours in brackets. */
export function markdownTable(results: EngineResults[], oursKey: string, header: string[]): string {
  const ours = results.find((r) => r.key === oursKey);
  const shown = results.filter((r) => !r.skipped);
  const lines = [...header, ''];
  lines.push(`| metric | ${shown.map((r) => r.label).join(' | ')} |`);
  lines.push(`|---|${shown.map(() => '---:').join('|')}|`);
  for (const row of rows()) {
    const base = ours ? row.value(ours) : NaN;
    lines.push(`| ${row.title} | ${shown.map((r) => cell(row, row.value(r), base, r === ours)).join(' | ')} |`);
  }
  const ceiling = results.find((r) => r.key === 'ceiling' && !r.skipped);
  if (ours && ceiling) {
    const share = THROUGHPUT_PROCESSES.map((p) => {
      const v = drainMedian(ours, p, (d) => d.rate) / drainMedian(ceiling, p, (d) => d.rate);
      return `${p} process${p > 1 ? 'es' : ''} ${Number.isFinite(v) ? (100 * v).toFixed(0) : '–'}%`;
    });
    lines.push('', `nestjs-pgflow as a share of the raw Postgres ceiling: ${share.join(', ')}.`);
  }
  const notes = results.flatMap((r) => [
    ...(r.skipped ? [`**${r.label}: skipped** — ${r.skipped}`] : []),
    ...r.notes.map((n) => `${r.label}: ${n}`),
    ...r.errors.map((e) => `${r.label} error: ${e}`),
  ]);
  if (notes.length) lines.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}
