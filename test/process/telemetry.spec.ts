import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { PgflowClient, PgflowModule } from '../../lib';
import { Child, startChild } from '../support/child';
import { registerOtel, SpanRecord } from '../support/otel';
import { useWorkerProcesses } from './process-harness';

const otel = registerOtel();

// A run started in this process (a client-only app) whose steps run in a child
// process: the child's spans carry this process's trace id, through the traceparent
// stored on the run, with no propagator configured anywhere.
describe('a trace across processes', () => {
  const { db, until } = useWorkerProcesses();
  let app: INestApplicationContext | undefined;
  let child: Child | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await child?.exited();
    await app?.close();
    await otel.shutdown();
  });

  it('the child\'s CONSUMER spans are children of this process\'s PRODUCER span', async () => {
    child = startChild('test/process/fixtures/otel-worker.ts', { DATABASE_URL: db().url, WORKER_ID: 'otel-child' });
    await child.waitFor(/^READY /m, 60_000); // it has stored the flow's definition too

    @Module({ imports: [PgflowModule.forRoot({ dataSource: { type: 'postgres', url: db().url }, worker: { enabled: false } })] })
    class ClientModule {}
    app = await NestFactory.createApplicationContext(ClientModule, { logger: false });
    const client = app.get(PgflowClient);
    const run = await client.startRun('otel_remote', {});
    await expect(client.waitForRun(run.runId, { timeoutMs: 30_000 })).resolves.toMatchObject({ status: 'completed' });

    const [producer] = otel.spans().filter((s) => s.kind === SpanKind.PRODUCER);
    expect(producer).toMatchObject({ name: 'pgflow.start otel_remote', attributes: { 'pgflow.run_id': run.runId } });
    const remote = (): SpanRecord[] => child!.output().split('\n').filter((l) => l.startsWith('SPAN '))
      .map((l) => JSON.parse(l.slice(5)) as SpanRecord).filter((s) => s.attributes['pgflow.run_id'] === run.runId);
    await until(async () => remote().length === 3, 10_000, 'the child printing its three spans');
    const spans = remote().sort((a, b) => a.name.localeCompare(b.name) || Number(a.attributes['pgflow.attempt']) - Number(b.attributes['pgflow.attempt']));
    expect(spans.map((s) => [s.name, s.kind, s.attributes['pgflow.attempt'], s.status.code])).toEqual([
      ['pgflow.step otel_remote.done', SpanKind.CONSUMER, 1, SpanStatusCode.UNSET],
      ['pgflow.step otel_remote.flaky', SpanKind.CONSUMER, 1, SpanStatusCode.ERROR],
      ['pgflow.step otel_remote.flaky', SpanKind.CONSUMER, 2, SpanStatusCode.UNSET],
    ]);
    for (const s of spans) expect(s).toMatchObject({ traceId: producer.traceId, parentSpanId: producer.spanId });
    expect(spans[1].exceptions).toEqual(['first attempt fails']);
  }, 120_000);
});
