import 'reflect-metadata';
import { execFileSync } from 'child_process';
import { existsSync } from 'fs';
import { Client } from 'pg';
import { PgflowWorker } from '../../lib';
import { connect, dropDatabase, freshDatabase } from '../support/database';
import { PGFLOW_TUNED } from '../engines/pgflow.engine';
import { probeApp } from './probe.app';

/**
 * Where a single-step run's writes go. Enqueues N runs of bench_single, then drains
 * them with one in-process worker, and reports per run, for each phase (start_flow;
 * the drain: claims and completions):
 * - rows inserted / updated / HOT-updated / deleted per table (pg_stat_user_tables
 *   deltas after pg_stat_force_next_flush());
 * - WAL records per relation from pg_waldump between the phase's LSNs (heap
 *   INSERT/UPDATE/HOT_UPDATE/LOCK, btree INSERT_LEAF: the index entries written), and
 *   WAL bytes (the LSN delta: the whole server's, so run it on a quiet machine);
 * - transactions committed by the worker (each of its statements is one);
 * - calls of each pgflow function (track_functions = all on the profile database).
 *
 *   npx ts-node --transpile-only bench/profile/write-profile.ts [N] [defaults|tuned]
 *
 * PROFILE_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the
 * server; PROFILE_WAL_DIR the pg_wal directory pg_waldump reads (default the
 * server's data_directory/pg_wal; the record breakdown is skipped if unreadable).
 * PROFILE_WALDUMP the pg_waldump binary (default pg_config --bindir's).
 * PROFILE_JSON=1 prints the result as JSON as well.
 */

const DB = 'pgflow_profile';
const SERVER = process.env.PROFILE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.argv[2] ?? 20000);
const KIND = (process.argv[3] ?? 'tuned') as 'defaults' | 'tuned';

interface TableStats { ins: number; upd: number; hot: number; del: number }
type Snapshot = Record<string, TableStats>;
interface Phase {
  rows: Record<string, TableStats>;
  wal: Record<string, Record<string, number>>;
  walBytes: number;
  commits: number;
  functions: Record<string, number>;
}

async function tableStats(c: Client): Promise<Snapshot> {
  await c.query('select pg_stat_force_next_flush()');
  // the flush applies to this backend; others flushed when their transactions ended
  // (at most PGSTAT_MIN_INTERVAL later): wait that out
  await new Promise((r) => setTimeout(r, 1100));
  await c.query('select pg_stat_clear_snapshot()');
  const { rows } = await c.query<{ relname: string; ins: string; upd: string; hot: string; del: string }>(
    `select relname, n_tup_ins as ins, n_tup_upd as upd, n_tup_hot_upd as hot, n_tup_del as del
       from pg_stat_user_tables where schemaname = 'pgflow'`);
  return Object.fromEntries(rows.map((r) => [r.relname, { ins: +r.ins, upd: +r.upd, hot: +r.hot, del: +r.del }]));
}

async function functionCalls(c: Client): Promise<Record<string, number>> {
  const { rows } = await c.query<{ funcname: string; calls: string }>(
    `select funcname, calls from pg_stat_user_functions where schemaname = 'pgflow'`);
  return Object.fromEntries(rows.map((r) => [r.funcname, +r.calls]));
}

async function commits(c: Client): Promise<number> {
  const { rows } = await c.query<{ n: string }>('select xact_commit as n from pg_stat_database where datname = current_database()');
  return +rows[0].n;
}

async function lsn(c: Client): Promise<string> {
  return (await c.query<{ l: string }>('select pg_current_wal_lsn()::text as l')).rows[0].l;
}

async function walBytes(c: Client, from: string, to: string): Promise<number> {
  return +(await c.query<{ b: string }>('select pg_wal_lsn_diff($2, $1) as b', [from, to])).rows[0].b;
}

