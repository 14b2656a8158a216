import { mkdirSync, writeFileSync } from 'fs';
import { cpus, loadavg, totalmem } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import { Engine, Workload } from './engines/engine';
import { BenchConfig, BenchCounts, countsNote, readConfig } from './support/bench.config';
import { buildForWorkers } from './support/build';
import { ensurePeersInstalled } from './support/install';
import { EngineResults, markdownTables, medians } from './support/report';
import { median } from './support/stats';
import { measureFanout } from './workloads/fanout.workload';
import { measureLatency } from './workloads/latency.workload';
import { measureMemory } from './workloads/memory.workload';
import { measureDrain } from './workloads/throughput.workload';
import { WorkloadContext } from './workloads/workload.context';

const ROOT = join(__dirname, '..');
const BENCH = __dirname;
const OURS = 'pgflow';

/**
 * Engines in table order, each in its configurations (defaults, then tuned; the raw
 * ceilings at claims of 10 and 100); a module is loaded only when selected.
 */
const ENGINES: Record<string, () => Promise<Engine[]>> = {
  pgflow: async () => {
    const { PgflowEngine } = await import('./engines/pgflow.engine');
    return [new PgflowEngine('defaults'), new PgflowEngine('tuned')];
  },
  // issue 18: ours at defaults with the OTel SDK registered, and without the API installed
  otel: async () => {
    const { PgflowEngine } = await import('./engines/pgflow.engine');
    return [new PgflowEngine('defaults', 'sdk'), new PgflowEngine('defaults', 'no-api')];
  },
  ceiling: async () => {
    const { CeilingEngine } = await import('./engines/ceiling.engine');
    return [new CeilingEngine(10), new CeilingEngine(100)];
  },
  pgboss: async () => {
    const { PgBossEngine } = await import('./engines/pgboss.engine');
    return [new PgBossEngine('defaults'), new PgBossEngine('tuned')];
  },
  graphile: async () => {
    const { GraphileEngine } = await import('./engines/graphile.engine');
    return [new GraphileEngine('defaults'), new GraphileEngine('tuned')];
  },
  bullmq: async () => {
    const { BullMQEngine } = await import('./engines/bullmq.engine');
    return [new BullMQEngine('defaults'), new BullMQEngine('tuned')];
  },
  dbos: async () => {
    const { DbosEngine } = await import('./engines/dbos.engine');
    return [new DbosEngine('defaults'), new DbosEngine('tuned')];
  },
};

/** What a feature workload hands the report: its table and its figures for the JSON. */
interface FeatureResult {
  table: string;
  result: unknown;
}

/**
 * pgflow-only workloads of the feature issues (the peers have nothing to compare them
 * with), after the engines' rounds, each on a database of its own and with rounds of its
 * own where it compares two states; counts follow BENCH_SCALE.
 */
const FEATURES: Record<string, (config: BenchConfig) => Promise<FeatureResult>> = {
  signals: async (config) => {
    const { measureSignals, signalsTable } = await import('./workloads/signals.workload');
    const r = await measureSignals({
      serverUrl: config.pgUrl, samples: scaled(config, 300), waiting: scaled(config, 100_000),
      backlog: scaled(config, 20_000), rounds: config.rounds, log: (msg) => log(`signals: ${msg}`),
    });
    return { table: signalsTable(r), result: r };
  },
  renewal: async (config) => {
    const { measureRenewal, renewalTable } = await import('./workloads/renewal.workload');
    const r = await measureRenewal({ serverUrl: config.pgUrl, tasks: 1000, samples: scaled(config, 50) });
    log(`renewal: ${r.renewed} leases per heartbeat, p50 ${r.p50.toFixed(2)} ms`);
    return { table: renewalTable(r), result: r };
  },

  dashboard: async (config) => {
    const { measureDashboard, dashboardTable } = await import('./workloads/dashboard.workload');
    const r = await measureDashboard({
      serverUrl: config.pgUrl, streams: 20, backlog: scaled(config, 20_000), runs: scaled(config, 1_000_000),
      rounds: config.rounds, requests: scaled(config, 50), log: (msg) => log(`dashboard: ${msg}`),
    });
    return { table: dashboardTable(r), result: r };
  },

  subflows: async (config) => {
    const { measureSubflows, subflowsTable } = await import('./workloads/subflows.workload');
    const r = await measureSubflows({
      serverUrl: config.pgUrl, elements: scaled(config, 1000), rounds: config.rounds, log: (msg) => log(`subflows: ${msg}`),
    });
    return { table: subflowsTable(r), result: r };
  },
  // F1–F4 of issue 17; FC_BASELINE_LIB names a baseline's lib/ (e.g. a checkout of main) for W1's overhead
  flowcontrol: async (config) => {
    const { measureFlowControl, flowControlTable } = await import('./workloads/flow-control.workload');
    const r = await measureFlowControl({
      serverUrl: config.pgUrl, backlog: scaled(config, 20_000), rounds: config.rounds, samples: scaled(config, 30),
      baselineLib: process.env.FC_BASELINE_LIB, log: (msg) => log(`flowcontrol: ${msg}`),
    });
    return { table: flowControlTable(r), result: r };
  },
};

