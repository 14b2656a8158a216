import { Pool } from 'pg';
import { Child, startChild } from '../support/child';
import { createTestDatabase, TestDatabase } from '../support/database';

const FIXTURE = 'test/process/fixtures/limits-worker.ts';
// two tasks at a time per worker: reaching a limit of 3 or 4 takes several processes
const WORKER_ENV = { LEASE_SECONDS: '3', MAX_CONCURRENCY: '2' };
const SPANS = `
  create table spans (
    id serial primary key, run_id uuid not null, flow text not null, step text not null, idx int not null,
    tenant text, region text, worker text not null,
    started_at timestamptz not null default clock_timestamp(), ended_at timestamptz
  )`;

/**
 * Limits enforced by the database across three worker processes on one database.
 * Handlers record their start and end (database clock) in `spans`; an overlap is the
 * number of spans running at the moment one of them starts.
 */
describe('flow control across worker processes', () => {
  let database: TestDatabase;
  let pool: Pool;
  const children = new Map<string, Child>();

  const q = async <T>(sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows as T[];

  function spawn(id: string, env: Record<string, string> = {}): Child {
    const child = startChild(FIXTURE, { DATABASE_URL: database.url, WORKER_ID: id, NO_COLOR: '1', ...env });
    children.set(id, child);
    return child;
  }

  async function kill(id: string): Promise<void> {
    const child = children.get(id);
    if (!child) return;
    children.delete(id);
    child.kill('SIGKILL');
    await child.exited();
  }

  async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await fn();
      if (value) return value;
      if (Date.now() > deadline) {
        const tails = [...children].map(([id, c]) => `--- ${id} ---\n${c.output().slice(-2000)}`).join('\n');
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${tails}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Starts runs from SQL, as a trigger or another service would. */
  async function start(flow: string, inputs: unknown[], concurrencyKey?: string): Promise<string[]> {
    const rows = await q<{ run_id: string }>(
      `select (pgflow.start_flow($1, x, p_concurrency_key => $3)).run_id
         from jsonb_array_elements($2::jsonb) with ordinality as e(x, n) order by n`,
      [flow, JSON.stringify(inputs), concurrencyKey ?? null]);
    return rows.map((r) => r.run_id);
  }

  async function settled(runIds: string[], timeoutMs: number): Promise<void> {
    await until(async () => {
      const [{ n }] = await q<{ n: number }>(
        `select count(*)::int as n from pgflow.runs where run_id = any($1) and status in ('completed', 'failed')`, [runIds]);
      return n === runIds.length;
    }, timeoutMs, `${runIds.length} runs to finish`);
  }

  /** Highest number of the flow's spans (of `where`) running at once, per group (a column, or 'all'). */
  async function maxOverlap(flow: string, group: 'tenant' | 'region' | 'step' | 'all', step?: string): Promise<Record<string, number>> {
    const col = group === 'all' ? `'all'` : group;
    const rows = await q<{ g: string; n: number }>(`
      select s.g, max(s.n)::int as n from (
        select ${col === `'all'` ? col : `a.${col}`} as g,
               (select count(*) from spans b
                 where b.flow = a.flow and ($2::text is null or b.step = $2)
                   and ${col === `'all'` ? 'true' : `b.${col} is not distinct from a.${col}`}
                   and b.started_at <= a.started_at and b.ended_at > a.started_at) as n
          from spans a where a.flow = $1 and ($2::text is null or a.step = $2)) s
       group by s.g order by s.g`, [flow, step ?? null]);
    return Object.fromEntries(rows.map((r) => [r.g, r.n]));
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = new Pool({ connectionString: database.url, max: 4 });
    await pool.query(SPANS);
    for (const id of ['w1', 'w2', 'w3']) spawn(id, WORKER_ENV);
    await Promise.all([...children.values()].map((c) => c.waitFor(/^READY /m, 90_000)));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...children.keys()].map(kill));
    await pool?.end();
    await database?.drop();
  });

  it('never runs more tasks of a flow at once than its concurrency limit, and reaches it', async () => {
    const runs = await start('lim_flow', Array.from({ length: 15 }, () => ({ ms: 400 })));
    await settled(runs, 60_000);
    expect(await maxOverlap('lim_flow', 'all')).toEqual({ all: 3 });
    // the limit held across processes, not within one
    const workers = await q<{ worker: string }>(`select distinct worker from spans where flow = 'lim_flow'`);
    expect(workers.length).toBeGreaterThan(1);
  });

  it('holds per-key limits whose keys overlap (flow by tenant, step by region), and concurrencyKey replaces them', async () => {
    const inputs = [];
    for (let i = 0; i < 24; i++) inputs.push({ ms: 400, tenant: `t${i % 3}`, region: i % 2 ? 'eu' : 'us' });
    const runs = await start('lim_keyed', inputs);
    // these name tenant t0 and region us in their input, but their concurrencyKey puts them in bucket "vip" of both limits
    const vip = await start('lim_keyed', Array.from({ length: 4 }, () => ({ ms: 400, tenant: 't0', region: 'us' })), 'vip');
    await settled([...runs, ...vip], 90_000);
    const spans = await q<{ run_id: string; tenant: string; region: string; started_at: Date; ended_at: Date }>(
      `select run_id, tenant, region, started_at, ended_at from spans where flow = 'lim_keyed'`);
    const vipSet = new Set(vip);
    const bucket = (s: { run_id: string }, v: string) => (vipSet.has(s.run_id) ? '"vip"' : v);
    const peak = (by: 'tenant' | 'region') => {
      const out: Record<string, number> = {};
      for (const a of spans) {
        const key = bucket(a, a[by]);
        const n = spans.filter((b) => bucket(b, b[by]) === key && b.started_at <= a.started_at && b.ended_at > a.started_at).length;
        out[key] = Math.max(out[key] ?? 0, n);
      }
      return out;
    };
    // by tenant: at most 2 at once each, and reached; by region: at most 3 each
    expect(peak('tenant')).toEqual({ t0: 2, t1: 2, t2: 2, '"vip"': 2 });
    const regions = peak('region');
    expect(Object.keys(regions).sort()).toEqual(['"vip"', 'eu', 'us']);
    for (const n of Object.values(regions)) expect(n).toBeLessThanOrEqual(3);
    expect(Math.max(regions.eu, regions.us)).toBe(3);
  });

  it('lets another key run while one key is saturated', async () => {
    const busy = await start('lim_keyed', Array.from({ length: 12 }, (_, i) => ({ ms: 600, tenant: 'busy', region: `r${i}` })));
    await until(async () => (await q(`select 1 from spans where run_id = any($1)`, [busy])).length >= 2, 30_000,
      'the busy tenant to fill its two slots');
    const [other] = await start('lim_keyed', [{ ms: 10, tenant: 'other', region: 'x' }]);
    await settled([other], 20_000);
    // the other tenant's run finished while the busy tenant still had queued tasks
    const [{ n }] = await q<{ n: number }>(
      `select count(*)::int as n from pgflow.step_tasks where run_id = any($1) and status = 'queued'`, [busy]);
    expect(n).toBeGreaterThan(0);
    await settled(busy, 60_000);
    expect((await maxOverlap('lim_keyed', 'tenant')).busy).toBe(2);
  });

  it('holds a step-level and a flow-level limit together', async () => {
    const [run] = await start('lim_steps', [Array.from({ length: 10 }, () => ({ ms: 400 }))]);
    await settled([run], 60_000);
    // map step fan (10 tasks) under its limit 2, solo (8 tasks) under none: both under the flow's 4
    expect(await maxOverlap('lim_steps', 'all')).toEqual({ all: 4 });
    expect(await maxOverlap('lim_steps', 'all', 'fan')).toEqual({ all: 2 });
  });

  it('never starts more than the rate limit in any sliding window, across window boundaries', async () => {
    const runs = await start('lim_rate', Array.from({ length: 16 }, () => ({ ms: 10 })));
    await settled(runs, 60_000);
    // claim times (the database clock at the claim) of every start
    const starts = (await q<{ t: string }>(
      `select extract(epoch from started_at)::float8 as t from pgflow.step_tasks where run_id = any($1) order by started_at`,
      [runs])).map((r) => Number(r.t));
    expect(starts).toHaveLength(16);
    let worst = 0;
    for (const s of starts) worst = Math.max(worst, starts.filter((t) => t >= s && t < s + 1).length);
    expect(worst).toBe(4);
    // 16 starts at 4 per second take at least three seconds
    expect(starts[15] - starts[0]).toBeGreaterThanOrEqual(3);
  });

  it('gives the slots of a SIGKILLed worker back when their leases expire', async () => {
    const held = await start('lim_hold', [{ ms: 120_000 }, { ms: 120_000 }]);
    await until(async () => (await q(`select 1 from spans where run_id = any($1)`, [held])).length === 2, 30_000,
      'both slots to be held');
    const [waiting] = await start('lim_hold', [{ ms: 10 }]);
    // the workers holding the slots die; at least one of the three lives on, and waits
    const holders = (await q<{ worker: string }>(`select distinct worker from spans where run_id = any($1)`, [held]))
      .map((r) => r.worker);
    expect(holders.length).toBeLessThan(3);
    await Promise.all(holders.map(kill));
    const killedAt = Date.now();
    await settled([waiting], 30_000);
    const [{ started, lease_ends }] = await q<{ started: Date; lease_ends: Date }>(
      `select (select started_at from spans where run_id = $2) as started,
              (select max(attempt_history -> 0 ->> 'endedAt')::timestamptz from pgflow.step_tasks
                where run_id = any($1)) as lease_ends`, [held, waiting]);
    // not before the dead worker's leases (3 s) ran out, and soon after: the slot came back
    expect(started.getTime()).toBeGreaterThanOrEqual(lease_ends.getTime());
    expect(started.getTime() - killedAt).toBeLessThan(15_000);
    expect(await q(`select status from pgflow.runs where run_id = any($1)`, [held]))
      .toEqual([{ status: 'failed' }, { status: 'failed' }]);
    for (const id of holders) spawn(id, WORKER_ENV);
    await Promise.all(holders.map((id) => children.get(id)!.waitFor(/^READY /m, 90_000)));
  });

  it('starts a single-step run of another flow within one batch while a 5,000-element map is claimed', async () => {
    const [big] = await start('big_map', [Array.from({ length: 5000 }, (_, i) => i)]);
    await until(async () => (await q(`select 1 from pgflow.step_tasks where run_id = $1 and status <> 'queued' limit 1`, [big]))
      .length > 0, 30_000, 'the map to be claimed');
    const [small] = await start('small_one', [{}]);
    await settled([small], 20_000);
    const [{ before, queued_left }] = await q<{ before: number; queued_left: number }>(`
      select (select count(*)::int from pgflow.step_tasks b
               where b.run_id = $1 and b.started_at > s.queued_at and b.started_at < s.started_at) as before,
             (select count(*)::int from pgflow.step_tasks b where b.run_id = $1 and b.status = 'queued') as queued_left
        from pgflow.step_tasks s where s.run_id = $2`, [big, small]);
    // map tasks claimed after the small run was queued and before it started: the claims
    // already under way then and one more per worker (10 each), not the thousands queued ahead
    expect(before).toBeLessThanOrEqual(60);
    expect(queued_left).toBeGreaterThan(1000);
    await settled([big], 120_000);
  });
});
