import { useSqlDatabase } from '../support/sql-harness';
import {
  claim, ClaimedTask, complete, completeMany, defineFlow, expectCompleted, expireLeases, fail, getRun, makeVisible,
  startFlow, stepStatuses, tasksOf, useAsyncCommit,
} from '../support/sql-helpers';

describe('failures, retries, leases', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);

  /** Seconds between the failure and the moment the task becomes visible again. */
  async function retryDelay(runId: string, step: string): Promise<number> {
    const { rows } = await pool().query<{ delay: string }>(
      `select extract(epoch from visible_at - failed_at) as delay from pgflow.step_tasks
        where run_id = $1 and step_slug = $2 and task_index = 0`,
      [runId, step],
    );
    return Number(rows[0].delay);
  }

  async function claimOne(flow: string): Promise<ClaimedTask> {
    const tasks = await claim(pool(), flow, 1);
    expect(tasks).toHaveLength(1);
    return tasks[0];
  }

  it('retries after baseDelay * 2^(n-1) seconds, capped at one hour, then fails the run', async () => {
    await defineFlow(pool(), 'backoff', [{ slug: 'flaky' }], { maxAttempts: 5, baseDelay: 1000 });
    const run = await startFlow(pool(), 'backoff', {});
    const expected = [1000, 2000, 3600, 3600];
    for (let n = 1; n <= 4; n++) {
      const task = await claimOne('backoff');
      expect(task.attempt).toBe(n);
      expect(await fail(pool(), task, `boom ${n}`)).toBe('retrying');
      expect(await retryDelay(run.run_id, 'flaky')).toBe(expected[n - 1]);
      const [row] = await tasksOf(pool(), run.run_id, 'flaky');
      expect(row).toMatchObject({
        status: 'queued', attempts_count: n, error_message: `boom ${n}`, claimed_by: null, lease_expires_at: null,
      });
      expect(await claim(pool(), 'backoff')).toEqual([]); // not visible before the delay
      expect((await getRun(pool(), run.run_id)).status).toBe('started');
      await makeVisible(pool(), run.run_id);
    }
    const last = await claimOne('backoff');
    expect(last.attempt).toBe(5);
    expect(await fail(pool(), last, 'boom 5')).toBe('failed');
    expect(await getRun(pool(), run.run_id)).toMatchObject({
      status: 'failed', error: { stepSlug: 'flaky', taskIndex: 0, message: 'boom 5' },
    });
    expect(await tasksOf(pool(), run.run_id)).toMatchObject([{ status: 'failed', attempts_count: 5, error_message: 'boom 5' }]);
  });

  it('uses the step baseDelay over the flow one; baseDelay 0 retries at once', async () => {
    await defineFlow(pool(), 'step_delay', [
      { slug: 'three', baseDelay: 3, maxAttempts: 4 }, { slug: 'zero', baseDelay: 0, maxAttempts: 2 },
    ], { baseDelay: 1000 });
    const run = await startFlow(pool(), 'step_delay', {});
    for (const expected of [3, 6, 12]) {
      if (expected > 3) await makeVisible(pool(), run.run_id);
      const [task] = (await claim(pool(), 'step_delay', 10)).filter((t) => t.step_slug === 'three');
      expect(await fail(pool(), task, 'x')).toBe('retrying');
      expect(await retryDelay(run.run_id, 'three')).toBe(expected);
    }
    const [zero] = await tasksOf(pool(), run.run_id, 'zero');
    expect(zero.status).toBe('started');
    expect(await fail(pool(), { ...zero, attempt: 1 }, 'x')).toBe('retrying');
    expect(await retryDelay(run.run_id, 'zero')).toBe(0);
    expect((await claim(pool(), 'step_delay', 10)).map((t) => [t.step_slug, t.attempt])).toEqual([['zero', 2]]);
  });

  it('exhausted: the run fails with {stepSlug, taskIndex, message}, other work is cancelled, late results ignored', async () => {
    await defineFlow(pool(), 'exhaust', [
      { slug: 'each', map: 'run' }, { slug: 'side' }, { slug: 'after', deps: ['each', 'side'] },
    ], { maxAttempts: 1 });
    const run = await startFlow(pool(), 'exhaust', [10, 20, 30]);
    const [failing, inFlight] = await claim(pool(), 'exhaust', 2);
    expect(await fail(pool(), failing, 'kaput')).toBe('failed');

    const failed = await getRun(pool(), run.run_id);
    expect(failed).toMatchObject({
      status: 'failed', error: { stepSlug: failing.step_slug, taskIndex: failing.task_index, message: 'kaput' },
    });
    expect(failed.failed_at).toBeInstanceOf(Date);
    const tasks = await tasksOf(pool(), run.run_id);
    expect(tasks).toHaveLength(4);
    for (const t of tasks) {
      const isFailing = t.step_slug === failing.step_slug && t.task_index === failing.task_index;
      expect([t.step_slug, t.task_index, t.status]).toEqual([t.step_slug, t.task_index, isFailing ? 'failed' : 'cancelled']);
    }
    const statuses = await stepStatuses(pool(), run.run_id);
    expect(statuses[failing.step_slug]).toBe('failed');
    expect(statuses.after).toBe('cancelled');

    expect(await complete(pool(), inFlight, 'late')).toBe(false);
    expect(await fail(pool(), inFlight, 'late failure')).toBe('ignored');
    expect(await claim(pool(), 'exhaust', 10)).toEqual([]);
    expect(await getRun(pool(), run.run_id)).toMatchObject({ status: 'failed', output: null, error: failed.error });
  });

  it('non_retryable fails at once despite attempts left', async () => {
    await defineFlow(pool(), 'fatal', [{ slug: 'a', maxAttempts: 5 }]);
    const run = await startFlow(pool(), 'fatal', {});
    const task = await claimOne('fatal');
    expect(await fail(pool(), task, 'bad input', true)).toBe('failed');
    expect(await getRun(pool(), run.run_id)).toMatchObject({
      status: 'failed', error: { stepSlug: 'a', taskIndex: 0, message: 'bad input' },
    });
    expect(await tasksOf(pool(), run.run_id)).toMatchObject([{ status: 'failed', attempts_count: 1 }]);
  });

  it('ignores failures of unknown tasks or stale attempts', async () => {
    await defineFlow(pool(), 'ghost_fail', [{ slug: 'a' }]);
    const run = await startFlow(pool(), 'ghost_fail', {});
    const task = await claimOne('ghost_fail');
    expect(await fail(pool(), { ...task, attempt: 2 }, 'x')).toBe('ignored');
    expect(await fail(pool(), { ...task, task_index: 1 }, 'x')).toBe('ignored');
    expect(await fail(pool(), { ...task, run_id: '00000000-0000-4000-8000-000000000000' }, 'x')).toBe('ignored');
    expect(await tasksOf(pool(), run.run_id)).toMatchObject([{ status: 'started', attempts_count: 1 }]);
  });

  describe('leases', () => {
    it('claims take a lease of p_lease_seconds (default 30) whatever the step timeout; the timeout is returned', async () => {
      await defineFlow(pool(), 'lease', [{ slug: 'own', timeout: 600 }, { slug: 'inherit' }], { timeout: 42 });
      await startFlow(pool(), 'lease', {});
      await startFlow(pool(), 'lease', {});
      const lease = async (sql: string) => (await pool().query<{ step_slug: string; timeout_seconds: number; lease: string }>(
        `select step_slug, timeout_seconds, extract(epoch from lease_expires_at - now()) as lease from ${sql} order by step_slug`,
      )).rows.map((r) => [r.step_slug, r.timeout_seconds, Number(r.lease)]);
      expect(await lease(`pgflow.start_tasks(array['lease'], 'w', 2)`)).toEqual([['inherit', 42, 30], ['own', 600, 30]]);
      expect(await lease(`pgflow.start_tasks(array['lease'], 'w', 2, null, 3)`)).toEqual([['inherit', 42, 3], ['own', 600, 3]]);
    });

    it('an expired lease is reclaimed by the next start_tasks with attempt + 1; the stale result is ignored', async () => {
      await defineFlow(pool(), 'reclaim', [{ slug: 'a' }], { baseDelay: 0 });
      const run = await startFlow(pool(), 'reclaim', { v: 1 });
      const first = await claimOne('reclaim');
      expect(first.attempt).toBe(1);
      expect(await claim(pool(), 'reclaim')).toEqual([]); // lease still valid
      await expireLeases(pool(), run.run_id);

      const second = await claimOne('reclaim');
      expect(second).toMatchObject({ step_slug: 'a', task_index: 0, attempt: 2, input: { run: { v: 1 } } });
      expect(await tasksOf(pool(), run.run_id)).toMatchObject([{
        status: 'started', attempts_count: 2,
        error_message: 'lease expired: the worker stopped before reporting a result',
      }]);

      expect(await complete(pool(), first, 'stale')).toBe(false);
      expect(await fail(pool(), first, 'stale failure')).toBe('ignored');
      expect(await complete(pool(), second, 'fresh')).toBe(true);
      await expectCompleted(pool(), run.run_id, { a: 'fresh' });
    });

    it('a batch holding a stale and the current attempt of one task accepts only the current one', async () => {
      await defineFlow(pool(), 'reclaim_batch', [{ slug: 'a' }], { baseDelay: 0 });
      const run = await startFlow(pool(), 'reclaim_batch', {});
      const first = await claimOne('reclaim_batch');
      await expireLeases(pool(), run.run_id);
      const second = await claimOne('reclaim_batch');
      const results = await completeMany(pool(), [{ ...first, output: 'stale' }, { ...second, output: 'fresh' }]);
      expect(results.map((r) => r.accepted)).toEqual([false, true]);
      await expectCompleted(pool(), run.run_id, { a: 'fresh' });
    });

    it('an expired lease on the last attempt fails the run', async () => {
      await defineFlow(pool(), 'reclaim_last', [{ slug: 'a' }, { slug: 'b' }], { maxAttempts: 1 });
      const run = await startFlow(pool(), 'reclaim_last', {});
      const claimed = await claim(pool(), 'reclaim_last', 1);
      expect(claimed).toHaveLength(1);
      await expireLeases(pool(), run.run_id);
      expect(await claim(pool(), 'reclaim_last', 10)).toEqual([]);
      expect(await getRun(pool(), run.run_id)).toMatchObject({
        status: 'failed',
        error: {
          stepSlug: claimed[0].step_slug, taskIndex: 0,
          message: 'lease expired: the worker stopped before reporting a result',
        },
      });
      expect((await tasksOf(pool(), run.run_id)).map((t) => t.status).sort()).toEqual(['cancelled', 'failed']);
      expect(await complete(pool(), claimed[0], 'too late')).toBe(false);
    });

    it('reclaim_expired_tasks reclaims at most the limit and reports how many it reclaimed', async () => {
      await defineFlow(pool(), 'reclaim_many', [{ slug: 'each', map: 'run' }]);
      const run = await startFlow(pool(), 'reclaim_many', [1, 2, 3, 4, 5]);
      expect(await claim(pool(), 'reclaim_many', 10)).toHaveLength(5);
      await expireLeases(pool(), run.run_id);
      const reclaim = async (limit: number) =>
        (await pool().query<{ n: number }>('select pgflow.reclaim_expired_tasks($1) as n', [limit])).rows[0].n;
      expect(await reclaim(3)).toBe(3);
      expect(await reclaim(10)).toBe(2);
      expect(await reclaim(10)).toBe(0);
      expect((await tasksOf(pool(), run.run_id)).map((t) => [t.status, t.attempts_count])).toEqual(
        Array.from({ length: 5 }, () => ['queued', 1]),
      );
    });
  });

  it('release_tasks queues tasks again at once without counting the attempt', async () => {
    await defineFlow(pool(), 'release', [{ slug: 'each', map: 'run' }], { maxAttempts: 1 });
    const run = await startFlow(pool(), 'release', ['a', 'b', 'c']);
    const tasks = await claim(pool(), 'release', 10, 'stopping-worker');
    expect(tasks).toHaveLength(3);
    const [t0, t1, t2] = [...tasks].sort((x, y) => x.task_index - y.task_index);
    const ref = (t: ClaimedTask, attempt = t.attempt) =>
      ({ run_id: t.run_id, step_slug: t.step_slug, task_index: t.task_index, attempt });

    const release = async (worker: string, refs: object[]) =>
      (await pool().query<{ n: number }>('select pgflow.release_tasks($1, $2::jsonb) as n', [worker, JSON.stringify(refs)]))
        .rows[0].n;
    expect(await release('other-worker', [ref(t0)])).toBe(0); // not its claim
    expect(await release('stopping-worker', [ref(t1, 2)])).toBe(0); // wrong attempt
    expect(await release('stopping-worker', [ref(t0), ref(t1)])).toBe(2);

    const rows = await tasksOf(pool(), run.run_id);
    expect(rows.map((r) => [r.task_index, r.status, r.attempts_count, r.claimed_by, r.lease_expires_at])).toEqual([
      [0, 'queued', 0, null, null], [1, 'queued', 0, null, null], [2, 'started', 1, 'stopping-worker', t2.lease_expires_at],
    ]);
    const again = await claim(pool(), 'release', 10, 'next-worker');
    expect(again.map((t) => [t.task_index, t.attempt]).sort()).toEqual([[0, 1], [1, 1]]);
    // maxAttempts is 1: the released attempt really did not count, so a completion is accepted
    for (const t of again) expect(await complete(pool(), t, t.task_index)).toBe(true);
    expect(await complete(pool(), t2, 2)).toBe(true);
    await expectCompleted(pool(), run.run_id, { each: [0, 1, 2] });
  });
});
