import {
  FlowBuilder, PgflowClient, PgflowDefinitionError, PgflowValidationError, PgflowWorker, Step, Workflow,
} from '../../lib';
import { CronScheduler } from '../../lib/schedulers/cron.scheduler';
import { appSql, eventually, useNestApps } from '../support/nest-harness';

@Workflow({ slug: 'fc_zero', concurrency: { limit: 0 } })
class ZeroLimitFlow {
  @Step() a() {}
}

@Workflow({ slug: 'fc_period' })
class NegativePeriodFlow {
  @Step({ rateLimit: { limit: 5, periodSeconds: -1 } }) call() {}
}

@Workflow({ slug: 'fc_key' })
class BadKeyFlow {
  @Step({ concurrency: { limit: 2, key: 42 as unknown as string } }) sync() {}
}

@Workflow({ slug: 'fc_zone', cron: '0 0 3 * * *', cronTimezone: 'Mars/Olympus_Mons' })
class BadZoneFlow {
  @Step() a() {}
}

@Workflow({ slug: 'fc_tokyo', cron: '0 0 3 * * *', cronTimezone: 'Asia/Tokyo' })
class TokyoFlow {
  @Step() a() {}
}

@Workflow({ slug: 'fc_dag' })
class DagFlow {
  @Step() root() {
    return [1, 2, 3, 4, 5];
  }
  @Step({ dependsOn: ['root'], map: 'root' }) each(n: number) {
    return n * 2;
  }
  @Step({ dependsOn: ['each'] }) agg(input: { each: number[] }) {
    return input.each.reduce((a, b) => a + b, 0);
  }
}

// two versions of one flow that differ only in their limits: an option-only change
function limitedFlow(version: 1 | 2) {
  @Workflow(version === 1
    ? { slug: 'fc_stored', concurrency: { limit: 2, key: 'tenant.id' } }
    : { slug: 'fc_stored', rateLimit: { limit: 10, periodSeconds: 60 } })
  class Limited {
    @Step(version === 1 ? { rateLimit: { limit: 3, periodSeconds: 1, key: 'api' } } : { concurrency: { limit: 7 } })
    call() {
      return 1;
    }
  }
  return Limited;
}

