import { randomBytes } from 'crypto';
import { DataSource } from 'typeorm';
import { PGFLOW_MIGRATIONS } from '../../migrations';
import { adminQuery, testServer, withDatabase } from '../support/database';

/**
 * A database migrated by an earlier release moves forward with the later migrations
 * and back again: a migration that replaces functions restores the versions it replaced.
 */
describe('pgflow migrations, one at a time', () => {
  const { adminUrl } = testServer();
  const name = `pgflow_mig_${randomBytes(6).toString('hex')}`;
  let ds: DataSource;

  beforeAll(async () => {
    await adminQuery(adminUrl, `create database ${name}`);
    ds = new DataSource({ type: 'postgres', url: withDatabase(adminUrl, name), migrations: PGFLOW_MIGRATIONS, logging: false });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
  });

  const source = async (fn: string) =>
    (await ds.query(`select prosrc from pg_proc where oid = $1::regprocedure`, [fn]))[0].prosrc as string;
  const exists = async (fn: string) =>
    (await ds.query(`select to_regprocedure($1) is not null as e`, [fn]))[0].e as boolean;
  const index = async (name: string) =>
    (await ds.query(`select to_regclass('pgflow.' || $1) is not null as e`, [name]))[0].e as boolean;
  const applied = async () => (await ds.query('select name from migrations order by id')).map((r: { name: string }) => r.name);

  it('applies each in order, undoes the last one, and applies it again', async () => {
    const all = PGFLOW_MIGRATIONS.map((m) => new m().name);
    await ds.runMigrations({ transaction: 'each' });
    expect(await applied()).toEqual(all);
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[],int)')).toContain('p_lease_seconds');
    expect(await exists('pgflow.maybe_complete_run(uuid[])')).toBe(false);
    expect(await exists('pgflow.set_flow_control(text,text,int,text,int,int,text)')).toBe(true);
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[],int)')).toContain('q.run_seq');

    // 0010 (set-based prune) undone: prune_runs deletes the runs alone again, children by cascade
    expect(await source('pgflow.prune_runs(timestamptz,int)')).toContain('delete from pgflow.step_tasks');
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await source('pgflow.prune_runs(timestamptz,int)')).not.toContain('delete from pgflow.step_tasks');
    expect(await source('pgflow.prune_runs(timestamptz,int)')).toContain('order by r.created_at');
    all.pop();

    // 0009 (claim order) undone: no run sequence, claims order by visible_at alone
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[],int)')).not.toContain('run_seq');
    expect(await source('pgflow.start_ready_steps(uuid[])')).not.toContain('run_seq');
    expect(await ds.query(`select to_regclass('pgflow.run_seq') as s`)).toEqual([{ s: null }]);
    expect(await ds.query(`select count(*)::int as n from information_schema.columns
      where table_schema = 'pgflow' and column_name in ('seq', 'run_seq')`)).toEqual([{ n: 0 }]);
    all.pop();

    // 0008 (complete path) undone: cascade_finished returns nothing and takes no flows again
    expect(await exists('pgflow.cascade_finished(uuid[],text[],text[])')).toBe(true);
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await exists('pgflow.cascade_finished(uuid[],text[],text[])')).toBe(false);
    expect(await exists('pgflow.cascade_finished(uuid[],text[])')).toBe(true);
    expect(await source('pgflow.complete_tasks(jsonb)')).toContain('from res, pgflow.runs r');
    all.pop();

    // 0007 (flow control) undone: no limits, limit keys or bookkeeping; the earlier claim is back
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await exists('pgflow.set_flow_control(text,text,int,text,int,int,text)')).toBe(false);
    expect(await exists('pgflow.start_flow(text,jsonb,uuid,text,int,timestamptz,text,uuid,text,int,text)')).toBe(false);
    expect(await exists('pgflow.start_flow(text,jsonb,uuid,text,int,timestamptz,text,uuid,text,int)')).toBe(true);
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[],int)')).toContain('t.ctid = any(array(');
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[],int)')).toContain('t.compensation');
    expect(await ds.query(`select to_regclass('pgflow.limit_starts') as t`)).toEqual([{ t: null }]);
    expect(await ds.query(`select count(*)::int as n from information_schema.columns
      where table_schema = 'pgflow' and column_name in ('limit_key', 'concurrency_key', 'opt_concurrency', 'limited')`))
      .toEqual([{ n: 0 }]);
    all.pop();

    expect(await index('runs_finished_idx')).toBe(false);
    expect(await index('step_tasks_worker_idx')).toBe(false);

    expect(await exists('pgflow.start_child_runs(jsonb)')).toBe(true);

    // 0006 (subflows) undone: child runs, compensation and their columns are gone, 0005's texts are back
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await exists('pgflow.start_child_runs(jsonb)')).toBe(false);
    expect(await exists('pgflow.cancel_run(uuid)')).toBe(true);
    expect(await exists('pgflow.start_flow(text,jsonb,uuid,text,int,timestamptz,text)')).toBe(true);
    expect(await source('pgflow.fail_run(uuid,text,int,text)')).not.toContain('begin_compensation');
    expect(await ds.query(`select count(*)::int as n from information_schema.columns
      where table_schema = 'pgflow' and column_name in ('parent_run_id', 'subflow_slug', 'compensation')`)).toEqual([{ n: 0 }]);
    all.pop();

    // 0005 (write path) undone: the indexes a run's completion and a claim used to write are back
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await index('runs_finished_idx')).toBe(true);
    expect(await index('step_tasks_worker_idx')).toBe(true);
    expect(await source('pgflow.prune_runs(timestamptz,int)')).not.toContain('order by r.created_at');
    all.pop();

    // 0004 (observability) undone: leases from the step timeout again, no traceparent, progress or history
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await exists('pgflow.start_tasks(text[],text,int,uuid[],int)')).toBe(false);
    expect(await exists('pgflow.append_attempt(jsonb,jsonb)')).toBe(false);
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[])')).toContain('t.ctid = any(array(');
    expect(await exists('pgflow.start_flow(text,jsonb,uuid,text,int,timestamptz)')).toBe(true);
    expect(await ds.query(`select count(*)::int as n from information_schema.columns
      where table_schema = 'pgflow' and column_name in ('traceparent', 'progress', 'attempt_history')`)).toEqual([{ n: 0 }]);
    all.pop();

    expect(await exists('pgflow.send_signal(uuid,text,jsonb,text)')).toBe(true);

    // 0003 (signals) undone: its functions, columns and table are gone, 0002's texts are back
    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await exists('pgflow.send_signal(uuid,text,jsonb,text)')).toBe(false);
    expect(await exists('pgflow.add_step(text,text,text[],text,int,int,int,int,int,jsonb,jsonb,text,text)')).toBe(true);
    expect(await exists('pgflow.create_flow(text,int,int,int)')).toBe(true);
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[])')).not.toContain('expire_waits');
    expect(await ds.query(`select to_regclass('pgflow.signals') as t`)).toEqual([{ t: null }]);

    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -2));
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[])')).toContain('with picked as');
    expect(await source('pgflow.cascade_finished(uuid[],text[])')).not.toContain('completed');
    expect(await exists('pgflow.maybe_complete_run(uuid[])')).toBe(true);

    await ds.runMigrations({ transaction: 'each' });
    const every = PGFLOW_MIGRATIONS.map((m) => new m().name);
    expect(await applied()).toEqual(every);
    expect(await source('pgflow.cascade_finished(uuid[],text[],text[])')).toContain("'completed'");
    expect(await exists('pgflow.start_tasks(text[],text,int,uuid[],int)')).toBe(true);
    expect(await index('runs_finished_idx')).toBe(false);
  });

  it('leaves a working state machine after the round trip', async () => {
    await ds.query(`select pgflow.create_flow('mig_flow')`);
    await ds.query(`select pgflow.add_step('mig_flow', 'only')`);
    const [{ run_id: runId }] = await ds.query(`select run_id from pgflow.start_flow('mig_flow', '{}'::jsonb)`);
    const [task] = await ds.query(`select * from pgflow.start_tasks(array['mig_flow'], 'w', 1)`);
    await ds.query(`select pgflow.complete_tasks($1::jsonb)`, [JSON.stringify([
      { run_id: runId, step_slug: 'only', task_index: 0, attempt: task.attempt, output: 42 },
    ])]);
    expect(await ds.query('select status, output from pgflow.runs where run_id = $1', [runId]))
      .toEqual([{ status: 'completed', output: { only: 42 } }]);
  });
});

