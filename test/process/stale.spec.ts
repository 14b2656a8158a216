import { tmpdir } from 'os';
import { join } from 'path';
import { randomBytes } from 'crypto';
import { rm, writeFile } from 'fs/promises';
import { staleValue } from './worker-fixture/expected';
import { useWorkerProcesses } from './process-harness';

// Which UPDATEs of step_tasks complete_tasks made, by which worker (application_name)
// and how many rows they changed: proof that the stale result was actually reported
// and then matched nothing. Observes only; changes no pgflow behaviour.
const OBSERVE_COMPLETIONS = `
  create table completion_calls (app text, rows_updated int, at timestamptz default clock_timestamp());
  create function log_completion_call() returns trigger language plpgsql as $$
  begin
    if current_query() ilike '%complete_tasks%' then
      insert into completion_calls (app, rows_updated)
      select current_setting('application_name'), count(*) from new_rows;
    end if;
    return null;
  end $$;
  create trigger log_completion_call after update on pgflow.step_tasks
    referencing new table as new_rows for each statement execute function log_completion_call();`;

const SNAPSHOT = `
  select (select json_agg(t order by run_id, step_slug, task_index) from
            (select run_id, step_slug, task_index, status, attempts_count, output, claimed_by, completed_at
               from pgflow.step_tasks) t) tasks,
         (select json_agg(s order by run_id, step_slug) from
            (select run_id, step_slug, status, remaining_tasks, remaining_deps, output from pgflow.step_states) s) steps,
         (select json_agg(r order by run_id) from
            (select run_id, status, output, remaining_steps, completed_at from pgflow.runs) r) runs`;

// Scenario: a handler outlives its lease. Its worker froze (1 s timeout, 8 s lease, unrenewed),
// the task was reclaimed and completed elsewhere, and only then does the handler
// return. Its result must be discarded: no output overwritten, no counter
// decremented twice, the run's output untouched.
describe('a result that arrives after its lease expired', () => {
  const { spawn, until, query } = useWorkerProcesses();
  const releaseFile = join(tmpdir(), `pgflow-stale-${randomBytes(4).toString('hex')}`);
  afterAll(() => rm(releaseFile, { force: true }));

  it('is discarded and counters are not decremented twice', async () => {
    await query(OBSERVE_COMPLETIONS);
    const a = spawn('stale-a', { FLOWS: 'stale', BEHAVIOR: 'freeze', RELEASE_FILE: releaseFile });
    await a.ready();
    // in one statement, so that A claims all three in one poll and holds them all
    const runs = await query<{ run_id: string; n: number }>(
      `select (pgflow.start_flow('stale', jsonb_build_object('n', g))).run_id, g n from generate_series(1, 3) g`);
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(
        `select count(*)::int n from pgflow.step_tasks where step_slug = 'slow' and status = 'started' and claimed_by = $1`,
        [a.id]);
      return n === runs.length;
    }, 20_000, 'A holding every slow task');

    const b = spawn('stale-b', { FLOWS: 'stale' });
    await b.ready();
    await until(async () => {
      const [{ n }] = await query<{ n: number }>(`select count(*)::int n from pgflow.runs where status = 'completed'`);
      return n === runs.length;
    }, 30_000, 'B completing every run after the leases expired');
    expect(await b.stop('SIGTERM')).toBe(0);

    const slow = await query<{ attempts_count: number; claimed_by: string; output: { by: string }; error_message: string }>(
      `select attempts_count, claimed_by, output, error_message from pgflow.step_tasks where step_slug = 'slow'`);
    for (const t of slow) {
      expect(t).toMatchObject({ attempts_count: 2, claimed_by: b.id, output: { by: b.id } });
      expect(t.error_message).toMatch(/lease expired/);
    }
    const [before] = await query(SNAPSHOT);

    // now A's handlers return, long after their leases, and A reports the results
    await writeFile(releaseFile, '');
    await until(async () => a.lines(/^STALE-RETURN .* attempt=1$/).length === runs.length, 20_000, 'A returning');
    await until(async () => {
      const calls = await query(`select 1 from completion_calls where app = $1`, [a.id]);
      return calls.length > 0;
    }, 20_000, 'A reporting its stale results');
    expect(await a.stop('SIGTERM')).toBe(0);

    const [{ accepted }] = await query<{ accepted: number }>(
      `select coalesce(sum(rows_updated), 0)::int accepted from completion_calls where app = $1`, [a.id]);
    expect(accepted).toBe(0);
    expect(a.lines(/reporting results failed/)).toEqual([]);
    const [after] = await query(SNAPSHOT);
    expect(after).toEqual(before);

    const states = await query<{ remaining_tasks: number; status: string }>(
      `select remaining_tasks, status from pgflow.step_states`);
    for (const s of states) expect(s).toEqual({ remaining_tasks: 0, status: 'completed' });
    const outputs = await query<{ n: number; output: unknown; remaining_steps: number }>(
      `select (input->>'n')::int n, output, remaining_steps from pgflow.runs`);
    for (const r of outputs) expect(r).toEqual({ n: r.n, output: { after: staleValue(r.n) + 1 }, remaining_steps: 0 });
    console.log(`[stale] ${runs.length} results returned by a frozen worker after reclaim: ` +
      `reported in ${a.lines(/STALE-RETURN/).length} completions, ${accepted} accepted; state unchanged`);
  }, 90_000);
});