describe('flow control options', () => {
  const { createApp, closeApp } = useNestApps();

  async function bootError(flow: new () => unknown): Promise<Error> {
    const err = await createApp({ providers: [flow] }).then(() => undefined, (e: Error) => e);
    if (!err) throw new Error('expected the boot to fail');
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    return err;
  }

  it('fails the boot on a bad limit, naming the workflow, the step and the option', async () => {
    expect((await bootError(ZeroLimitFlow)).message)
      .toBe('workflow "fc_zero": concurrency.limit must be an integer >= 1 (got 0)');
    expect((await bootError(NegativePeriodFlow)).message)
      .toBe('workflow "fc_period" step "call": rateLimit.periodSeconds must be an integer >= 1 (got -1)');
    expect((await bootError(BadKeyFlow)).message)
      .toBe('workflow "fc_key" step "sync": concurrency.key must be a dot path string into the run input such as "tenant.id" (got 42)');
  });

  it('fails the boot on a cronTimezone that is no IANA zone, and reads cron in the given zone', async () => {
    expect((await bootError(BadZoneFlow)).message)
      .toBe('workflow "fc_zone": cronTimezone "Mars/Olympus_Mons" is not an IANA time zone name (such as "Europe/Paris")');
    const app = await createApp({ providers: [TokyoFlow] });
    const next = app.get(CronScheduler).job('fc_tokyo')?.nextDate().toJSDate();
    expect(next).toBeInstanceOf(Date);
    // 03:00 in Tokyo, whatever this process's zone (18:00 UTC)
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' }).format(next))
      .toBe('03:00');
    expect(next?.getUTCHours()).toBe(18);
  });

  it('stores limits with the definition and changes them in place on an option-only change', async () => {
    const v1 = await createApp({ providers: [limitedFlow(1)] });
    const read = (app: typeof v1) => appSql(app).query(
      `select f.opt_concurrency as fc, f.opt_concurrency_key as fck, f.opt_rate_limit as fr, f.opt_rate_period as frp,
              f.limited, s.opt_concurrency as sc, s.opt_rate_limit as sr, s.opt_rate_period as srp, s.opt_rate_key as srk
         from pgflow.flows f join pgflow.steps s using (flow_slug) where f.flow_slug = 'fc_stored'`);
    expect(await read(v1)).toEqual([{ fc: 2, fck: 'tenant.id', fr: null, frp: null, limited: true,
      sc: null, sr: 3, srp: 1, srk: 'api' }]);
    const run = await v1.get(PgflowClient).startRun('fc_stored', { tenant: { id: 7 }, api: 'k1' });
    await closeApp(v1);

    const v2 = await createApp({ providers: [limitedFlow(2)] });
    expect(await read(v2)).toEqual([{ fc: null, fck: null, fr: 10, frp: 60, limited: true,
      sc: 7, sr: null, srp: null, srk: null }]);
    // the run started under v1 finishes under v2's limits
    await expect(v2.get(PgflowClient).waitForRun(run.runId, { timeoutMs: 10_000 })).resolves.toMatchObject({ status: 'completed' });

    // dynamic flows: the same options and rules; dropping every limit clears the flag
    const builder = v2.get(FlowBuilder);
    await builder.createFlow('fc_dynamic', { concurrency: { limit: 1 } });
    await builder.addStep('fc_dynamic', 'only', [], { rateLimit: { limit: 2, periodSeconds: 5 } });
    expect(await appSql(v2).query(`select limited from pgflow.flows where flow_slug = 'fc_dynamic'`)).toEqual([{ limited: true }]);
    await builder.createFlow('fc_dynamic', {});
    await builder.addStep('fc_dynamic', 'only', [], {});
    expect(await appSql(v2).query(`select limited from pgflow.flows where flow_slug = 'fc_dynamic'`)).toEqual([{ limited: false }]);
    await expect(builder.createFlow('fc_dynamic', { rateLimit: { limit: 1, periodSeconds: 0 } }))
      .rejects.toThrow('workflow "fc_dynamic": rateLimit.periodSeconds must be an integer >= 1 (got 0)');
  });

  it('keys a run by startRun({ concurrencyKey }) and refuses an empty one', async () => {
    const app = await createApp({ providers: [limitedFlow(1)], worker: { enabled: false } });
    const client = app.get(PgflowClient);
    const run = await client.startRun('fc_stored', { tenant: { id: 7 }, api: 'k1' }, { concurrencyKey: 'acme' });
    // every keyed limit of the run takes the concurrencyKey (as a JSON string) instead of its input's value
    expect(await appSql(app).query(`select limit_key from pgflow.step_tasks where run_id = $1`, [run.runId]))
      .toEqual([{ limit_key: 'call:["\\"acme\\"", null, null, "\\"acme\\""]' }]);
    const plain = await client.startRun('fc_stored', { tenant: { id: 7 } });
    expect(await appSql(app).query(`select limit_key from pgflow.step_tasks where run_id = $1`, [plain.runId]))
      .toEqual([{ limit_key: 'call:["7", null, null, null]' }]);
    await expect(client.startRun('fc_stored', {}, { concurrencyKey: '' })).rejects.toBeInstanceOf(PgflowValidationError);
  });

  it('finishes 300 runs started in one statement in about the order they started, one worker at defaults', async () => {
    const app = await createApp({ providers: [DagFlow], worker: { autoStart: false } });
    const sql = appSql(app);
    const started = await sql.query<{ run_id: string }>(
      `select (pgflow.start_flow('fc_dag', '{}'::jsonb)).run_id from generate_series(1, 300) g`);
    const order = new Map(started.map((r, i) => [r.run_id, i]));
    await app.get(PgflowWorker).start();
    await eventually(async () => (await sql.query(
      `select 1 from pgflow.runs where flow_slug = 'fc_dag' and status <> 'completed' limit 1`)).length === 0,
    120_000, 'the 300 runs to complete');
    const done = await sql.query<{ run_id: string; completed: number; tasks_before: number }>(
      `select r.run_id, extract(epoch from r.completed_at)::float8 as completed,
              (select count(*)::int from pgflow.step_tasks t
                where t.flow_slug = 'fc_dag' and t.started_at < r.completed_at) as tasks_before
         from pgflow.runs r where r.flow_slug = 'fc_dag'`);
    // Runs completed by the time half of the 2,100 tasks had started: about half when runs
    // go oldest first; none when every run's root goes before any run's map (what tied
    // visible_at did). Counted in tasks, not time, so a loaded machine cannot skew it.
    expect(done.filter((r) => r.tasks_before <= 1050).length).toBeGreaterThanOrEqual(100);
    // a run is overtaken by few runs started after it (results stored while later roots
    // were claimed let a few through)
    const overtaken = done.map((a) => done.filter((b) => order.get(b.run_id)! > order.get(a.run_id)!
      && b.completed < a.completed).length);
    expect(Math.max(...overtaken)).toBeLessThanOrEqual(30);
  });
});
