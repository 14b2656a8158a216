import { PgflowClient } from '../../lib';
import { Child, startChild } from '../support/child';
import { eventually, useNestApps } from '../support/nest-harness';

const WORKER = 'test/process/fixtures/subflow-worker.ts';

/**
 * Subflows across processes: a client-only process cancels a run whose grandchildren's
 * handlers run in a worker process; the cancellation reaches them (through NOTIFY) and
 * every run of the tree ends cancelled.
 */
describe('subflows across processes', () => {
  const { db, createApp, query } = useNestApps();
  let worker: Child | undefined;

  afterEach(async () => {
    worker?.kill('SIGKILL');
    await worker?.exited();
    worker = undefined;
  });

  it('cancelRun of the root in one process aborts the grandchildren\'s running handlers in another', async () => {
    worker = startChild(WORKER, { DATABASE_URL: db().url, WORKER_ID: 'sub-worker', NO_COLOR: '1' });
    await worker.waitFor(/^READY /m, 60_000);
    const client = (await createApp({ worker: { enabled: false } })).get(PgflowClient);
    const run = await client.startRun('top', {});
    await eventually(async () => (worker?.output().match(/^LEAF /gm) ?? []).length === 2, 30_000, 'both leaf handlers running');
    const [mid] = await client.listRuns({ parentRunId: run.runId });
    const leaves = await client.listRuns({ parentRunId: mid.runId });
    expect(leaves.map((l) => l.parentRunId)).toEqual([mid.runId, mid.runId]);

    await client.cancelRun(run.runId);
    await eventually(async () => (worker?.output().match(/^ABORTED /gm) ?? []).length === 2, 15_000, 'leaf handlers aborted');
    const aborted = (worker.output().match(/^ABORTED .*$/gm) ?? []).map((l) => l.split(' ').slice(1));
    expect(aborted.map(([id]) => id).sort()).toEqual(leaves.map((l) => l.runId).sort());
    expect(aborted.every(([, reason]) => reason === 'cancelled')).toBe(true);
    const statuses = await query<{ status: string; n: number }>(
      'select status, count(*)::int n from pgflow.runs group by status');
    expect(statuses).toEqual([{ status: 'cancelled', n: 4 }]);
  }, 120_000);
});
