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
  const applied = async () => (await ds.query('select name from migrations order by id')).map((r: { name: string }) => r.name);

  it('applies each in order, undoes the last one, and applies it again', async () => {
    const all = PGFLOW_MIGRATIONS.map((m) => new m().name);
    await ds.runMigrations({ transaction: 'each' });
    expect(await applied()).toEqual(all);
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[])')).toContain('t.ctid = any(array(');
    expect(await exists('pgflow.maybe_complete_run(uuid[])')).toBe(false);

    await ds.undoLastMigration({ transaction: 'each' });
    expect(await applied()).toEqual(all.slice(0, -1));
    expect(await source('pgflow.start_tasks(text[],text,int,uuid[])')).toContain('with picked as');
    expect(await source('pgflow.cascade_finished(uuid[],text[])')).not.toContain('completed');
    expect(await exists('pgflow.maybe_complete_run(uuid[])')).toBe(true);

    await ds.runMigrations({ transaction: 'each' });
    expect(await applied()).toEqual(all);
    expect(await source('pgflow.cascade_finished(uuid[],text[])')).toContain("'completed'");
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
