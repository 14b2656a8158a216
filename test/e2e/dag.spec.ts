import { Injectable } from '@nestjs/common';
import { PgflowClient, Step, StepContext, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

@Injectable()
class Greeter {
  greet(name: string): string {
    return `hello ${name}`;
  }
}

@Workflow({ slug: 'diamond' })
class DiamondFlow {
  constructor(private readonly greeter: Greeter) {}

  @Step()
  fetch(input: { run: { name: string; items: number[] } }) {
    return { name: input.run.name, items: input.run.items };
  }

  @Step({ dependsOn: ['fetch'] })
  greet(input: { fetch: { name: string } }) {
    return this.greeter.greet(input.fetch.name);
  }

  @Step({ dependsOn: ['fetch'] })
  items(input: { fetch: { items: number[] } }) {
    return input.fetch.items;
  }

  @Step({ dependsOn: ['items'], map: 'items' })
  double(n: number, ctx: StepContext) {
    return { n: n * 2, index: ctx.taskIndex };
  }

  @Step({ dependsOn: ['greet', 'double'] })
  report(input: { greet: string; double: Array<{ n: number }>; run: unknown }) {
    return { greeting: input.greet, total: input.double.reduce((a, d) => a + d.n, 0), hasRun: !!input.run };
  }
}

@Workflow({ slug: 'chain' })
class ChainFlow {
  @Step()
  one(input: { run: number }) {
    return input.run + 1;
  }

  @Step()
  two(input: { one: number }) {
    return input.one * 10;
  }

  @Step()
  three(input: { two: number; one?: number }) {
    return { two: input.two, sawOne: input.one !== undefined };
  }
}

describe('DAG execution through the module', () => {
  const { createApp } = useNestApps();

  it('merges a diamond with a map step and an injected service', async () => {
    const app = await createApp({ providers: [Greeter, DiamondFlow] });
    const client = app.get(PgflowClient);
    const output = await client.execute('diamond', { name: 'ada', items: [1, 2, 3] }, { timeoutMs: 15_000 });
    expect(output).toEqual({ report: { greeting: 'hello ada', total: 12, hasRun: true } });

    const [run] = await client.listRuns({ flowSlug: 'diamond' });
    expect(run.status).toBe('completed');
    expect(run.progress).toEqual({ totalSteps: 5, completedSteps: 5, percentage: 100 });
    expect(run.steps.find((s) => s.stepSlug === 'double')).toMatchObject({
      totalTasks: 3, output: [{ n: 2, index: 0 }, { n: 4, index: 1 }, { n: 6, index: 2 }],
    });
  });

  it('chains steps in declaration order when no step names dependencies', async () => {
    const app = await createApp({ providers: [ChainFlow] });
    const client = app.get(PgflowClient);
    await expect(client.execute(ChainFlow, 4, { timeoutMs: 15_000 })).resolves.toEqual({
      three: { two: 50, sawOne: false },
    });
  });
});
