import { PgflowClient } from '../../lib';
import { Child, startChild } from '../support/child';
import { useNestApps, appSql } from '../support/nest-harness';

describe('cancelRun seen by a handler in another process', () => {
  const { db, createApp } = useNestApps();
  let child: Child | undefined;

  afterEach(async () => {
    child?.kill();
    await child?.exited();
    child = undefined;
  });

  it('aborts the running handler there within moments, leaves its other runs alone and ignores the late result',
    async () => {
      child = startChild('test/process/fixtures/cancel-worker.ts', { DATABASE_URL: db().url });
      const [, childWorker] = await child.waitFor(/READY (\S+)/, 60_000);
      // this process only starts, cancels and watches: it has no handler for remote_wait
      const app = await createApp({ worker: { enabled: false } });
      const client = app.get(PgflowClient);

      const doomed = await client.startRun('remote_wait', { ms: 60_000 });
      const spared = await client.startRun('remote_wait', { ms: 1500 });
      await child.waitFor(new RegExp(`ENTERED ${doomed.runId}`));
      await child.waitFor(new RegExp(`ENTERED ${spared.runId}`));

      const cancelledAt = Date.now();
      await client.cancelRun(doomed.runId);
      const [, elapsed, reason] = await child.waitFor(new RegExp(`ABORTED ${doomed.runId} (\\d+) (.*)`), 10_000);
      const seenAfterMs = Date.now() - cancelledAt;
      expect(reason).toBe(`run ${doomed.runId} was cancelled`);
      // far from the 60 s the handler would otherwise take, and from the 60 s step timeout
      expect(seenAfterMs).toBeLessThan(2000);
      expect(Number(elapsed)).toBeLessThan(30_000);

      await expect(client.waitForRun(spared.runId, { timeoutMs: 15_000 })).resolves.toMatchObject({
        status: 'completed', output: { hold: 'held 1500 ms' },
      });
      expect(child.output()).not.toContain(`ABORTED ${spared.runId}`);

      const tasks = await appSql(app).query<{ run_id: string; status: string; output: unknown;
        claimed_by: string }>('select run_id, status, output, claimed_by from pgflow.step_tasks order by queued_at');
      expect(tasks).toEqual([
        { run_id: doomed.runId, status: 'cancelled', output: null, claimed_by: childWorker },
        { run_id: spared.runId, status: 'completed', output: 'held 1500 ms', claimed_by: childWorker },
      ]);
      expect(await client.getRun(doomed.runId)).toMatchObject({ status: 'cancelled', output: null });
    });
});