/**
 * 0001's first release had no attempts_base column, no pgflow.claimed_task type and no
 * complete_tasks_and_claim, its start_tasks returned a table of its own, and
 * reclaim_expired_tasks waited on locked runs; they were added to 0001 later. A
 * database migrated by that release must still move forward.
 */
describe('pgflow migrations on a database from 0001\'s first release', () => {
  const { adminUrl } = testServer();
  const name = `pgflow_old_${randomBytes(6).toString('hex')}`;
  const url = withDatabase(adminUrl, name);
  let ds: DataSource | undefined;

  beforeAll(async () => adminQuery(adminUrl, `create database ${name}`));
  afterAll(async () => {
    await ds?.destroy();
    await adminQuery(adminUrl, `drop database if exists ${name} with (force)`);
  });

  it('applies 0002 and runs, retries and reclaims tasks afterwards', async () => {
    const first = new DataSource({ type: 'postgres', url, migrations: PGFLOW_MIGRATIONS.slice(0, 1), logging: false });
    await first.initialize();
    await first.runMigrations({ transaction: 'each' });
    // back to that release's shape where it differed
    await first.query('drop type pgflow.claimed_task cascade'); // with the functions returning it
    await first.query('alter table pgflow.step_tasks drop column attempts_base');
    await first.query(`
      create function pgflow.start_tasks(p_flow_slugs text[], p_worker_id text, p_batch_size int,
                                         p_known_runs uuid[] default null)
      returns table (run_id uuid, flow_slug text, step_slug text, task_index int, attempt int,
                     input jsonb, run_input jsonb, timeout_seconds int, lease_expires_at timestamptz)
      language sql as $$ select null::uuid, null, null, null::int, null::int, null::jsonb, null::jsonb,
                                null::int, null::timestamptz where false $$`);
    await first.query(`create or replace function pgflow.reclaim_expired_tasks(p_limit int default 100)
      returns int language sql as $$ select 0 $$`);
    await first.destroy();

    ds = new DataSource({ type: 'postgres', url, migrations: PGFLOW_MIGRATIONS, logging: false });
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    expect((await ds.query('select name from migrations order by id')).map((r: { name: string }) => r.name))
      .toEqual(PGFLOW_MIGRATIONS.map((m) => new m().name));
    expect((await ds.query(`select prosrc from pg_proc where oid = 'pgflow.reclaim_expired_tasks(int)'::regprocedure`))[0]
      .prosrc).toContain('skip locked');

    await ds.query(`select pgflow.create_flow('old_flow', p_max_attempts => 1)`);
    await ds.query(`select pgflow.add_step('old_flow', 'only')`);
    const [{ run_id: runId }] = await ds.query(`select run_id from pgflow.start_flow('old_flow', '{}'::jsonb)`);
    const claim = async () => (await ds!.query(
      `select * from pgflow.complete_tasks_and_claim('[]'::jsonb, array['old_flow'], 'w', 1)`))[0];
    const a = await claim();
    expect(a).toMatchObject({ run_id: runId, attempt: 1, attempt_number: 1 });
    await ds.query(`select pgflow.fail_task($1, 'only', 0, 1, 'boom')`, [runId]);
    await ds.query(`select pgflow.retry_run($1)`, [runId]);
    // the resumed task gets a fresh budget: attempt 2 is its first since the resume
    const b = await claim();
    expect(b).toMatchObject({ run_id: runId, attempt: 2, attempt_number: 1 });
    await ds.query(`update pgflow.step_tasks set lease_expires_at = now() - interval '1 s' where run_id = $1`, [runId]);
    expect((await ds.query('select pgflow.reclaim_expired_tasks(10) as n'))[0].n).toBe(1);
    expect((await ds.query('select status from pgflow.runs where run_id = $1', [runId]))[0].status).toBe('failed');
  });
});
