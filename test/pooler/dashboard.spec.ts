import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AddressInfo } from 'net';
import { PgflowClient, PgflowModule, Step, Workflow } from '../../lib';
import { PgflowDashboardModule } from '../../lib/dashboard';
import { NotifyListener } from '../../lib/db/notify.listener';
import { waitForEvent } from '../support/sse';
import { usePooledDatabase } from './pooler-harness';

@Workflow({ slug: 'pooled_ping' })
class PooledPingFlow {
  @Step()
  pong(input: { run: unknown }) {
    return input.run;
  }
}

describe('the dashboard behind PgBouncer: no notification arrives, the event stream is fed by polling', () => {
  const { pooledUrl } = usePooledDatabase({ poolSize: 4 });
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("delivers a run's start and completion without LISTEN/NOTIFY", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        PgflowModule.forRoot({
          dataSource: { type: 'postgres', url: pooledUrl(), poolSize: 4 },
          worker: { pollIntervalMs: 300, heartbeatIntervalMs: 1000, shutdownTimeoutMs: 5000 },
        }),
        PgflowDashboardModule.forRoot(),
      ],
      providers: [PooledPingFlow],
    }).compile();
    app = moduleRef.createNestApplication({ logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const client = app.get(PgflowClient);
    const listener = app.get(NotifyListener);
    await listener.start();
    // what this test is about: the pooler keeps notifications from the app
    expect(listener.available).toBe(false);

    let runId: string | undefined;
    const completed = await waitForEvent(`http://127.0.0.1:${port}/pgflow/api/events`,
      (e) => e.type === 'run' && e.runId === runId && e.status === 'completed',
      async () => (runId = (await client.startRun('pooled_ping', { hello: 'pooled' })).runId), { timeoutMs: 20_000 });
    expect(completed).toMatchObject({ type: 'run', status: 'completed', run: { output: { pong: { hello: 'pooled' } } } });
  });
});
