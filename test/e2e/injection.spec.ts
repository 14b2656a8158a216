import { Inject, Injectable, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { PgflowClient, Step, StepContext, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

@Injectable()
class PriceList {
  price(sku: string): number {
    return sku.length * 10;
  }
}

/** Every workflow instance Nest constructed, and the instances steps ran on. */
@Injectable()
class Instances {
  readonly constructed: object[] = [];
  readonly called: Array<{ instance: object; taskIndex: number; request?: unknown }> = [];
}

@Workflow({ slug: 'priced' })
class PricedFlow {
  constructor(private readonly prices: PriceList) {}

  @Step()
  total(input: { run: string[] }) {
    return input.run.reduce((sum, sku) => sum + this.prices.price(sku), 0);
  }
}

/** Provided by value or factory: never constructed by Nest. */
@Workflow({ slug: 'handmade' })
class HandmadeFlow {
  constructor(
    readonly label: string,
    private readonly instances: Instances,
  ) {}

  @Step()
  whoami() {
    this.instances.called.push({ instance: this, taskIndex: 0 });
    return this.label;
  }
}

@Injectable({ scope: Scope.REQUEST })
class PerTaskState {
  constructor(@Inject(REQUEST) readonly request: { pgflow?: StepContext }) {}
}

@Workflow({ slug: 'scoped' })
class ScopedFlow {
  constructor(
    private readonly state: PerTaskState,
    private readonly instances: Instances,
  ) {
    instances.constructed.push(this);
  }

  @Step({ map: 'run' })
  visit(item: string, ctx: StepContext) {
    this.instances.called.push({ instance: this, taskIndex: ctx.taskIndex, request: this.state.request.pgflow });
    return `${item}@${ctx.taskIndex}`;
  }
}

describe('dependency injection', () => {
  const { createApp } = useNestApps();

  it('runs steps on an instance with its injected services', async () => {
    const app = await createApp({ providers: [PriceList, PricedFlow] });
    await expect(app.get(PgflowClient).execute(PricedFlow, ['ab', 'cde'], { timeoutMs: 10_000 }))
      .resolves.toEqual({ total: 50 });
  });

  it('discovers a workflow provided with useValue and runs on that very instance', async () => {
    const instances = new Instances();
    const flow = new HandmadeFlow('by value', instances);
    const app = await createApp({ providers: [{ provide: 'HANDMADE', useValue: flow }] });
    await expect(app.get(PgflowClient).execute('handmade', {}, { timeoutMs: 10_000 }))
      .resolves.toEqual({ whoami: 'by value' });
    expect(instances.called.map((c) => c.instance)).toEqual([flow]);
    expect(instances.called[0].instance).toBe(flow);
  });

  it('discovers a workflow provided with useFactory and runs on the instance it built', async () => {
    const app = await createApp({
      providers: [
        Instances,
        { provide: HandmadeFlow, useFactory: (i: Instances) => new HandmadeFlow('from factory', i), inject: [Instances] },
      ],
    });
    await expect(app.get(PgflowClient).execute(HandmadeFlow, {}, { timeoutMs: 10_000 }))
      .resolves.toEqual({ whoami: 'from factory' });
    expect(app.get(Instances).called[0].instance).toBe(app.get(HandmadeFlow));
  });

  it('resolves a workflow with a request-scoped dependency afresh for every task', async () => {
    const app = await createApp({ providers: [Instances, PerTaskState, ScopedFlow] });
    const instances = app.get(Instances);
    const run = await app.get(PgflowClient).startRun(ScopedFlow, ['a', 'b', 'c']);
    await expect(app.get(PgflowClient).waitForRun(run.runId, { timeoutMs: 10_000 }))
      .resolves.toMatchObject({ output: { visit: ['a@0', 'b@1', 'c@2'] } });

    expect(instances.called).toHaveLength(3);
    const used = instances.called.map((c) => c.instance);
    expect(new Set(used).size).toBe(3);
    // each was built by Nest's constructor for that task, so none is the placeholder
    // Nest keeps for request-scoped providers (created without running the constructor)
    for (const instance of used) expect(instances.constructed).toContain(instance);
    // the per-task request object carries the task's context
    for (const c of instances.called) {
      expect(c.request).toMatchObject({ runId: run.runId, stepSlug: 'visit', taskIndex: c.taskIndex });
    }
  });
});
