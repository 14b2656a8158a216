import { Test, TestingModule } from '@nestjs/testing';
import { PgflowClient, PgflowModule, PgflowWorker, Step, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

// The README's "Testing your workflows" example, as written there (imports aside; the
// database URL is this file's test database).
@Workflow({ slug: 'invoice', maxAttempts: 3, baseDelay: 30 })
class InvoiceWorkflow {
  private calls = 0;

  @Step()
  charge(input: { run: { amount: number } }) {
    if (++this.calls === 1) throw new Error('card network down'); // retried 30 s later
    return { charged: input.run.amount };
  }

  @Step({ startDelay: 3600 }) // an hour after the charge
  remind(input: { charge: { charged: number } }) {
    return `reminded about ${input.charge.charged}`;
  }
}

describe('invoice workflow', () => {
  const { db } = useNestApps();
  let app: TestingModule;

  beforeAll(async () => {
    app = await Test.createTestingModule({
      imports: [PgflowModule.forRoot({
        dataSource: { type: 'postgres', url: db().url },
        migrationsRun: true,
        worker: { autoStart: false }, // drain() runs the tasks, no poller
      })],
      providers: [InvoiceWorkflow],
    }).compile();
    await app.init();
  });
  afterAll(() => app.close());

  it('charges, retries once, then reminds', async () => {
    const client = app.get(PgflowClient);
    const run = await client.startRun(InvoiceWorkflow, { amount: 42 });

    const attempts = await app.get(PgflowWorker).drain({ skipDelays: true });

    expect(attempts).toBe(3); // charge twice, remind once; no 30 s backoff, no hour of startDelay
    expect(await client.getRun(run.runId)).toMatchObject({
      status: 'completed', output: { remind: 'reminded about 42' },
    });
    const [charge] = await client.getTasks(run.runId, 'charge');
    expect(charge.attempts.map((a) => a.error)).toEqual(['card network down', null]);
  });
});
