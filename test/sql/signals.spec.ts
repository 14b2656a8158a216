import { useSqlDatabase, withClient } from '../support/sql-harness';
import {
  claim, completeMany, count, defineFlow, Db, expectCompleted, expectPgError, getRun, Json, startFlow,
  stepStates, stepStatuses, tasksOf, useAsyncCommit,
} from '../support/sql-helpers';

/**
 * Signal steps in SQL: pgflow.send_signal, the 'waiting' status, buffered signals,
 * consumption once per wait, deadlines (signalTimeout, runTimeout) expired by the claim
 * path, cancel and retry of waiting steps, and refusals that write nothing.
 */
describe('signal steps (SQL)', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  interface Sent { signal_id: string; created: boolean }
  const send = async (c: Db, runId: string, name: string, payload: Json = null, id: string | null = null): Promise<Sent> =>
    (await c.query<Sent>('select * from pgflow.send_signal($1, $2, $3::jsonb, $4)',
      [runId, name, JSON.stringify(payload), id])).rows[0];
  const signals = async (runId: string) => (await pool().query<{ name: string; signal_id: string; payload: Json;
    consumed_by: string | null }>(
    'select name, signal_id, payload, consumed_by from pgflow.signals where run_id = $1 order by created_at, signal_id',
    [runId])).rows;
  /** Lets a waiting step's signalTimeout run out (instead of waiting it out). */
  const expireWait = (runId: string, step: string) => pool().query(
    `update pgflow.step_states set wait_expires_at = now() - interval '1 second'
      where run_id = $1 and step_slug = $2 and status = 'waiting'`, [runId, step]);
  /** Completes every claimable task of the flow with out(task). */
  async function drainFlow(flow: string, out: (t: { step_slug: string; input: Json }) => Json): Promise<void> {
    for (;;) {
      const tasks = await claim(pool(), flow, 50);
      if (!tasks.length) return;
      await completeMany(pool(), tasks.map((t) => ({ ...t, output: out(t) })));
    }
  }

  beforeAll(async () => {
    await defineFlow(pool(), 'approve', [
      { slug: 'draft' },
      { slug: 'approval', deps: ['draft'], signal: 'approved', signalTimeout: 3600 },
      { slug: 'publish', deps: ['approval'] },
    ]);
  });

  it('a late signal releases the waiting step, whose handler gets the payload as input.signal', async () => {
    const run = await startFlow(pool(), 'approve', { doc: 1 });
    await drainFlow('approve', () => 'v1');
    expect(await stepStatuses(pool(), run.run_id)).toEqual({ draft: 'completed', approval: 'waiting', publish: 'created' });
    // waiting holds no task and nothing is claimable
    expect(await tasksOf(pool(), run.run_id, 'approval')).toEqual([]);
    expect(await claim(pool(), 'approve')).toEqual([]);
    const deadline = (await pool().query('select wait_expires_at - now() > interval \'59 minutes\' as ok from pgflow.step_states where run_id = $1 and step_slug = $2', [run.run_id, 'approval'])).rows[0];
    expect(deadline.ok).toBe(true);

    const sent = await send(pool(), run.run_id, 'approved', { by: 'ann' });
    expect(sent.created).toBe(true);
    expect(sent.signal_id).toMatch(/^[0-9a-f-]{36}$/);
    const [task] = await claim(pool(), 'approve');
    expect(task).toMatchObject({ step_slug: 'approval', input: { run: { doc: 1 }, draft: 'v1', signal: { by: 'ann' } } });
    await completeMany(pool(), [{ ...task, output: 'ok' }]);
    await drainFlow('approve', () => 'done');
    await expectCompleted(pool(), run.run_id, { publish: 'done' });
    expect(await signals(run.run_id)).toEqual([{ name: 'approved', signal_id: sent.signal_id, payload: { by: 'ann' }, consumed_by: 'approval' }]);
  });

  it('a signal sent before the step is ready is buffered and taken when it gets there', async () => {
    const run = await startFlow(pool(), 'approve', {});
    await send(pool(), run.run_id, 'approved', 'early');
    expect(await stepStatuses(pool(), run.run_id)).toMatchObject({ draft: 'started', approval: 'created' });
    await drainFlow('approve', (t) => (t.step_slug === 'approval' ? t.input : 'x'));
    const states = await stepStates(pool(), run.run_id);
    expect(states.approval).toMatchObject({ status: 'completed', output: { run: {}, draft: 'x', signal: 'early' } });
    expect((await getRun(pool(), run.run_id)).status).toBe('completed');
  });

  it('the same id is stored once and returns the stored signal with created = false', async () => {
    const run = await startFlow(pool(), 'approve', {});
    const a = await send(pool(), run.run_id, 'approved', 1, 'hook-42');
    const b = await send(pool(), run.run_id, 'approved', 2, 'hook-42');
    expect(a).toEqual({ signal_id: 'hook-42', created: true });
    expect(b).toEqual({ signal_id: 'hook-42', created: false });
    expect(await signals(run.run_id)).toEqual([{ name: 'approved', signal_id: 'hook-42', payload: 1, consumed_by: null }]);
    await pool().query('select pgflow.cancel_run($1)', [run.run_id]);
    // a repeat after the run finished still answers with the stored signal
    expect(await send(pool(), run.run_id, 'approved', 3, 'hook-42')).toEqual({ signal_id: 'hook-42', created: false });
  });

  it('a wait consumes one signal; a second one stays buffered, unconsumed', async () => {
    const run = await startFlow(pool(), 'approve', {});
    await drainFlow('approve', () => null);
    await send(pool(), run.run_id, 'approved', 'first');
    await send(pool(), run.run_id, 'approved', 'second');
    expect((await signals(run.run_id)).map((s) => [s.payload, s.consumed_by])).toEqual([['first', 'approval'], ['second', null]]);
    expect(await tasksOf(pool(), run.run_id, 'approval')).toHaveLength(1);
  });

  it('two signals racing for one wait: exactly one is consumed, one task is created', async () => {
    for (let round = 0; round < 5; round++) {
      const run = await startFlow(pool(), 'approve', {});
      await drainFlow('approve', () => null);
      const results = await Promise.all([0, 1, 2, 3].map((i) => withClient(pool(), async (c) => {
        await c.query('begin');
        const r = await send(c, run.run_id, 'approved', i);
        await c.query('commit');
        return r;
      })));
      expect(results.every((r) => r.created)).toBe(true);
      const all = await signals(run.run_id);
      expect(all).toHaveLength(4);
      expect(all.filter((s) => s.consumed_by === 'approval')).toHaveLength(1);
      expect(await tasksOf(pool(), run.run_id, 'approval')).toHaveLength(1);
    }
  });

  it('every task of a map or initialTasks step gets the payload of the one consumed signal', async () => {
    await defineFlow(pool(), 'fanout_sig', [
      { slug: 'each', map: 'run', signal: 'go' },
      { slug: 'copies', initialTasks: 3, signal: 'copy' },
    ]);
    const run = await startFlow(pool(), 'fanout_sig', [1, 2]);
    expect(await stepStatuses(pool(), run.run_id)).toEqual({ each: 'waiting', copies: 'waiting' });
    await send(pool(), run.run_id, 'go', { k: 'g' });
    await send(pool(), run.run_id, 'copy', 'c');
    const tasks = await claim(pool(), 'fanout_sig', 10);
    const inputs = tasks.map((t) => [t.step_slug, t.task_index, t.input]).sort();
    expect(inputs).toEqual([
      ['copies', 0, { run: [1, 2], signal: 'c' }], ['copies', 1, { run: [1, 2], signal: 'c' }],
      ['copies', 2, { run: [1, 2], signal: 'c' }],
      ['each', 0, { item: 1, signal: { k: 'g' } }], ['each', 1, { item: 2, signal: { k: 'g' } }],
    ]);
  });

  describe('signalTimeout: exhausted, then whenExhausted', () => {
    beforeAll(async () => {
      for (const whenExhausted of ['fail', 'skip', 'skip-cascade']) {
        await defineFlow(pool(), `to_${whenExhausted.replace('-', '_')}`, [
          { slug: 'wait_it', signal: 'hook', signalTimeout: 60, whenExhausted },
          { slug: 'after', deps: ['wait_it'] },
        ]);
      }
    });
    const message = "signal 'hook' not received within 60 s";

    it('fail: the step fails and the run fails with the message', async () => {
      const run = await startFlow(pool(), 'to_fail', {});
      await expireWait(run.run_id, 'wait_it');
      expect(await claim(pool(), 'to_fail')).toEqual([]);
      const after = await getRun(pool(), run.run_id);
      expect({ status: after.status, error: after.error })
        .toEqual({ status: 'failed', error: { stepSlug: 'wait_it', taskIndex: 0, message } });
      expect(await stepStates(pool(), run.run_id)).toMatchObject({
        wait_it: { status: 'failed', error_message: message }, after: { status: 'cancelled' },
      });
    });

    it('skip: the step is skipped and its dependent runs without its key', async () => {
      const run = await startFlow(pool(), 'to_skip', {});
      await expireWait(run.run_id, 'wait_it');
      const [task] = await claim(pool(), 'to_skip');
      expect(task).toMatchObject({ step_slug: 'after', input: { run: {} } });
      expect((await stepStates(pool(), run.run_id)).wait_it).toMatchObject({ status: 'skipped', error_message: message });
      await completeMany(pool(), [{ ...task, output: 'fine' }]);
      await expectCompleted(pool(), run.run_id, { after: 'fine' });
    });

    it('skip-cascade: the step and its dependents are skipped, the run completes', async () => {
      const run = await startFlow(pool(), 'to_skip_cascade', {});
      await expireWait(run.run_id, 'wait_it');
      expect(await claim(pool(), 'to_skip_cascade')).toEqual([]);
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ wait_it: 'skipped', after: 'skipped' });
      await expectCompleted(pool(), run.run_id, {});
    });

    it('retry_run after a timed-out wait waits again with a fresh timeout, and a signal then finishes it', async () => {
      const run = await startFlow(pool(), 'to_fail', {});
      await expireWait(run.run_id, 'wait_it');
      await claim(pool(), 'to_fail');
      expect((await getRun(pool(), run.run_id)).status).toBe('failed');
      await pool().query('select pgflow.retry_run($1)', [run.run_id]);
      const { rows: [s] } = await pool().query(
        `select status, wait_expires_at > now() + interval '50 seconds' as fresh from pgflow.step_states
          where run_id = $1 and step_slug = 'wait_it'`, [run.run_id]);
      expect(s).toEqual({ status: 'waiting', fresh: true });
      await send(pool(), run.run_id, 'hook', 'late but welcome');
      await drainFlow('to_fail', (t) => t.input);
      await expectCompleted(pool(), run.run_id, { after: { run: {}, wait_it: { run: {}, signal: 'late but welcome' } } });
    });

    it('a deadline left on a step that no longer waits is cleared, not expired again by every claim', async () => {
      const run = await startFlow(pool(), 'to_fail', {});
      await pool().query('select pgflow.cancel_run($1)', [run.run_id]);
      await pool().query(`update pgflow.step_states set wait_expires_at = now() - interval '1 s' where run_id = $1`, [run.run_id]);
      await claim(pool(), 'to_fail');
      expect(await count(pool(), 'select 1 from pgflow.step_states where run_id = $1 and wait_expires_at is not null',
        [run.run_id])).toBe(0);
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ wait_it: 'cancelled', after: 'cancelled' });
    });

    it('a wait whose deadline lies ahead is left alone by claims', async () => {
      const run = await startFlow(pool(), 'to_fail', {});
      expect(await claim(pool(), 'to_fail')).toEqual([]);
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ wait_it: 'waiting', after: 'created' });
    });
  });

  it('cancel_run cancels a waiting step; a signal afterwards is refused', async () => {
    const run = await startFlow(pool(), 'approve', {});
    await drainFlow('approve', () => null);
    await pool().query('select pgflow.cancel_run($1)', [run.run_id]);
    expect(await stepStatuses(pool(), run.run_id)).toEqual({ draft: 'completed', approval: 'cancelled', publish: 'cancelled' });
    const { rows: [w] } = await pool().query('select wait_expires_at from pgflow.step_states where run_id = $1 and step_slug = $2',
      [run.run_id, 'approval']);
    expect(w.wait_expires_at).toBeNull();
    const err = await expectPgError(send(pool(), run.run_id, 'approved'), 'PGF07', 'is cancelled');
    expect(err.detail).toBe('cancelled');
    // resumed, it waits again and a signal finishes it
    await pool().query('select pgflow.retry_run($1)', [run.run_id]);
    expect((await stepStates(pool(), run.run_id)).approval.status).toBe('waiting');
    await send(pool(), run.run_id, 'approved');
    await drainFlow('approve', () => 1);
    expect((await getRun(pool(), run.run_id)).status).toBe('completed');
  });

  it('refusals write nothing: unknown run, unknown name, finished run, oversize payload, bad id', async () => {
    const before = async () => ({
      signals: await count(pool(), 'select 1 from pgflow.signals'),
      states: (await pool().query('select count(*) filter (where status = \'waiting\') as w from pgflow.step_states')).rows[0].w,
    });
    const run = await startFlow(pool(), 'approve', {});
    await drainFlow('approve', () => null);
    const done = await startFlow(pool(), 'approve', {});
    await pool().query('select pgflow.cancel_run($1)', [done.run_id]);
    const snapshot = await before();
    await expectPgError(send(pool(), '00000000-0000-4000-8000-000000000000', 'approved'), 'PGF03', 'unknown run');
    await expectPgError(send(pool(), run.run_id, 'nobody_waits'), 'PGF05', 'no step of flow "approve" waits on signal "nobody_waits"');
    await expectPgError(send(pool(), done.run_id, 'approved'), 'PGF07', 'takes no more signals');
    await expectPgError(send(pool(), run.run_id, 'approved', 'x'.repeat(16 * 1024 * 1024 + 1)), 'PGF05', 'larger than 16 MiB');
    await expectPgError(send(pool(), run.run_id, 'approved', null, ''), 'PGF05', 'signal id must be 1 to 255');
    expect(await before()).toEqual(snapshot);
    expect((await stepStates(pool(), run.run_id)).approval.status).toBe('waiting');
  });

  it('from a trigger: an insert into an application table releases the wait in its transaction', async () => {
    await pool().query(`create table deliveries (run_id uuid primary key, carrier text not null)`);
    await pool().query(`create function deliveries_signal() returns trigger language plpgsql as $$
      begin
        perform pgflow.send_signal(new.run_id, 'approved', jsonb_build_object('carrier', new.carrier), 'delivery:' || new.run_id);
        return new;
      end $$`);
    await pool().query(`create trigger deliveries_signal after insert on deliveries
      for each row execute function deliveries_signal()`);
    const run = await startFlow(pool(), 'approve', {});
    await drainFlow('approve', () => null);
    await pool().query(`insert into deliveries values ($1, 'dhl')`, [run.run_id]);
    const [task] = await claim(pool(), 'approve');
    expect(task).toMatchObject({ step_slug: 'approval', input: { signal: { carrier: 'dhl' } } });
    // a refused signal rolls the insert back with it
    await expectPgError(pool().query(`insert into deliveries values ('00000000-0000-4000-8000-000000000001', 'ups')`),
      'PGF03', 'unknown run');
    expect(await count(pool(), 'select 1 from deliveries')).toBe(1);
  });

  it('takes the documented parameter names (run_id, name, payload, signal_id) and defaults', async () => {
    const run = await startFlow(pool(), 'approve', {});
    await drainFlow('approve', () => null);
    const { rows: [named] } = await pool().query(
      `select * from pgflow.send_signal(run_id => $1::uuid, name => 'approved', signal_id => 'named-1')`, [run.run_id]);
    expect(named).toEqual({ signal_id: 'named-1', created: true });
    expect(await signals(run.run_id)).toEqual([{ name: 'approved', signal_id: 'named-1', payload: null, consumed_by: 'approval' }]);
    const [task] = await claim(pool(), 'approve');
    expect(task.input).toMatchObject({ signal: null });
  });

  it('a rolled-back signal leaves the step waiting; a committed one NOTIFYs pgflow_tasks', async () => {
    const run = await startFlow(pool(), 'approve', {});
    await drainFlow('approve', () => null);
    await withClient(pool(), async (c) => {
      await c.query('begin');
      await send(c, run.run_id, 'approved', 'no');
      await c.query('rollback');
    });
    expect((await stepStates(pool(), run.run_id)).approval.status).toBe('waiting');
    expect(await signals(run.run_id)).toEqual([]);
    await withClient(pool(), async (listener) => {
      const heard: string[] = [];
      listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`));
      await listener.query('listen pgflow_tasks');
      await send(pool(), run.run_id, 'approved', 'yes');
      const deadline = Date.now() + 10_000;
      while (!heard.includes('pgflow_tasks:approve') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await listener.query('unlisten pgflow_tasks');
      expect(heard).toContain('pgflow_tasks:approve');
    });
  });

  describe('runTimeout', () => {
    beforeAll(async () => {
      await defineFlow(pool(), 'deadline', [
        { slug: 'first' }, { slug: 'gate', deps: ['first'], signal: 'open' }, { slug: 'last', deps: ['gate'] },
      ], { runTimeout: 30 });
    });

    it('a run past its deadline fails with "run timed out after <n> s", unfinished steps and tasks cancelled', async () => {
      const run = await startFlow(pool(), 'deadline', {});
      expect(run.status).toBe('started');
      const { rows: [t] } = await pool().query(
        `select timeout_at - started_at as d from pgflow.runs where run_id = $1`, [run.run_id]);
      expect(t.d).toEqual({ seconds: 30 });
      const [task] = await claim(pool(), 'deadline');
      await pool().query(`update pgflow.runs set timeout_at = now() - interval '1 s' where run_id = $1`, [run.run_id]);
      expect(await claim(pool(), 'deadline')).toEqual([]);
      const after = await getRun(pool(), run.run_id);
      expect({ status: after.status, error: after.error }).toEqual({
        status: 'failed', error: { stepSlug: 'first', taskIndex: 0, message: 'run timed out after 30 s' },
      });
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ first: 'cancelled', gate: 'cancelled', last: 'cancelled' });
      expect((await tasksOf(pool(), run.run_id)).map((x) => x.status)).toEqual(['cancelled']);
      // the late result of the running task is ignored
      expect((await completeMany(pool(), [{ ...task, output: 1 }]))[0].accepted).toBe(false);
    });

    it('names the waiting step when that is what is unfinished; retry_run gives a fresh deadline', async () => {
      const run = await startFlow(pool(), 'deadline', {});
      await drainFlow('deadline', () => null);
      await pool().query(`update pgflow.runs set timeout_at = now() - interval '1 s' where run_id = $1`, [run.run_id]);
      await claim(pool(), 'deadline');
      expect((await getRun(pool(), run.run_id)).error).toMatchObject({ stepSlug: 'gate' });
      await pool().query('select pgflow.retry_run($1)', [run.run_id]);
      const { rows: [r] } = await pool().query(
        `select status, timeout_at > now() + interval '25 s' as fresh from pgflow.runs where run_id = $1`, [run.run_id]);
      expect(r).toEqual({ status: 'started', fresh: true });
      expect((await stepStates(pool(), run.run_id)).gate.status).toBe('waiting');
    });

    it('a queued run gets its deadline when it starts', async () => {
      const run = await startFlow(pool(), 'deadline', {}, { startAt: new Date(Date.now() + 1000) });
      expect(run.status).toBe('queued');
      expect((await pool().query('select timeout_at from pgflow.runs where run_id = $1', [run.run_id])).rows[0].timeout_at).toBeNull();
      await pool().query(`update pgflow.runs set start_at = now() - interval '1 s' where run_id = $1`, [run.run_id]);
      await pool().query(`update pgflow.step_tasks set visible_at = now() where run_id = $1`, [run.run_id]);
      await claim(pool(), 'deadline');
      const { rows: [r] } = await pool().query(
        `select status, timeout_at - started_at as d from pgflow.runs where run_id = $1`, [run.run_id]);
      expect(r).toEqual({ status: 'started', d: { seconds: 30 } });
    });
  });

  it('waiting steps hold no task and the deadline probe of the claim path goes by its partial index', async () => {
    await defineFlow(pool(), 'many_waits', [{ slug: 'hold', signal: 'never', signalTimeout: 86_400 }]);
    await pool().query(`select pgflow.start_flow('many_waits', '{}'::jsonb) from generate_series(1, 2000)`);
    expect(await count(pool(), `select 1 from pgflow.step_states where status = 'waiting' and flow_slug = 'many_waits'`)).toBe(2000);
    expect(await count(pool(), `select 1 from pgflow.step_tasks where flow_slug = 'many_waits'`)).toBe(0);
    await pool().query('analyze pgflow.step_states');
    const { rows } = await pool().query<{ 'QUERY PLAN': string }>(
      `explain (analyze, buffers) select exists (select 1 from pgflow.step_states w where w.wait_expires_at <= now())`);
    const text = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toContain('step_states_wait_idx');
    expect(text).not.toMatch(/Seq Scan/);
  });
});