/** relfilenode → relation name of this database's pgflow relations (tables, indexes, toast). */
async function relations(c: Client): Promise<{ db: string; names: Map<string, string> }> {
  const db = (await c.query<{ oid: string }>('select oid::text from pg_database where datname = current_database()')).rows[0].oid;
  const { rows } = await c.query<{ node: string; name: string }>(
    `select pg_relation_filenode(cl.oid)::text as node,
            case when cl.relkind = 't' then (select 'toast:' || o.relname from pg_class o where o.reltoastrelid = cl.oid)
                 when cl.relkind = 'i' and cl.relname like 'pg_toast%' then 'toast index'
                 else cl.relname end as name
       from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
      where (n.nspname = 'pgflow' or (n.nspname = 'pg_toast' and cl.relname ~ '^pg_toast_'))
        and pg_relation_filenode(cl.oid) is not null`);
  return { db, names: new Map(rows.map((r) => [r.node, r.name])) };
}

/** pg_waldump of the server's version (Debian keeps it off PATH, in pg_config --bindir). */
function waldump(): string {
  if (process.env.PROFILE_WALDUMP) return process.env.PROFILE_WALDUMP;
  try {
    return `${execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim()}/pg_waldump`;
  } catch {
    return 'pg_waldump';
  }
}

/** WAL records by relation and kind between two LSNs, for this database's pgflow relations. */
function walRecords(walDir: string, from: string, to: string, rel: { db: string; names: Map<string, string> }):
  Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  let text: string;
  try {
    text = execFileSync(waldump(), ['-p', walDir, '-s', from, '-e', to], {
      maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    console.log(`(pg_waldump failed: ${String((err as { stderr?: string }).stderr ?? err).trim()})`);
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /rmgr: (\w+)\s.*desc: (\w+).*?blkref #0: rel \d+\/(\d+)\/(\d+)/.exec(line);
    if (!m || m[3] !== rel.db) continue;
    const name = rel.names.get(m[4]);
    if (!name) continue;
    const kind = `${m[1]} ${m[2]}`;
    const counts = (out[name] ??= {});
    counts[kind] = (counts[kind] ?? 0) + 1;
    // total length, full-page images included: the WAL this relation cost
    const len = /len \(rec\/tot\):\s*\d+\/\s*(\d+)/.exec(line);
    if (len) counts.bytes = (counts.bytes ?? 0) + Number(len[1]);
  }
  return out;
}

function diffRows(a: Snapshot, b: Snapshot): Record<string, TableStats> {
  const out: Record<string, TableStats> = {};
  for (const [t, s] of Object.entries(b)) {
    const p = a[t] ?? { ins: 0, upd: 0, hot: 0, del: 0 };
    const d = { ins: s.ins - p.ins, upd: s.upd - p.upd, hot: s.hot - p.hot, del: s.del - p.del };
    if (d.ins || d.upd || d.hot || d.del) out[t] = d;
  }
  return out;
}

function diffCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0)) out[k] = v - (a[k] ?? 0);
  return out;
}

/** Transactions the profiler itself commits during a phase (its polls), not counted as the worker's. */
let own = 0;

async function measure(c: Client, walDir: string | undefined, rel: () => Promise<{ db: string; names: Map<string, string> }>,
  work: () => Promise<void>): Promise<Phase> {
  const rows0 = await tableStats(c);
  const fn0 = await functionCalls(c);
  const tx0 = await commits(c);
  const l0 = await lsn(c);
  own = 0;
  await work();
  const sent = own;
  const l1 = await lsn(c);
  const rows1 = await tableStats(c);
  const tx1 = await commits(c);
  const fn1 = await functionCalls(c);
  return {
    rows: diffRows(rows0, rows1),
    wal: walDir ? walRecords(walDir, l0, l1, await rel()) : {},
    walBytes: await walBytes(c, l0, l1),
    // minus the profiler's own polls and the reads between the snapshots (lsn, stats: 4)
    commits: tx1 - tx0 - sent - 4,
    functions: diffCounts(fn0, fn1),
  };
}

