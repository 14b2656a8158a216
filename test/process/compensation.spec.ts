import { Child, startChild } from '../support/child';
import { eventually, useNestApps } from '../support/nest-harness';

const WORKER = 'test/process/fixtures/saga-worker.ts';

/**
 * Compensations are durable tasks: a worker SIGKILLed while running them loses
 * nothing. Once its leases (3 s) expire another worker runs them, and each task's
 * compensation is stored as done exactly once.
 */
describe('compensation across a worker crash', () => {
  const { db, query } = useNestApps();
  const children = new Set<Child>();
  const spawn = (env: Record<string, string>) => {
    const child = startChild(WORKER, { DATABASE_URL: db().url, NO_COLOR: '1', ...env });
    children.add(child);
    return child;
  };

  afterEach(async () => {
    for (const child of children) {
      child.kill('SIGKILL');
      await child.exited();
    }
    children.clear();
  });

  it('finishes the compensations of a killed worker after lease expiry, each stored once', async () => {
    await query(`create table unbooked (run_id uuid, idx int, seat int, worker text, phase text, reason text,
                                        at timestamptz default clock_timestamp())`);
    const a = spawn({ WORKER_ID: 'saga-a', HANG: '1' });
    await a.waitFor(/^READY /m, 60_000);
    const [{ run_id: runId }] = await query<{ run_id: string }>(
      `select run_id from pgflow.start_flow('saga', '[1, 2, 3]'::jsonb)`);

    await eventually(async () => (await query<{ n: number }>(
      `select count(*)::int n from unbooked where worker = 'saga-a' and phase = 'started'`))[0].n === 3,
    30_000, 'A running all three compensations');
    expect((await query<{ status: string }>('select status from pgflow.runs where run_id = $1', [runId]))[0].status)
      .toBe('compensating');
    a.kill('SIGKILL');
    await a.exited();
    const held = await query<{ lease_expires_at: Date }>(
      `select lease_expires_at from pgflow.step_tasks where run_id = $1 and compensation = 'running' and status = 'started'`,
      [runId]);
    expect(held).toHaveLength(3);
    const leaseEnd = Math.max(...held.map((t) => t.lease_expires_at.getTime()));

    const b = spawn({ WORKER_ID: 'saga-b' });
    await b.waitFor(/^READY /m, 60_000);
    await eventually(async () => (await query<{ status: string }>(
      'select status from pgflow.runs where run_id = $1', [runId]))[0].status === 'failed', 40_000, 'run failed after compensating');

    const done = await query<{ idx: number; seat: number; worker: string; reason: string; at: Date }>(
      `select idx, seat, worker, reason, at from unbooked where phase = 'done' order by idx`);
    expect(done.map((d) => [d.idx, d.seat, d.worker, d.reason])).toEqual([
      [0, 1, 'saga-b', 'failed'], [1, 2, 'saga-b', 'failed'], [2, 3, 'saga-b', 'failed'],
    ]);
    for (const d of done) expect(d.at.getTime()).toBeGreaterThanOrEqual(leaseEnd - 50);
    const tasks = await query<{ compensation: string; status: string; attempts: number; error_message: string }>(
      `select compensation, status, attempts_count - attempts_base as attempts, error_message
         from pgflow.step_tasks where run_id = $1 and step_slug = 'book' order by task_index`, [runId]);
    for (const t of tasks) {
      expect(t).toMatchObject({ compensation: 'done', status: 'completed', attempts: 2 });
      expect(t.error_message).toMatch(/lease expired/);
    }
    const [run] = await query<{ error: unknown }>('select error from pgflow.runs where run_id = $1', [runId]);
    expect(run.error).toEqual({ stepSlug: 'pay', taskIndex: 0, message: 'card declined' });
  }, 120_000);
});
