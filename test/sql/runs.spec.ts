import { Notification, PoolClient } from 'pg';
import { useSqlDatabase } from '../support/sql-harness';
import {
  claim, complete, count, defineFlow, expectPgError, getRun, RunRow, startFlow, tasksOf, useAsyncCommit,
} from '../support/sql-helpers';

describe('starting runs', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  it('claims higher priority runs first, then the longest waiting', async () => {
    await defineFlow(pool(), 'prio', [{ slug: 'a' }]);
    const low = await startFlow(pool(), 'prio', { name: 'low' }, { priority: -1 });
    const normalLate = await startFlow(pool(), 'prio', { name: 'normalLate' });
    const high = await startFlow(pool(), 'prio', { name: 'high' }, { priority: 5 });
    const normalEarly = await startFlow(pool(), 'prio', { name: 'normalEarly' });
    await pool().query(`update pgflow.step_tasks set visible_at = now() - interval '1 minute' where run_id = $1`,
      [normalEarly.run_id]);
    expect((await tasksOf(pool(), high.run_id))[0].priority).toBe(5);

    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const tasks = await claim(pool(), 'prio', 1);
      expect(tasks).toHaveLength(1);
      order.push(tasks[0].run_id);
    }
    expect(order).toEqual([high.run_id, normalEarly.run_id, normalLate.run_id, low.run_id]);
  });

  it('priority carries over to the tasks of later steps', async () => {
    await defineFlow(pool(), 'prio_chain', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }]);
    const run = await startFlow(pool(), 'prio_chain', {}, { priority: 9 });
    const [a] = await claim(pool(), 'prio_chain');
    await complete(pool(), a, 1);
    expect((await tasksOf(pool(), run.run_id, 'b'))[0].priority).toBe(9);
  });

  describe('start_at', () => {
    it('a run starting in the future stays queued and its tasks are not claimable until visible', async () => {
      await defineFlow(pool(), 'later', [{ slug: 'a' }, { slug: 'delayed', startDelay: 30 }]);
      const startAt = new Date(Date.now() + 3600_000);
      const run = await startFlow(pool(), 'later', { v: 1 }, { startAt });
      expect(run).toMatchObject({ status: 'queued', started_at: null, start_at: startAt });
      const tasks = await tasksOf(pool(), run.run_id);
      expect(tasks.map((t) => [t.step_slug, t.status, t.visible_at.getTime() - startAt.getTime()])).toEqual([
        ['a', 'queued', 0], ['delayed', 'queued', 30_000],
      ]);
      expect(await claim(pool(), 'later', 10)).toEqual([]);
      expect((await getRun(pool(), run.run_id)).status).toBe('queued');

      // time passes: start_at is reached (the delayed step still has 30 s to go)
      await pool().query(`update pgflow.runs set start_at = now() - interval '1 second' where run_id = $1`, [run.run_id]);
      await pool().query(
        `update pgflow.step_tasks set visible_at = visible_at - ($2::timestamptz - now()) - interval '1 second'
          where run_id = $1`,
        [run.run_id, startAt],
      );
      const claimed = await claim(pool(), 'later', 10);
      expect(claimed.map((t) => [t.step_slug, t.input])).toEqual([['a', { run: { v: 1 } }]]);
      const started = await getRun(pool(), run.run_id);
      expect(started.status).toBe('started');
      expect(started.started_at).toBeInstanceOf(Date);
      expect(await complete(pool(), claimed[0], 'ok')).toBe(true);
    });

    it('a start_at in the past starts the run at once', async () => {
      await defineFlow(pool(), 'past', [{ slug: 'a' }]);
      const run = await startFlow(pool(), 'past', {}, { startAt: new Date(Date.now() - 60_000) });
      expect(run.status).toBe('started');
      expect(await claim(pool(), 'past')).toHaveLength(1);
    });
  });

  describe('idempotency keys', () => {
    it('a second start with the same key returns the same run and creates nothing', async () => {
      await defineFlow(pool(), 'idem', [{ slug: 'a' }]);
      await defineFlow(pool(), 'idem_other', [{ slug: 'a' }]);
      const first = await startFlow(pool(), 'idem', { v: 1 }, { idempotencyKey: 'order-1' });
      const second = await startFlow(pool(), 'idem', { v: 2 }, { idempotencyKey: 'order-1' });
      expect(second.run_id).toBe(first.run_id);
      expect(second.input).toEqual({ v: 1 });
      expect(await count(pool(), `select 1 from pgflow.runs where flow_slug = 'idem'`)).toBe(1);
      expect(await count(pool(), `select 1 from pgflow.step_tasks where flow_slug = 'idem'`)).toBe(1);
      // keys are per flow
      const other = await startFlow(pool(), 'idem_other', { v: 3 }, { idempotencyKey: 'order-1' });
      expect(other.run_id).not.toBe(first.run_id);
    });

    it('two concurrent starts on two connections create one run', async () => {
      await defineFlow(pool(), 'idem_race', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }]);
      const a = await pool().connect();
      const b = await pool().connect();
      try {
        await a.query('begin');
        const runA = await startFlow(a, 'idem_race', { who: 'a' }, { idempotencyKey: 'k' });
        const bPid = (await b.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
        const startB = startFlow(b, 'idem_race', { who: 'b' }, { idempotencyKey: 'k' });
        await waitUntilBlocked(bPid);
        await a.query('commit');
        const runB = await startB;
        expect(runB.run_id).toBe(runA.run_id);
        expect(runB.input).toEqual({ who: 'a' });
      } finally {
        await a.query('rollback').catch(() => undefined);
        a.release();
        b.release();
      }
      expect(await count(pool(), `select 1 from pgflow.runs where flow_slug = 'idem_race'`)).toBe(1);
      expect(await count(pool(), `select 1 from pgflow.step_states where flow_slug = 'idem_race'`)).toBe(2);
      expect(await count(pool(), `select 1 from pgflow.step_tasks where flow_slug = 'idem_race'`)).toBe(1);

      // and a burst of starts over the whole pool agrees on one run as well
      const burst = await Promise.all(
        Array.from({ length: 12 }, (_, i) => startFlow(pool(), 'idem_race', { i }, { idempotencyKey: 'burst' })),
      );
      expect(new Set(burst.map((r) => r.run_id)).size).toBe(1);
      expect(await count(pool(), `select 1 from pgflow.runs where flow_slug = 'idem_race'`)).toBe(2);
    });

    async function waitUntilBlocked(pid: number): Promise<void> {
      const deadline = Date.now() + 5000;
      for (;;) {
        const { rows } = await pool().query<{ wait_event_type: string | null }>(
          'select wait_event_type from pg_stat_activity where pid = $1', [pid],
        );
        if (rows[0]?.wait_event_type === 'Lock') return;
        if (Date.now() > deadline) throw new Error('the second start never waited for the first');
        await new Promise((r) => setImmediate(r));
      }
    }
  });

  it('rejects a duplicate run_id with PGF05 and leaves the first run alone', async () => {
    await defineFlow(pool(), 'dup', [{ slug: 'a' }]);
    const runId = 'c0ffee00-0000-4000-8000-000000000001';
    const first = await startFlow(pool(), 'dup', { v: 1 }, { runId });
    expect(first.run_id).toBe(runId);
    await expectPgError(startFlow(pool(), 'dup', { v: 2 }, { runId }), 'PGF05', `run id ${runId} already exists`);
    expect(await getRun(pool(), runId)).toMatchObject({ input: { v: 1 }, status: 'started' });
    expect(await count(pool(), 'select 1 from pgflow.step_tasks where run_id = $1', [runId])).toBe(1);
  });

  describe('notifications', () => {
    let listener: PoolClient;
    const received: Notification[] = [];

    beforeAll(async () => {
      listener = await pool().connect();
      listener.on('notification', (n) => received.push(n));
      await listener.query('listen pgflow_tasks');
      await listener.query('listen pgflow_runs');
      await listener.query('listen pgflow_control');
    });
    afterAll(async () => {
      await listener.query('unlisten *');
      listener.release();
    });

    function nextNotification(channel: string, payload: string, timeoutMs = 5000): Promise<Notification> {
      return new Promise((resolve, reject) => {
        const found = () => received.findIndex((n) => n.channel === channel && n.payload === payload);
        const timer = setTimeout(() => {
          listener.removeListener('notification', check);
          reject(new Error(`no ${channel} notification "${payload}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = () => {
          const i = found();
          if (i < 0) return;
          clearTimeout(timer);
          listener.removeListener('notification', check);
          resolve(received.splice(i, 1)[0]);
        };
        listener.on('notification', check);
        check();
      });
    }

    it('NOTIFY pgflow_tasks carries the flow slug when start_flow creates claimable tasks', async () => {
      await defineFlow(pool(), 'notified', [{ slug: 'a' }]);
      const run = await startFlow(pool(), 'notified', {});
      const n = await nextNotification('pgflow_tasks', 'notified');
      expect(n.channel).toBe('pgflow_tasks');
      await nextNotification('pgflow_runs', `${run.run_id}:started`);
    });

    it('no pgflow_tasks wake-up for tasks that only become visible later', async () => {
      await defineFlow(pool(), 'quiet', [{ slug: 'a' }]);
      await defineFlow(pool(), 'marker', [{ slug: 'a' }]);
      await startFlow(pool(), 'quiet', {}, { startAt: new Date(Date.now() + 3600_000) });
      await startFlow(pool(), 'marker', {});
      // notifications arrive in commit order: once the marker's is here, quiet's would have been too
      await nextNotification('pgflow_tasks', 'marker');
      expect(received.filter((n) => n.channel === 'pgflow_tasks' && n.payload === 'quiet')).toEqual([]);
    });

    it('NOTIFY pgflow_runs reports completion as <run_id>:completed', async () => {
      await defineFlow(pool(), 'notified_done', [{ slug: 'a' }]);
      const run: RunRow = await startFlow(pool(), 'notified_done', {});
      const [task] = await claim(pool(), 'notified_done');
      await complete(pool(), task, 'x');
      await nextNotification('pgflow_runs', `${run.run_id}:completed`);
    });

    it('pgflow_control carries what workers act on (cancelled, failed, resumed), not every completion', async () => {
      await defineFlow(pool(), 'controlled', [{ slug: 'a' }]);
      const done = await startFlow(pool(), 'controlled', {});
      const [task] = await claim(pool(), 'controlled');
      await complete(pool(), task, 'x');
      await nextNotification('pgflow_runs', `${done.run_id}:completed`);

      const stopped = await startFlow(pool(), 'controlled', {});
      await pool().query('select pgflow.cancel_run($1)', [stopped.run_id]);
      await nextNotification('pgflow_control', `${stopped.run_id}:cancelled`);
      await pool().query('select 1 from pgflow.retry_run($1)', [stopped.run_id]);
      await nextNotification('pgflow_control', `${stopped.run_id}:started`);

      const failing = await startFlow(pool(), 'controlled', {});
      const claimed = await claim(pool(), 'controlled');
      expect(claimed.map((t) => t.run_id).sort()).toEqual([stopped.run_id, failing.run_id].sort());
      const g = claimed.find((t) => t.run_id === failing.run_id)!;
      await pool().query('select pgflow.fail_task($1, $2, $3, $4, $5, true)', [g.run_id, 'a', 0, g.attempt, 'boom']);
      await nextNotification('pgflow_control', `${failing.run_id}:failed`);
      // in commit order: the completion came first and would have been delivered by now
      expect(received.filter((n) => n.channel === 'pgflow_control' && n.payload?.startsWith(done.run_id))).toEqual([]);
    });

    it('no pgflow_tasks wake-up for a next step the completing worker claims in the same call; one for what it leaves', async () => {
      await defineFlow(pool(), 'handoff', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }]);
      await defineFlow(pool(), 'handoff_marker', [{ slug: 'a' }]);
      const completeAndClaim = async (flows: string[]) => {
        const run = await startFlow(pool(), 'handoff', {});
        await nextNotification('pgflow_tasks', 'handoff');
        const [a] = await claim(pool(), 'handoff');
        const { rows } = await pool().query<{ step_slug: string }>(
          'select step_slug from pgflow.complete_tasks_and_claim($1::jsonb, $2, $3, $4)',
          [JSON.stringify([{ run_id: run.run_id, step_slug: 'a', task_index: 0, attempt: a.attempt, output: 1 }]),
            flows, 'worker-1', 10]);
        return rows.map((r) => r.step_slug);
      };

      expect(await completeAndClaim(['handoff'])).toEqual(['b']);
      await startFlow(pool(), 'handoff_marker', {});
      // in commit order: once the marker's is here, one for b would have been too
      await nextNotification('pgflow_tasks', 'handoff_marker');
      expect(received.filter((n) => n.channel === 'pgflow_tasks' && n.payload === 'handoff')).toEqual([]);

      // a worker without handlers for the flow leaves b queued: the others hear of it
      expect(await completeAndClaim(['handoff_elsewhere'])).toEqual([]);
      await nextNotification('pgflow_tasks', 'handoff');
    });
  });
});
