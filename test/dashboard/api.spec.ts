import { PgflowClient, RunInfo } from '../../lib';
import { appSql } from '../support/nest-harness';
import { EventReader, openEvents, StreamEvent, waitForEvent } from '../support/sse';
import { call, KeyGuard, postJson, useDashboardApps } from './dashboard-harness';

async function until(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(['express', 'fastify'] as const)('dashboard API (%s)', (platform) => {
  const { start } = useDashboardApps();
  jest.setTimeout(120_000);

  it('lists runs filtered by flow and status, pages back by `before` (a time, or the last run id: a keyset), and refuses bad filters with 400', async () => {
    const d = await start({ platform, worker: false });
    const client = d.app.get(PgflowClient);
    const pings: RunInfo[] = [];
    for (let i = 0; i < 5; i++) pings.push(await client.startRun('ping', { i }));
    const shop = await client.startRun('shop', { note: 'x', items: [] });
    await client.cancelRun(pings[0].runId);

    const all = await call(d.origin, '/pgflow/api/runs');
    expect(all.status).toBe(200);
    expect((all.body as RunInfo[]).map((r) => r.runId)).toEqual([shop, ...[...pings].reverse()].map((r) => r.runId));

    const byFlow = (await call(d.origin, '/pgflow/api/runs?flow=ping')).body as RunInfo[];
    expect(byFlow.map((r) => r.flowSlug)).toEqual(['ping', 'ping', 'ping', 'ping', 'ping']);
    const cancelled = (await call(d.origin, '/pgflow/api/runs?status=cancelled')).body as RunInfo[];
    expect(cancelled.map((r) => r.runId)).toEqual([pings[0].runId]);
    const none = (await call(d.origin, '/pgflow/api/runs?flow=shop&status=cancelled')).body as RunInfo[];
    expect(none).toEqual([]);

    // paging: two at a time, each page before the last run of the previous one
    const seen: string[] = [];
    let before = '';
    for (;;) {
      const page = (await call(d.origin, `/pgflow/api/runs?flow=ping&limit=2${before ? `&before=${encodeURIComponent(before)}` : ''}`)).body as RunInfo[];
      seen.push(...page.map((r) => r.runId));
      if (page.length < 2) break;
      before = String(page[page.length - 1].createdAt);
    }
    expect(seen).toEqual([...pings].reverse().map((r) => r.runId));

    // keyset by run id: exact even when every run has the same created_at
    await appSql(d.app).query("update pgflow.runs set created_at = '2026-01-01T00:00:00.123456Z' where flow_slug = 'ping'");
    const keyset: string[] = [];
    let after = '';
    for (;;) {
      const page = (await call(d.origin, `/pgflow/api/runs?flow=ping&limit=2${after ? `&before=${after}` : ''}`)).body as RunInfo[];
      keyset.push(...page.map((r) => r.runId));
      if (page.length < 2) break;
      after = page[page.length - 1].runId;
    }
    expect(keyset).toEqual(pings.map((r) => r.runId).sort().reverse());

    for (const q of ['status=done', 'limit=0', 'limit=501', 'limit=x', 'before=yesterday']) {
      const res = await call(d.origin, `/pgflow/api/runs?${q}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'PgflowValidationError', message: expect.any(String) });
    }
  });

  it('answers a run with its tasks, flows with their steps and counts, and workers', async () => {
    const d = await start({ platform });
    const client = d.app.get(PgflowClient);
    const run = await client.startRun('ping', { hello: 'world' });
    await client.waitForRun(run.runId, { timeoutMs: 30_000 });
    const got = await call(d.origin, `/pgflow/api/runs/${run.runId}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      runId: run.runId, status: 'completed', input: { hello: 'world' }, output: { pong: { hello: 'world' } },
      steps: [{ stepSlug: 'pong', status: 'completed' }],
      tasks: [{ stepSlug: 'pong', taskIndex: 0, status: 'completed', attempt: 1, workerId: expect.any(String),
        attempts: [{ attempt: 1, error: null, workerId: expect.any(String), startedAt: expect.any(String), endedAt: expect.any(String) }] }],
      signals: [],
    });
    const flows = (await call(d.origin, '/pgflow/api/flows')).body as Array<{ flowSlug: string; steps: unknown[]; counts: object }>;
    const shop = flows.find((f) => f.flowSlug === 'shop');
    expect(shop?.steps).toEqual([
      { stepSlug: 'prepare', stepType: 'single', mapSource: null, signalName: null, dependsOn: [] },
      { stepSlug: 'charge', stepType: 'single', mapSource: null, signalName: null, dependsOn: ['prepare'] },
      { stepSlug: 'approve', stepType: 'single', mapSource: null, signalName: 'approved', dependsOn: ['charge'] },
      { stepSlug: 'pack', stepType: 'single', mapSource: null, signalName: null, dependsOn: ['approve'] },
      { stepSlug: 'ship', stepType: 'map', mapSource: 'pack', signalName: null, dependsOn: ['pack'] },
    ]);
    expect(flows.find((f) => f.flowSlug === 'ping')?.counts).toMatchObject({ completed: expect.any(Number) });
    const workers = (await call(d.origin, '/pgflow/api/workers')).body as Array<{ status: string; flows: string[] }>;
    expect(workers.some((w) => w.status === 'online' && w.flows.includes('ping'))).toBe(true);
  });

  it('answers errors as { error, message } with 400, 404 and 409; mutations take only JSON (415)', async () => {
    const d = await start({ platform, worker: false });
    const client = d.app.get(PgflowClient);
    const run = await client.startRun('shop', { note: 'x', items: [] });
    const unknown = '00000000-0000-4000-8000-000000000000';

    expect(await call(d.origin, `/pgflow/api/runs/${unknown}`)).toEqual({
      status: 404, body: { error: 'PgflowUnknownRunError', message: `unknown run ${unknown}` } });
    expect((await call(d.origin, '/pgflow/api/runs/not-a-uuid')).status).toBe(400);
    expect((await postJson(d.origin, `/pgflow/api/runs/${unknown}/cancel`)).status).toBe(404);
    const retryStarted = await postJson(d.origin, `/pgflow/api/runs/${run.runId}/retry`);
    expect(retryStarted).toEqual({ status: 409, body: { error: 'PgflowRunStateError', message: expect.any(String) } });
    const noWait = await postJson(d.origin, `/pgflow/api/runs/${run.runId}/signals`, { name: 'nobody_waits', payload: 1 });
    expect(noWait).toEqual({ status: 400, body: { error: 'PgflowValidationError', message: expect.any(String) } });
    expect((await postJson(d.origin, `/pgflow/api/runs/${run.runId}/signals`, { payload: 1 })).status).toBe(400);
    const sent = await postJson(d.origin, `/pgflow/api/runs/${run.runId}/signals`, { name: 'approved', payload: { ok: 1 }, id: 'once' });
    expect(sent).toEqual({ status: 200, body: { signalId: 'once', created: true } });
    expect((await postJson(d.origin, `/pgflow/api/runs/${run.runId}/signals`, { name: 'approved', id: 'once' })).body)
      .toEqual({ signalId: 'once', created: false });

    // a cross-site form can send only these: refused before anything is done
    for (const [type, body] of [['application/x-www-form-urlencoded', 'a=1'], ['text/plain', '{}'], ['multipart/form-data; boundary=x', '--x--']]) {
      const res = await call(d.origin, `/pgflow/api/runs/${run.runId}/cancel`, { method: 'POST', headers: { 'content-type': type }, body });
      expect(res.status).toBe(415);
    }
    expect((await call(d.origin, `/pgflow/api/runs/${run.runId}/cancel`, { method: 'POST' })).status).toBe(415);
    expect((await client.getRun(run.runId))?.status).toBe('started');

    const cancelled = await postJson(d.origin, `/pgflow/api/runs/${run.runId}/cancel`);
    expect(cancelled).toMatchObject({ status: 200, body: { runId: run.runId, status: 'cancelled' } });
    const retried = await postJson(d.origin, `/pgflow/api/runs/${run.runId}/retry`);
    expect(retried).toMatchObject({ status: 200, body: { runId: run.runId, status: 'started' } });
  });

  it('finds runs by idempotency key; bulk cancel and retry act on a filtered list, bounded, and report counts', async () => {
    const d = await start({ platform, worker: false });
    await appSql(d.app).query('delete from pgflow.runs'); // the file's earlier runs would match the filters
    const client = d.app.get(PgflowClient);
    const keyed = await client.startRun('ping', {}, { idempotencyKey: 'order-42' });
    const other = await client.startRun('shop', { note: 'x', items: [] }, { idempotencyKey: 'order-42' });
    const found = (await call(d.origin, '/pgflow/api/runs?key=order-42')).body as RunInfo[];
    expect(found.map((r) => r.runId).sort()).toEqual([keyed.runId, other.runId].sort());
    expect((await call(d.origin, '/pgflow/api/runs?key=nobody')).body).toEqual([]);

    const pings = [keyed];
    for (let i = 0; i < 4; i++) pings.push(await client.startRun('ping', { i }));
    expect((await postJson(d.origin, '/pgflow/api/bulk/cancel', { flow: 'ping', limit: 3 })).body).toEqual({ matched: 3, changed: 3 });
    expect((await postJson(d.origin, '/pgflow/api/bulk/cancel', { flow: 'ping' })).body).toEqual({ matched: 5, changed: 2 });
    expect((await client.getRun(other.runId))?.status).toBe('started');
    expect((await postJson(d.origin, '/pgflow/api/bulk/retry', { flow: 'ping', status: 'cancelled', limit: 2 })).body)
      .toEqual({ matched: 2, changed: 2 });
    const statuses = await Promise.all(pings.map(async (r) => (await client.getRun(r.runId))?.status));
    expect(statuses.filter((s) => s === 'started')).toHaveLength(2);
    expect(statuses.filter((s) => s === 'cancelled')).toHaveLength(3);
    expect((await postJson(d.origin, '/pgflow/api/bulk/retry', { limit: 1001 })).status).toBe(400);
    expect((await call(d.origin, '/pgflow/api/bulk/cancel', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })).status)
      .toBe(415);
  });

  it('readOnly answers every mutation with 403 and changes nothing', async () => {
    const d = await start({ platform, worker: false, dashboard: { readOnly: true } });
    const run = await d.app.get(PgflowClient).startRun('shop', { note: 'x', items: [] });
    for (const path of ['cancel', 'retry', 'signals'].map((v) => `runs/${run.runId}/${v}`).concat(['bulk/cancel', 'bulk/retry'])) {
      const res = await postJson(d.origin, `/pgflow/api/${path}`, { name: 'approved' });
      expect(res).toEqual({ status: 403, body: { error: 'Forbidden', message: 'the dashboard is read-only' } });
    }
    expect((await d.app.get(PgflowClient).getRun(run.runId))?.status).toBe('started');
    expect((await call(d.origin, `/pgflow/api/runs/${run.runId}`)).status).toBe(200);
  });

  it('serves many event streams from one LISTEN: every stream gets every change, each event a message of its own', async () => {
    const d = await start({ platform });
    const client = d.app.get(PgflowClient);
    const streams = await Promise.all(Array.from({ length: 5 }, () => openEvents(`${d.origin}/pgflow/api/events`)));
    try {
      // each stream has its first bytes: the server subscribed it
      await Promise.all(streams.map((s) => s.opened));
      const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => client.startRun('ping', { i })));
      const ids = runs.map((r) => r.runId).sort();
      // earlier tests' runs complete here too (this app's worker): only ours are compared
      const completedIn = (s: EventReader) => [...new Set(s.events()
        .filter((e) => e.type === 'run' && e.status === 'completed' && ids.includes(e.runId as string)).map((e) => e.runId))].sort();
      await until(() => streams.every((s) => completedIn(s).length === ids.length), 30_000, 'every stream to see 10 completions');
      for (const s of streams) expect(completedIn(s)).toEqual(ids);
      // one listening connection in the process, however many streams are open
      const listening = await appSql(d.app).query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen %'`);
      expect(listening).toEqual([{ n: 1 }]);
    } finally {
      for (const s of streams) s.close();
    }
  });

  it('?brief=1 streams each change without its RunInfo / StepInfo, beside full streams', async () => {
    const d = await start({ platform });
    const client = d.app.get(PgflowClient);
    const [full, brief] = await Promise.all([openEvents(`${d.origin}/pgflow/api/events`), openEvents(`${d.origin}/pgflow/api/events?brief=1`)]);
    try {
      await Promise.all([full.opened, brief.opened]);
      const run = await client.startRun('ping', { brief: true });
      const done = (e: StreamEvent) => e.type === 'run' && e.runId === run.runId && e.status === 'completed';
      expect(await full.next(done)).toMatchObject({ run: { runId: run.runId, output: { pong: { brief: true } } } });
      expect(await brief.next(done)).toEqual({ type: 'run', runId: run.runId, status: 'completed' });
      const steps = brief.events().filter((e) => e.type === 'step' && e.runId === run.runId);
      expect(steps.length).toBeGreaterThan(0);
      for (const e of steps) expect(Object.keys(e).sort()).toEqual(['runId', 'status', 'stepSlug', 'type']);
      expect(full.events().find((e) => e.type === 'step' && e.runId === run.runId)).toMatchObject({ step: { stepSlug: 'pong' } });
    } finally {
      full.close();
      brief.close();
    }
  });

  it('guards run on every route: pages, assets, API, mutations and the event stream', async () => {
    const d = await start({ platform, globalPrefix: 'admin', dashboard: { guards: [KeyGuard], path: '/jobs/' } });
    const client = d.app.get(PgflowClient);
    const run = await client.startRun('ping', {});
    await client.waitForRun(run.runId, { timeoutMs: 30_000 });
    const page = await call(d.origin, '/admin/jobs', { headers: { 'x-dashboard-key': 'let-me-in' } });
    expect(page.status).toBe(200);
    const asset = /assets\/[^"]+\.js/.exec(String(page.body))?.[0] as string;
    expect(String(page.body)).toContain('<meta name="pgflow-base" content="/admin/jobs">');
    const routes = ['/admin/jobs', `/admin/jobs/runs/${run.runId}`, '/admin/jobs/flows/ping', '/admin/jobs/workers',
      `/admin/jobs/${asset}`, '/admin/jobs/api/runs', `/admin/jobs/api/runs/${run.runId}`, '/admin/jobs/api/flows',
      '/admin/jobs/api/workers', '/admin/jobs/api/events'];
    for (const path of routes) {
      expect([path, (await call(d.origin, path)).status]).toEqual([path, 403]);
      if (path !== '/admin/jobs/api/events') {
        expect([path, (await call(d.origin, path, { headers: { 'x-dashboard-key': 'let-me-in' } })).status]).toEqual([path, 200]);
      }
    }
    for (const path of ['cancel', 'retry', 'signals'].map((v) => `runs/${run.runId}/${v}`).concat(['bulk/cancel', 'bulk/retry'])) {
      expect((await postJson(d.origin, `/admin/jobs/api/${path}`, { name: 'x' })).status).toBe(403);
    }
    // with the key, the stream delivers a run's changes
    let second: RunInfo | undefined;
    const event = await waitForEvent(`${d.origin}/admin/jobs/api/events`,
      (e) => e.type === 'run' && e.runId === second?.runId && e.status === 'completed',
      async () => (second = await client.startRun('ping', { again: true })), { headers: { 'x-dashboard-key': 'let-me-in' } });
    expect(event).toMatchObject({ type: 'run', status: 'completed' });
    expect((await call(d.origin, '/pgflow/api/runs')).status).toBe(404);
  });
});
