import { Injectable, Module } from '@nestjs/common';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { TestingModule } from '@nestjs/testing';
import { IsInt, Min } from 'class-validator';
import { PgflowDefinitionError, Step, Workflow } from '../../lib';
import { CronScheduler } from '../../lib/schedulers/cron.scheduler';
import { eventually, useNestApps, appSql } from '../support/nest-harness';

@Workflow({ slug: 'ticker', cron: '* * * * * *', cronInput: { source: 'cron' } })
class TickerFlow {
  @Step()
  beat(input: { run: { source: string } }) {
    return input.run.source;
  }
}

/** The app's own @Cron job, next to pgflow's. */
@Injectable()
class OwnJob {
  ticks = 0;

  @Cron('* * * * * *', { name: 'own' })
  tick() {
    this.ticks++;
  }
}

@Module({ imports: [ScheduleModule.forRoot()] })
class WithSchedule {}

class Limits {
  @IsInt()
  @Min(1)
  limit!: number;
}

@Workflow({ slug: 'bad_cron', cron: 'every minute please' })
class BadCronFlow {
  @Step()
  a() {
    return 1;
  }
}

@Workflow({ slug: 'bad_cron_input', cron: '0 * * * *', input: Limits, cronInput: { limit: 0 } })
class BadCronInputFlow {
  @Step()
  a() {
    return 1;
  }
}

@Workflow({ slug: 'stray_cron_input', cronInput: { limit: 1 } })
class StrayCronInputFlow {
  @Step()
  a() {
    return 1;
  }
}

interface TickRun {
  idempotency_key: string;
  created_at: Date;
  status: string;
  output: unknown;
}

describe('@Workflow({ cron })', () => {
  const { createApp, closeApp } = useNestApps();

  async function runs(app: TestingModule): Promise<TickRun[]> {
    return appSql(app).query<TickRun>(
      `select idempotency_key, created_at, status, output from pgflow.runs where flow_slug = 'ticker'
        order by idempotency_key`);
  }

  it('starts exactly one run per tick with two instances on one database', async () => {
    // one instance manages its job itself, the other through the app's ScheduleModule
    const a = await createApp({ providers: [TickerFlow] });
    const b = await createApp({ providers: [TickerFlow], imports: [WithSchedule] });
    const watcher = await createApp({ worker: { enabled: false } });
    const ticked = await eventually(async () => {
      const found = await runs(watcher);
      return found.length >= 4 && found;
    }, 15_000, 'four cron ticks');

    // both instances ticked: neither one alone produced the runs
    expect(a.get(CronScheduler).job('ticker')?.lastDate()).toBeInstanceOf(Date);
    expect(b.get(CronScheduler).job('ticker')?.lastDate()).toBeInstanceOf(Date);
    const keys = new Set(ticked.map((r) => r.idempotency_key));
    const finished = await eventually(async () => {
      const mine = (await runs(watcher)).filter((r) => keys.has(r.idempotency_key));
      return mine.every((r) => r.status === 'completed') && mine;
    }, 10_000, 'the cron runs to complete');
    expect(finished.map((r) => r.output)).toEqual(ticked.map(() => ({ beat: 'cron' })));
    await closeApp(a);
    await closeApp(b);

    const times = ticked.map((r) => {
      expect(r.idempotency_key).toMatch(/^cron:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      const at = new Date(r.idempotency_key.slice('cron:'.length));
      // a run is created at or after its tick (never under a later key), and soon after it;
      // the bound allows a loaded machine (seen: 1.1 s). Which key a late tick gets is
      // test/unit/cron-tick.spec.ts's
      expect(r.created_at.getTime()).toBeGreaterThanOrEqual(at.getTime() - 5);
      expect(r.created_at.getTime()).toBeLessThan(at.getTime() + 3000);
      return at.getTime();
    });
    for (let i = 1; i < times.length; i++) {
      expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(1000);
      expect((times[i] - times[i - 1]) % 1000).toBe(0);
    }
  });

  it('does not tick in a client-only process or in a worker that does not execute the flow', async () => {
    const clientOnly = await createApp({ providers: [TickerFlow], worker: { enabled: false } });
    const otherFlows = await createApp({ providers: [TickerFlow], worker: { flows: ['something_else'] } });
    expect(clientOnly.get(CronScheduler).job('ticker')).toBeUndefined();
    expect(otherFlows.get(CronScheduler).job('ticker')).toBeUndefined();
  });

  it('registers its job once in the app\'s SchedulerRegistry beside the app\'s own @Cron, and stops it on close', async () => {
    const app = await createApp({ providers: [TickerFlow, OwnJob], imports: [WithSchedule] });
    const registry = app.get(SchedulerRegistry);
    const job = app.get(CronScheduler).job('ticker');
    expect([...registry.getCronJobs().keys()].sort()).toEqual(['own', 'pgflow:ticker']);
    expect(registry.getCronJob('pgflow:ticker')).toBe(job);
    expect(job?.isActive).toBe(true);
    // the app's own job still fires (once per tick: pgflow does not mount a second ScheduleModule)
    await eventually(async () => app.get(OwnJob).ticks >= 1, 5000, 'the app\'s own cron job');

    await closeApp(app);
    expect(job?.isActive).toBe(false);
    expect(registry.getCronJobs().size).toBe(0);
  });

  it('fails the boot on a bad cron expression, a cronInput the input DTO refuses, or cronInput without cron', async () => {
    const boot = (flow: new () => unknown) => createApp({ providers: [flow] }).then(() => undefined, (e: Error) => e);
    const bad = await boot(BadCronFlow);
    expect(bad).toBeInstanceOf(PgflowDefinitionError);
    expect(bad?.message).toMatch(/^workflow "bad_cron": invalid cron "every minute please": /);
    const badInput = await boot(BadCronInputFlow);
    expect(badInput).toBeInstanceOf(PgflowDefinitionError);
    expect(badInput?.message).toBe('workflow "bad_cron_input": cronInput is invalid: input of flow "bad_cron_input" ' +
      'is invalid: limit: limit must not be less than 1');
    const stray = await boot(StrayCronInputFlow);
    expect(stray?.message).toBe('workflow "stray_cron_input": cronInput is set but cron is not');
  });
});