function scaled(config: BenchConfig, n: number): number {
  return Math.max(1, Math.round(n * config.scale));
}

/** BENCH_WORKLOADS names them; without it they run unless BENCH_ENGINES names engines but not `features`. */
function featuresWanted(config: BenchConfig): string[] {
  if (config.workloads) return Object.keys(FEATURES).filter((k) => config.workloads?.includes(k));
  return !config.engines || config.engines.includes('features') ? Object.keys(FEATURES) : [];
}

const WORKLOAD_KEYS: Record<string, Workload> = { w1: 'throughput', w4: 'throughput', w2: 'latency', w3: 'fanout', w5: 'memory' };

function log(msg: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

async function machine(config: BenchConfig): Promise<Record<string, string | number>> {
  const pg = new Client({ connectionString: config.pgUrl });
  await pg.connect();
  const version = (await pg.query<{ v: string }>('select version() as v')).rows[0].v;
  await pg.end();
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: version.split(' on ')[0],
  };
}

/**
 * Once a drain of a configuration was cut off by the cap before it got through half
 * its backlog, its later drains (other process counts, later rounds) get a quarter of
 * the time and a backlog it cannot empty in that time even if it scaled linearly with
 * processes (1.5× what its fastest such drain per process would complete, plus
 * 1,000): the rate is still over a busy window, and slow configurations keep to the
 * budget.
 */
function shortDrain(res: EngineResults, processes: number, counts: BenchCounts): { n: number; capMs: number } | undefined {
  const capped = Object.values(res.drains).flat().filter((d) => d.completed < d.enqueued / 2);
  if (!capped.length) return undefined;
  const perProcess = Math.max(...capped.map((d) => d.rate / d.processes));
  const capMs = counts.drainCapMs / 4;
  return { n: Math.min(counts.singles, Math.ceil(1.5 * perProcess * processes * (capMs / 1000)) + 1000), capMs };
}

