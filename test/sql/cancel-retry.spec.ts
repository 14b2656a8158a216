import { useSqlDatabase } from '../support/sql-harness';
import {
  claim, ClaimedTask, complete, completeMany, defineFlow, drain, expectCompleted, expectPgError, fail, getRun,
  RunRow, startFlow, stepStates, stepStatuses, tasksOf, useAsyncCommit,
} from '../support/sql-helpers';

describe('cancel_run and retry_run', () => {
  const { pool, db } = useSqlDatabase();
  useAsyncCommit(db);
  const UNKNOWN = '00000000-0000-4000-8000-00000000abcd';

  const cancel = async (runId: string) =>
    (await pool().query<{ status: string }>('select pgflow.cancel_run($1) as status', [runId])).rows[0].status;
  const retry = async (runId: string) =>
    (await pool().query<RunRow>('select * from pgflow.retry_run($1)', [runId])).rows[0];
  const byIndex = (tasks: ClaimedTask[]) => [...tasks].sort((x, y) => x.task_index - y.task_index);

  describe('cancel_run', () => {
    it('cancels the run, its unfinished steps and tasks; late results are ignored', async () => {
      await defineFlow(pool(), 'cancel', [
        { slug: 'done' }, { slug: 'each', map: 'run' }, { slug: 'after', deps: ['each', 'done'] },
      ]);
      const run = await startFlow(pool(), 'cancel', [1, 2, 3]);
      const done = await claim(pool(), 'cancel', 10);
      expect(done).toHaveLength(4);
      const doneTask = done.find((t) => t.step_slug === 'done');
      if (!doneTask) throw new Error('step "done" must be claimed');
      await complete(pool(), doneTask, 'kept');
      const eachTasks = byIndex(done.filter((t) => t.step_slug === 'each'));
      await complete(pool(), eachTasks[0], 'e0');
      // put one element back in the queue so that queued and started tasks are both cancelled
      await pool().query(
        `update pgflow.step_tasks set status = 'queued', claimed_by = null, lease_expires_at = null
          where run_id = $1 and step_slug = 'each' and task_index = 2`, [run.run_id],
      );

      expect(await cancel(run.run_id)).toBe('cancelled');
      const cancelled = await getRun(pool(), run.run_id);
      expect(cancelled).toMatchObject({ status: 'cancelled', output: null });
      expect(cancelled.cancelled_at).toBeInstanceOf(Date);
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ done: 'completed', each: 'cancelled', after: 'cancelled' });
      expect((await tasksOf(pool(), run.run_id)).map((t) => [t.step_slug, t.task_index, t.status, t.lease_expires_at])).toEqual([
        ['done', 0, 'completed', null], ['each', 0, 'completed', null], ['each', 1, 'cancelled', null],
        ['each', 2, 'cancelled', null],
      ]);

      expect(await complete(pool(), eachTasks[1], 'late')).toBe(false);
      expect(await fail(pool(), eachTasks[1], 'late')).toBe('ignored');
      expect(await claim(pool(), 'cancel', 10)).toEqual([]);
      expect(await getRun(pool(), run.run_id)).toMatchObject({ status: 'cancelled', output: null });
      expect(await cancel(run.run_id)).toBe('cancelled');
    });

    it('returns the final status of a run that already finished and changes nothing', async () => {
      await defineFlow(pool(), 'finished_ok', [{ slug: 'a' }]);
      await defineFlow(pool(), 'finished_bad', [{ slug: 'a' }], { maxAttempts: 1 });
      const ok = await startFlow(pool(), 'finished_ok', {});
      const bad = await startFlow(pool(), 'finished_bad', {});
      await drain(pool(), 'finished_ok', () => 'fine');
      const [badTask] = await claim(pool(), 'finished_bad');
      expect(await fail(pool(), badTask, 'no')).toBe('failed');

      for (const run of [ok, bad]) {
        const before = await getRun(pool(), run.run_id);
        expect(await cancel(run.run_id)).toBe(before.status);
        expect(await getRun(pool(), run.run_id)).toEqual(before);
      }
      expect((await getRun(pool(), ok.run_id)).status).toBe('completed');
      expect((await getRun(pool(), bad.run_id)).status).toBe('failed');
    });

    it('cancels a queued run, which then never starts', async () => {
      await defineFlow(pool(), 'cancel_queued', [{ slug: 'a' }]);
      const run = await startFlow(pool(), 'cancel_queued', {}, { startAt: new Date(Date.now() + 60_000) });
      expect(await cancel(run.run_id)).toBe('cancelled');
      await pool().query(`update pgflow.runs set start_at = now() - interval '1 second' where run_id = $1`, [run.run_id]);
      await pool().query(`update pgflow.step_tasks set visible_at = now() - interval '1 second' where run_id = $1`, [run.run_id]);
      expect(await claim(pool(), 'cancel_queued')).toEqual([]);
      expect((await getRun(pool(), run.run_id)).status).toBe('cancelled');
    });

    it('raises PGF03 for an unknown run', async () => {
      await expectPgError(cancel(UNKNOWN), 'PGF03', `unknown run ${UNKNOWN}`);
    });
  });

  describe('retry_run', () => {
    it('re-runs only the failed and cancelled map elements; completed ones keep their outputs', async () => {
      await defineFlow(pool(), 'retry_map', [
        { slug: 'each', map: 'run' }, { slug: 'sum', deps: ['each'] },
      ], { maxAttempts: 1 });
      const run = await startFlow(pool(), 'retry_map', [0, 1, 2, 3, 4]);
      const tasks = byIndex(await claim(pool(), 'retry_map', 10));
      expect(tasks).toHaveLength(5);
      await completeMany(pool(), [0, 1, 3].map((i) => ({ ...tasks[i], output: `ok${i}` })));
      expect(await fail(pool(), tasks[2], 'element 2 broke')).toBe('failed');
      expect((await tasksOf(pool(), run.run_id, 'each')).map((t) => t.status)).toEqual(
        ['completed', 'completed', 'failed', 'completed', 'cancelled'],
      );

      const retried = await retry(run.run_id);
      expect(retried).toMatchObject({ status: 'started', error: null, failed_at: null, remaining_steps: 2 });
      expect((await tasksOf(pool(), run.run_id, 'each')).map((t) => [t.status, t.attempts_count, t.output])).toEqual([
        ['completed', 1, 'ok0'], ['completed', 1, 'ok1'], ['queued', 1, null], ['completed', 1, 'ok3'], ['queued', 1, null],
      ]);
      expect(await stepStates(pool(), run.run_id)).toMatchObject({
        each: { status: 'started', remaining_tasks: 2, error_message: null },
        sum: { status: 'created', remaining_deps: 1 },
      });

      const again = byIndex(await claim(pool(), 'retry_map', 10));
      // a fresh budget (attempt_number 1), while the attempt's identity keeps counting
      expect(again.map((t) => [t.task_index, t.attempt_number, t.attempt, t.input])).toEqual([[2, 1, 2, 2], [4, 1, 2, 4]]);
      await completeMany(pool(), again.map((t) => ({ ...t, output: `again${t.task_index}` })));
      expect(await complete(pool(), tasks[4], 'stale from the first run')).toBe(false);

      const [sum] = await claim(pool(), 'retry_map');
      expect(sum.input).toEqual({ run: [0, 1, 2, 3, 4], each: ['ok0', 'ok1', 'again2', 'ok3', 'again4'] });
      await complete(pool(), sum, 'total');
      await expectCompleted(pool(), run.run_id, { sum: 'total' });
    });

    it('does not re-execute completed steps; steps that never started wait for their dependencies again', async () => {
      await defineFlow(pool(), 'retry_chain', [
        { slug: 'a' }, { slug: 'b', deps: ['a'] }, { slug: 'c', deps: ['b'] },
      ], { maxAttempts: 1 });
      const run = await startFlow(pool(), 'retry_chain', { n: 1 });
      const [a] = await claim(pool(), 'retry_chain');
      await complete(pool(), a, 'A');
      const [b] = await claim(pool(), 'retry_chain');
      await fail(pool(), b, 'b broke');
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ a: 'completed', b: 'failed', c: 'cancelled' });

      await retry(run.run_id);
      expect(await stepStates(pool(), run.run_id)).toMatchObject({
        a: { status: 'completed', output: 'A' }, b: { status: 'started' }, c: { status: 'created', remaining_deps: 1 },
      });
      const handled = await drain(pool(), 'retry_chain', (t) => `${t.step_slug.toUpperCase()}2`);
      expect(handled.map((t) => [t.step_slug, t.attempt_number, t.input])).toEqual([
        ['b', 1, { run: { n: 1 }, a: 'A' }], ['c', 1, { run: { n: 1 }, b: 'B2' }],
      ]);
      await expectCompleted(pool(), run.run_id, { c: 'C2' });
      expect((await tasksOf(pool(), run.run_id, 'a'))[0].attempts_count).toBe(1);
    });

    it('resumes a cancelled run', async () => {
      await defineFlow(pool(), 'retry_cancelled', [{ slug: 'a' }, { slug: 'b', deps: ['a'] }]);
      const run = await startFlow(pool(), 'retry_cancelled', {});
      const [a] = await claim(pool(), 'retry_cancelled');
      await complete(pool(), a, 1);
      const [b] = await claim(pool(), 'retry_cancelled');
      await cancel(run.run_id);
      expect((await retry(run.run_id)).status).toBe('started');
      expect(await complete(pool(), b, 'stale')).toBe(false);
      const [b2] = await claim(pool(), 'retry_cancelled');
      expect(b2).toMatchObject({ step_slug: 'b', attempt_number: 1, input: { run: {}, a: 1 } });
      // the attempt running when the run was cancelled reports late, after the resumed
      // attempt was claimed: it must not pass for the new one
      expect(await complete(pool(), b, 'stale')).toBe(false);
      expect(await fail(pool(), b, 'stale failure')).toBe('ignored');
      await complete(pool(), b2, 2);
      expect((await expectCompleted(pool(), run.run_id, { b: 2 })).cancelled_at).toBeNull();
    });

    it('leaves a step skipped by whenExhausted alone', async () => {
      await defineFlow(pool(), 'retry_skipped', [
        { slug: 'optional', whenExhausted: 'skip' }, { slug: 'critical' },
        { slug: 'final', deps: ['optional', 'critical'] },
      ], { maxAttempts: 1 });
      const run = await startFlow(pool(), 'retry_skipped', {});
      const tasks = await claim(pool(), 'retry_skipped', 10);
      const optional = tasks.find((t) => t.step_slug === 'optional');
      const critical = tasks.find((t) => t.step_slug === 'critical');
      if (!optional || !critical) throw new Error('both root steps must be claimed');
      expect(await fail(pool(), optional, 'optional broke')).toBe('skipped');
      expect(await fail(pool(), critical, 'critical broke')).toBe('failed');

      await retry(run.run_id);
      expect(await stepStatuses(pool(), run.run_id)).toEqual({ optional: 'skipped', critical: 'started', final: 'created' });
      const handled = await drain(pool(), 'retry_skipped', (t) => (t.step_slug === 'final' ? t.input : 'C'));
      expect(handled.map((t) => t.step_slug)).toEqual(['critical', 'final']);
      expect(await getRun(pool(), run.run_id)).toMatchObject({
        status: 'completed', remaining_steps: 0, output: { final: { run: {}, critical: 'C' } },
      });
      expect((await tasksOf(pool(), run.run_id, 'optional'))[0]).toMatchObject({ status: 'failed', attempts_count: 1 });
    });

    it('refuses runs that are not failed or cancelled (PGF05) and unknown runs (PGF03)', async () => {
      await defineFlow(pool(), 'retry_live', [{ slug: 'a' }]);
      const run = await startFlow(pool(), 'retry_live', {});
      await expectPgError(retry(run.run_id), 'PGF05', `run ${run.run_id} is started: only failed or cancelled runs can be retried`);
      await drain(pool(), 'retry_live', () => 1);
      await expectPgError(retry(run.run_id), 'PGF05', `run ${run.run_id} is completed`);
      await expectPgError(retry(UNKNOWN), 'PGF03', `unknown run ${UNKNOWN}`);
    });
  });
});
