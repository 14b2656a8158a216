/** Knobs read from the environment once, at start. */
export interface BenchConfig {
  /** BENCH_QUICK=1: a smoke run (1 round, a tenth of every count, short caps), well under 2 minutes. */
  quick: boolean;
  /** Rounds per workload; the table shows medians. BENCH_ROUNDS, default 3 (1 when quick). */
  rounds: number;
  /** Multiplies every count. BENCH_SCALE, default 1 (0.1 when quick). */
  scale: number;
  /**
   * Engines to run: an engine's name runs all its configurations (pgflow, otel, ceiling,
   * pgboss, graphile, bullmq, dbos), a configuration's key only that one
   * (pgflow-tuned, ceiling-100, graphile-defaults, …). BENCH_ENGINES (comma list), default all.
   */
  engines: string[] | null;
  /**
   * Workloads to run. BENCH_WORKLOADS (comma list of w1,w2,w3,w5 and the pgflow-only
   * feature workloads signals, renewal, dashboard, subflows), default all; without it the feature workloads
   * run unless BENCH_ENGINES names engines but not `features`.
   */
  workloads: string[] | null;
  /** Server used for the benchmark databases. BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres. */
  pgUrl: string;
  /** Redis for BullMQ. BENCH_REDIS_URL, default redis://127.0.0.1:6379. */
  redisUrl: string;
  /**
   * W1/W4: worker process counts, each drained separately. BENCH_PROCESSES (comma
   * list), default 1,2: a third count, 4, would add a third to the run's drains and on
   * 2 cores measures only the contention of oversubscribing them.
   */
  processes: number[];
  counts: BenchCounts;
}

/** Workload sizes after scaling. */
export interface BenchCounts {
  /** W1/W4: single-step runs per drain. */
  singles: number;
  /** W1/W4: longest a drain may take before the rate is taken over what completed. */
  drainCapMs: number;
  /** W2: sequential 3-step runs (after warm-up). */
  chains: number;
  /** W2: longest the latency series may take; slower engines report fewer samples. */
  chainCapMs: number;
  /** W3: elements of the fan-out. */
  fanout: number;
  /** W3: longest the fan-out may take. */
  fanoutCapMs: number;
  /** W5: tasks after which the first and second memory samples are taken. */
  memoryFirst: number;
  memorySecond: number;
  /** W5: longest the memory check may take; the second sample is taken where it got to. */
  memoryCapMs: number;
}

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got "${raw}")`);
  return n;
}

function list(name: string): string[] | null {
  const raw = process.env[name];
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : null;
}

/**
 * BENCH_SCALE=1 is issue 7's sizes: 20,000-run drains, 300 chains, a 10,000-element
 * fan-out, memory at 10k and 100k tasks. Every workload has a cap so that slow
 * configurations cannot stretch the default run (12 configurations) past ten minutes
 * on a 2-core machine: a capped drain is rated over what completed by then, a capped
 * series reports fewer samples, a capped fan-out shows "–" and a note.
 */
export function countsNote(c: BenchCounts): string {
  const k = (n: number) => n.toLocaleString('en-US');
  return `W1/W4 drain ${k(c.singles)} runs (capped at ${c.drainCapMs / 1000} s; once a drain of a configuration was ` +
    `capped before half its backlog, its later drains get ${c.drainCapMs / 4000} s and a backlog 1.5× what it would ` +
    'complete then, plus 1,000; ' +
    'a W2 series or W3 fan-out that hit its cap in round 1 is not repeated)';
}

export function readConfig(): BenchConfig {
  const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';
  const scale = num('BENCH_SCALE', quick ? 0.1 : 1);
  const n = (base: number) => Math.max(1, Math.round(base * scale));
  // caps grow with counts above scale 1; the quick run has its own, shorter ones
  const cap = (base: number, quickMs: number) => (quick ? quickMs : base * Math.max(1, scale));
  return {
    quick,
    rounds: Math.round(num('BENCH_ROUNDS', quick ? 1 : 3)),
    scale,
    engines: list('BENCH_ENGINES'),
    workloads: list('BENCH_WORKLOADS'),
    pgUrl: process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
    processes: (list('BENCH_PROCESSES') ?? ['1', '2']).map((p) => {
      const v = Number(p);
      if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_PROCESSES must list positive integers (got "${p}")`);
      return v;
    }),
    counts: {
      singles: n(20_000),
      drainCapMs: cap(4_000, 2_000),
      chains: n(300),
      chainCapMs: cap(4_000, 1_500),
      fanout: n(10_000),
      fanoutCapMs: cap(15_000, 4_000),
      memoryFirst: n(10_000),
      memorySecond: n(100_000),
      memoryCapMs: cap(25_000, 6_000),
    },
  };
}