async function runEngine(engine: Engine, ctx: WorkloadContext, res: EngineResults, wanted: Set<Workload>, round: number): Promise<void> {
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      const msg = `round ${round} ${what}: ${(err as Error).message.split('\n')[0]}`;
      log(`${engine.key} ${msg}`);
      console.error(err);
      res.errors.push(msg);
    }
  };
  const does = (w: Workload) => wanted.has(w) && engine.workloads.has(w);
  if (does('throughput')) {
    for (const p of ctx.config.processes) {
      const short = shortDrain(res, p, ctx.config.counts);
      await attempt(`W1/W4 ${p}p`, async () => {
        const d = short ? await measureDrain(ctx, p, short.n, short.capMs) : await measureDrain(ctx, p);
        (res.drains[p] ??= []).push(d);
        if (d.completed < d.enqueued) res.notes.push(`round ${round} W1/W4 ${p}p: capped, rated over ${d.completed.toLocaleString('en-US')} completed`);
        log(`${engine.key} drain ${p}p: ${d.completed}/${d.enqueued} in ${d.seconds.toFixed(2)} s = ${Math.round(d.rate)}/s` +
          ` (peak RSS ${Math.round(d.peakRss / 2 ** 20)} MB)`);
      });
    }
  }
  // a series cut off by its cap in round 1 is not repeated (slow engines: the budget)
  if (does('latency') && !(round > 1 && res.latency.length && res.latency[0].samples < ctx.config.counts.chains)) {
    await attempt('W2', async () => {
      const l = await measureLatency(ctx);
      res.latency.push(l);
      if (l.samples < ctx.config.counts.chains) res.notes.push(`round ${round} W2: only ${l.samples} chain${l.samples === 1 ? '' : 's'} within the ${ctx.config.counts.chainCapMs / 1000} s cap`);
      log(`${engine.key} latency: n=${l.samples} p50 ${l.p50.toFixed(1)} p95 ${l.p95.toFixed(1)} p99 ${l.p99.toFixed(1)} ms`);
    });
  }
  if (does('fanout') && !(round > 1 && res.fanout.length && !res.fanout.some((f) => Number.isFinite(f.seconds)))) {
    await attempt('W3', async () => {
      const f = await measureFanout(ctx);
      res.fanout.push(f);
      if (!Number.isFinite(f.seconds)) res.notes.push(`round ${round} W3: not done within the ${ctx.config.counts.fanoutCapMs / 1000} s cap`);
      log(`${engine.key} fan-out ${f.elements}: ${f.seconds.toFixed(2)} s`);
    });
  }
  // a leak check, not a speed figure: once per engine, in the first round
  if (does('memory') && round === 1) {
    const rate = res.drains[1]?.[0]?.rate ?? Infinity;
    const { memorySecond, memoryCapMs } = ctx.config.counts;
    // far too slow to get near the second sample within the cap: say so, save the time
    if (rate * (memoryCapMs / 1000) < memorySecond / 2) {
      res.notes.push(`W5 skipped: at ${Math.round(rate)}/s (W1, 1 process) ${memorySecond.toLocaleString('en-US')} tasks ` +
        `would take ${Math.round(memorySecond / rate)} s, past the ${memoryCapMs / 1000} s cap`);
      return;
    }
    await attempt('W5', async () => {
      const m = await measureMemory(ctx);
      res.memory.push(m);
      if (m.second.tasks < ctx.config.counts.memorySecond) {
        res.notes.push(`W5: second sample after ${m.second.tasks.toLocaleString('en-US')} tasks (the ${ctx.config.counts.memoryCapMs / 1000} s cap)`);
      }
      log(`${engine.key} memory: ${m.first.tasks} tasks ${Math.round(m.first.rss / 2 ** 20)} MB → ` +
        `${m.second.tasks} tasks ${Math.round(m.second.rss / 2 ** 20)} MB (${m.rssGrowthPct.toFixed(1)}%)`);
    });
  }
}

function loadNote(loads: number[]): string {
  if (!loads.length) return '–';
  const sorted = [...loads].sort((a, b) => a - b);
  return `median ${median(loads).toFixed(2)}, max ${sorted[sorted.length - 1].toFixed(2)}`;
}