function print(title: string, p: Phase): void {
  const per = (n: number) => (n / N).toFixed(3);
  console.log(`\n## ${title} (per run, N = ${N})`);
  console.log(`WAL bytes (the whole server's) ${Math.round(p.walBytes / N)}; transactions (statements: each is one) ${per(p.commits)}`);
  console.log('rows            inserted  updated  (HOT)  deleted');
  for (const [t, s] of Object.entries(p.rows)) {
    console.log(`  ${t.padEnd(14)}${per(s.ins).padStart(8)}${per(s.upd).padStart(9)}${per(s.hot).padStart(7)}${per(s.del).padStart(9)}`);
  }
  const walRows = Object.entries(p.wal);
  if (walRows.length) {
    console.log('WAL records per relation');
    let index = 0;
    let heap = 0;
    let bytes = 0;
    for (const [r, kinds] of walRows.sort()) {
      const parts = Object.entries(kinds).filter(([k]) => k !== 'bytes').sort().map(([k, n]) => `${k} ${per(n)}`);
      console.log(`  ${r.padEnd(28)}${parts.join(', ')}`);
      bytes += kinds.bytes ?? 0;
      for (const [k, n] of Object.entries(kinds)) {
        if (k.startsWith('Btree INSERT')) index += n;
        if (k.startsWith('Heap')) heap += n;
      }
    }
    console.log(`  total: heap records ${per(heap)}, index entries (btree inserts) ${per(index)}, ` +
      `WAL bytes of these relations ${Math.round(bytes / N)}`);
  }
  const fns = Object.entries(p.functions).sort((a, b) => b[1] - a[1]);
  if (fns.length) console.log(`function calls: ${fns.map(([f, n]) => `${f} ${per(n)}`).join(', ')}`);
}

async function main(): Promise<void> {
  if (!Number.isInteger(N) || N < 1) throw new Error(`N must be a positive integer (got "${process.argv[2]}")`);
  if (KIND !== 'defaults' && KIND !== 'tuned') throw new Error(`the setup must be defaults or tuned (got "${KIND}")`);
  const url = await freshDatabase(SERVER, DB);
  const admin = await connect(SERVER);
  await admin.query(`alter database ${DB} set track_functions = 'all'`);
  const dataDir = (await admin.query<{ data_directory: string }>('show data_directory')).rows[0].data_directory;
  // a temporary slot keeps the WAL from here until this session ends, so that
  // checkpoints (other databases write too) cannot recycle it before pg_waldump reads it
  await admin.query(`select pg_create_physical_replication_slot('pgflow_profile_' || pg_backend_pid(), true, true)`);
  const walDir = process.env.PROFILE_WAL_DIR ?? `${dataDir}/pg_wal`;
  let readable = false;
  try {
    readable = existsSync(walDir) && execFileSync(waldump(), ['--version'], { encoding: 'utf8' }).length > 0;
  } catch {
    readable = false;
  }
  if (!readable) console.log(`(pg_waldump cannot read ${walDir}: no WAL record breakdown)`);

  const settings = KIND === 'tuned' ? PGFLOW_TUNED : {};
  const { app } = await probeApp(url, settings);
  const c = await connect(url);
  try {
    const rel = () => relations(c);
    const enqueue = await measure(c, readable ? walDir : undefined, rel, async () => {
      // chunks with ANALYZE between them, as the bench does (plans made on empty tables)
      for (let done = 0; done < N; done += 1000) {
        await c.query(`select count(pgflow.start_flow('bench_single', '{}'::jsonb)) from generate_series(1, $1)`,
          [Math.min(1000, N - done)]);
        await c.query('analyze pgflow.runs, pgflow.step_states, pgflow.step_tasks');
      }
    });
    const worker = app.get(PgflowWorker);
    let seconds = 0;
    const drain = await measure(c, readable ? walDir : undefined, rel, async () => {
      const t0 = Date.now();
      worker.start();
      for (;;) {
        const r = await c.query<{ n: number }>(
          `select count(*)::int as n from pgflow.runs where status = 'completed'`);
        own++;
        if (r.rows[0].n >= N) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      seconds = (Date.now() - t0) / 1000;
      // closing ends the worker's backends, which flushes their table statistics
      await app.close();
    });
    print('start_flow', enqueue);
    print(`drain (${KIND}: ${JSON.stringify(settings)}; ${Math.round(N / seconds)} runs/s, in-process, polled)`, drain);
    if (process.env.PROFILE_JSON === '1') console.log(JSON.stringify({ n: N, kind: KIND, enqueue, drain }, null, 1));
  } finally {
    await c.end();
    await app.close().catch(() => undefined);
    await admin.end();
    await dropDatabase(SERVER, DB);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
