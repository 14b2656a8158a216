import { FlowBuilder, PgflowClient, PgflowDefinitionError, PgflowUnknownFlowError, PgflowValidationError,
  Step, Workflow } from '../../lib';
import { useNestApps, appSql } from '../support/nest-harness';

describe('dynamic workflows', () => {
  const { createApp, closeApp } = useNestApps();

  it('defines, runs and validates flows at run time like decorated ones', async () => {
    const app = await createApp();
    const builder = app.get(FlowBuilder);
    const client = app.get(PgflowClient);
    await builder.createFlow('planner', { maxAttempts: 2, baseDelay: 0 });
    await builder.addStep('planner', 'plan', []);
    await builder.addStep('planner', 'work', ['plan'], { map: 'plan' });
    await builder.addStep('planner', 'check', ['plan'], { if: { run: { check: true } } });
    await builder.addStep('planner', 'report', ['work', 'check']);
    let failures = 0;
    builder.registerHandlers('planner', {
      plan: (input: { run: { items: string[] } }) => input.run.items,
      work: (item: string) => {
        if (item === 'b' && failures++ === 0) throw new Error('flaky');
        return item.toUpperCase();
      },
      check: () => 'checked',
      report: (input: { work: string[]; check?: string }) => ({ work: input.work.join(''), check: input.check ?? null }),
    });

    await expect(client.execute('planner', { items: ['a', 'b', 'c'], check: false }, { timeoutMs: 15_000 }))
      .resolves.toEqual({ report: { work: 'ABC', check: null } });
    await expect(client.execute('planner', { items: [], check: true }, { timeoutMs: 15_000 }))
      .resolves.toEqual({ report: { work: '', check: 'checked' } });
    expect(failures).toBe(2);
  });

  it('rejects invalid definitions with the same errors as decorators', async () => {
    const app = await createApp();
    const builder = app.get(FlowBuilder);
    await expect(builder.createFlow('bad-slug')).rejects.toThrow(PgflowDefinitionError);
    await expect(builder.createFlow('ok', { timeout: 0 })).rejects.toThrow(/timeout must be an integer >= 1/);
    await builder.createFlow('ok');
    await builder.addStep('ok', 'a');
    await expect(builder.addStep('ok', 'b', ['missing'])).rejects.toThrow(/step "ok.b": unknown dependency "missing"/);
    await expect(builder.addStep('ok', 'c', ['c'])).rejects.toThrow(/cycle/);
    await expect(builder.addStep('ok', 'run')).rejects.toThrow(/reserved/);
    await expect(builder.addStep('ok', 'm', ['a'], { map: 'zzz' })).rejects.toThrow(/maps over "zzz" but does not depend on it/);
    await expect(builder.addStep('nope', 'a')).rejects.toThrow(PgflowUnknownFlowError);
    await expect(app.get(PgflowClient).startRun('nope', {})).rejects.toThrow(PgflowUnknownFlowError);
  });

  it('starts runs from plain SQL and from a trigger, picked up at once through NOTIFY', async () => {
    const app = await createApp({ worker: { pollIntervalMs: 60_000 } });
    const builder = app.get(FlowBuilder);
    const db = appSql(app);
    await builder.createFlow('on_order');
    await builder.addStep('on_order', 'ship', []);
    builder.registerHandlers('on_order', { ship: (input: { run: { id: number } }) => `shipped ${input.run.id}` });
    await db.query('create table orders (id int primary key, item text)');
    await db.query(`create function orders_start_flow() returns trigger language plpgsql as $$
      begin perform pgflow.start_flow('on_order', to_jsonb(new)); return new; end $$`);
    await db.query('create trigger orders_flow after insert on orders for each row execute function orders_start_flow()');

    // the poll interval is a minute: only NOTIFY can make these finish in time
    const [{ run_id: sqlRun }] = await db.query<{ run_id: string }>(
      `select run_id from pgflow.start_flow('on_order', '{"id": 0}'::jsonb)`);
    await db.query(`insert into orders values (7, 'book')`);
    const client = app.get(PgflowClient);
    await expect(client.waitForRun(sqlRun, { timeoutMs: 5000 })).resolves.toMatchObject({ output: { ship: 'shipped 0' } });
    const [triggered] = (await client.listRuns({ flowSlug: 'on_order' })).filter((r) => r.runId !== sqlRun);
    await expect(client.waitForRun(triggered.runId, { timeoutMs: 5000 }))
      .resolves.toMatchObject({ input: { id: 7, item: 'book' }, output: { ship: 'shipped 7' } });
  });

  it('refuses shape changes, applies option changes in place, and retires versions with deprecate', async () => {
    const app = await createApp();
    const builder = app.get(FlowBuilder);
    const db = appSql(app);
    const client = app.get(PgflowClient);
    await builder.createFlow('orders');
    await builder.addStep('orders', 'a');
    await builder.addStep('orders', 'b', ['a']);
    await expect(builder.addStep('orders', 'b', [])).rejects.toThrow(/step "orders.b": dependencies changed from \[a\] to \[\].*orders_v2/);
    await builder.addStep('orders', 'b', ['a'], { maxAttempts: 7 });
    const [{ opt_max_attempts }] = await db.query<{ opt_max_attempts: number }>(
      `select opt_max_attempts from pgflow.steps where flow_slug = 'orders' and step_slug = 'b'`);
    expect(opt_max_attempts).toBe(7);

    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    builder.registerHandlers('orders', { a: () => gate.then(() => 1), b: (i: { a: number }) => i.a + 1 });
    const running = await client.startRun('orders', {});
    await expect(builder.addStep('orders', 'c', ['b'])).rejects.toThrow(/already has runs.*orders_v2/);

    await builder.deprecateFlow('orders');
    await expect(client.startRun('orders', {})).rejects.toThrow(PgflowValidationError);
    await expect(client.startRun('orders', {})).rejects.toThrow(/deprecated/);
    release();
    await expect(client.waitForRun(running.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({ output: { b: 2 } });
  });

  it('fails the boot when a decorated workflow changes the shape of a stored flow', async () => {
    @Workflow({ slug: 'versioned' })
    class V1 {
      @Step() a() { return 1; }
      @Step() b() { return 2; }
    }
    @Workflow({ slug: 'versioned' })
    class V2 {
      @Step() a() { return 1; }
      @Step({ dependsOn: [] }) b() { return 2; }
    }
    const first = await createApp({ providers: [V1] });
    await closeApp(first);
    await expect(createApp({ providers: [V2] })).rejects.toThrow(/step "versioned.b": dependencies changed.*versioned_v2/);
  });
});