async function main(): Promise<void> {
  const started = Date.now();
  const before = loadavg()[0];
  const config = readConfig();
  ensurePeersInstalled(BENCH);
  const buildDir = buildForWorkers(ROOT);
  const wanted = new Set<Workload>(config.workloads
    ? config.workloads.map((w) => WORKLOAD_KEYS[w.toLowerCase()]).filter((w): w is Workload => !!w)
    : Object.values(WORKLOAD_KEYS));
  for (const w of config.workloads ?? []) {
    if (!WORKLOAD_KEYS[w.toLowerCase()] && !FEATURES[w]) {
      log(`unknown workload "${w}" (known: ${[...Object.keys(WORKLOAD_KEYS), ...Object.keys(FEATURES)].join(', ')})`);
    }
  }
  const cpuProfDir = process.env.BENCH_CPU_PROF ? join(BENCH, 'results') : undefined;

  // BENCH_ENGINES names engines (every configuration) or configurations by key
  const selected = config.engines;
  const engines: Array<{ engine: Engine; res: EngineResults }> = [];
  const matched = new Set<string>();
  for (const [family, load] of Object.entries(ENGINES)) {
    const byFamily = !selected || selected.includes(family);
    if (!byFamily && !selected?.some((k) => k.startsWith(`${family}-`))) continue;
    const configurations = await load().then((all) => all.filter((e) => byFamily || selected?.includes(e.key)));
    if (byFamily) matched.add(family);
    for (const engine of configurations) {
      matched.add(engine.key);
      const res: EngineResults = {
        key: engine.key, family: engine.family, kind: engine.kind, label: engine.label, variant: engine.variant,
        notes: [...engine.notes],
        drains: {}, latency: [], fanout: [], memory: [], errors: [],
      };
      engines.push({ engine, res });
    }
  }
  for (const k of selected ?? []) if (!matched.has(k) && k !== 'features') log(`unknown engine "${k}" (known: ${Object.keys(ENGINES).join(', ')}, or a key like pgflow-tuned)`);
  const results = engines.map((e) => e.res);

  // Each engine is set up for its turn and torn down after it, so no other engine's
  // pollers, maintenance loops or connections run while one is measured (W2 is
  // specified on an idle system).
  // other work on the machine shows in the numbers: the load is reported with them
  const loads: number[] = [];
  for (let round = 1; round <= config.rounds; round++) {
    for (const { engine, res } of engines) {
      if (res.skipped || ![...engine.workloads].some((w) => wanted.has(w))) continue;
      loads.push(loadavg()[0]);
      log(`round ${round}/${config.rounds}: ${engine.label} (load ${loads[loads.length - 1].toFixed(2)})`);
      try {
        await engine.setup(config);
      } catch (err) {
        const msg = `setup failed: ${(err as Error).message.split('\n')[0]}`;
        log(`${engine.key} round ${round} ${msg}`);
        if (round === 1) res.skipped = msg;
        else res.errors.push(`round ${round} ${msg}`);
        await engine.teardown().catch(() => undefined);
        continue;
      }
      const spawn = { buildDir, engine: engine.worker, env: { BENCH_DIR: BENCH, BENCH_REDIS_URL: config.redisUrl, ...engine.workerEnv() },
        cpuProfDir: engine.family === OURS ? cpuProfDir : undefined };
      try {
        await runEngine(engine, { engine, config, spawn }, res, wanted, round);
      } finally {
        await engine.teardown().catch((err: Error) => log(`${engine.key} teardown: ${err.message}`));
      }
    }
  }

  const features: Record<string, FeatureResult> = {};
  for (const key of featuresWanted(config)) {
    log(`feature workload: ${key} (load ${loadavg()[0].toFixed(2)})`);
    try {
      features[key] = await FEATURES[key](config);
    } catch (err) {
      log(`${key} failed: ${(err as Error).message.split('\n')[0]}`);
      console.error(err);
      features[key] = { table: `**${key}: failed** — ${(err as Error).message.split('\n')[0]}`, result: null };
    }
  }

  const info = await machine(config);
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const header = [
    `Machine: ${info.cores} cores (${info.cpu}), ${info.memoryGiB} GiB, ${info.postgres}, Node ${info.node}. ` +
      `Medians of ${config.rounds} round(s), BENCH_SCALE=${config.scale}${config.quick ? ', BENCH_QUICK=1' : ''}; ` +
      `whole run ${minutes} min. 1-min load average before the run ${before.toFixed(2)}, as each configuration started ` +
      `${loadNote(loads)} (the bench's own processes count in it; other work on the machine shows in every number).`,
    `Counts: ${countsNote(config.counts)}; W2 ${config.counts.chains} chains after 10 warm-up runs, 1 worker process; ` +
      `W3 ${config.counts.fanout.toLocaleString('en-US')} elements, 2 worker processes; ` +
      `W5 memory sampled after a GC at ${config.counts.memoryFirst.toLocaleString('en-US')} and ` +
      `${config.counts.memorySecond.toLocaleString('en-US')} tasks, one worker, first round only.`,
  ];
  const featureTables = Object.values(features).map((f) => f.table);
  // engines that had nothing to run (BENCH_WORKLOADS naming only feature workloads) stay out
  const ran = results.filter((r) => r.skipped || r.errors.length || Object.keys(r.drains).length ||
    r.latency.length || r.fanout.length || r.memory.length);
  const table = [markdownTables(ran, OURS, config.processes, header), ...featureTables].join('\n\n');
  console.log('\n' + table + '\n');
  const outDir = join(BENCH, 'results');
  mkdirSync(outDir, { recursive: true });
  const json = {
    generatedAt: new Date().toISOString(),
    machine: { ...info, loadAverageBefore: Number(before.toFixed(2)), loadAverageAtEachConfiguration: loads.map((l) => Number(l.toFixed(2))) },
    config: { rounds: config.rounds, scale: config.scale, quick: config.quick, processes: config.processes, counts: config.counts },
    engines: Object.fromEntries(results.map((r) => [r.key, { ...r, medians: medians(r, config.processes) }])),
    features: Object.fromEntries(Object.entries(features).map(([k, f]) => [k, f.result])),
    table,
  };
  // latest.json is the full run the README quotes: a quick run, a run of some engines
  // or workloads, or one at another scale or number of rounds goes beside it
  const full = !config.quick && !config.engines && !config.workloads && config.scale === 1 && config.rounds === 3 &&
    config.processes.join() === '1,2';
  const file = full ? 'latest.json' : 'partial.json';
  writeFileSync(join(outDir, file), JSON.stringify(json, null, 2) + '\n');
  log(`wrote bench/results/${file} (${minutes} min)`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
