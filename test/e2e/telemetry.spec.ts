import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { FlowBuilder, PgflowClient, PgflowWorker, Step, StepContext, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';
import { registerOtel, SpanRecord } from '../support/otel';

// registered before any app exists: pgflow's instruments are made on first use
const otel = registerOtel();
afterAll(() => otel.shutdown());

@Workflow({ slug: 'otel_ok' })
class OkFlow {
  @Step()
  first(input: { run: { n: number } }) {
    return input.run.n + 1;
  }

  @Step()
  async second(input: { first: number }) {
    // a span the handler opens is a child of the attempt's span
    return trace.getTracer('user-code').startActiveSpan('user.work', async (span) => {
      span.end();
      return input.first * 2;
    });
  }
}

@Workflow({ slug: 'otel_flaky', maxAttempts: 2, baseDelay: 0 })
class FlakyFlow {
  @Step()
  call(_input: unknown, ctx: StepContext) {
    if (ctx.attempt === 1) throw new Error('nope');
    return 'ok';
  }
}

@Workflow({ slug: 'otel_pair' })
class PairFlow {
  @Step()
  left() {
    return 'l';
  }

  @Step()
  right() {
    return 'r';
  }
}

describe('OpenTelemetry with the SDK registered', () => {
  const { createApp, query } = useNestApps();
  beforeEach(() => otel.reset());

  async function boot() {
    const app = await createApp({ providers: [OkFlow, FlakyFlow, PairFlow], worker: { autoStart: false } });
    return { app, client: app.get(PgflowClient), worker: app.get(PgflowWorker) };
  }
  const byFlow = (points: { attributes: Record<string, unknown>; value: unknown }[], flow: string) =>
    points.filter((p) => p.attributes['pgflow.flow'] === flow).map((p) => p.value);

  it('a PRODUCER span at startRun, a CONSUMER span per attempt in its trace, errors recorded', async () => {
    const { client, worker } = await boot();
    const ok = await client.startRun(OkFlow, { n: 1 });
    const flaky = await client.startRun(FlakyFlow, {});
    expect(await worker.drain()).toBe(4);

    const spans = otel.spans();
    const producer = (runId: string) => spans.find((s) => s.kind === SpanKind.PRODUCER && s.attributes['pgflow.run_id'] === runId)!;
    const consumers = (runId: string) => spans.filter((s) => s.kind === SpanKind.CONSUMER && s.attributes['pgflow.run_id'] === runId);

    const start = producer(ok.runId);
    expect(start).toMatchObject({ name: 'pgflow.start otel_ok', parentSpanId: null,
      attributes: { 'pgflow.run_id': ok.runId, 'pgflow.flow': 'otel_ok', 'messaging.system': 'pgflow' } });
    const [stored] = await query<{ traceparent: string }>('select traceparent from pgflow.runs where run_id = $1', [ok.runId]);
    expect(stored.traceparent).toBe(`00-${start.traceId}-${start.spanId}-01`);

    const steps = consumers(ok.runId);
    expect(steps.map((s) => s.name).sort()).toEqual(['pgflow.step otel_ok.first', 'pgflow.step otel_ok.second']);
    for (const s of steps) {
      expect(s).toMatchObject({ traceId: start.traceId, parentSpanId: start.spanId, status: { code: SpanStatusCode.UNSET } });
      expect(s.attributes).toEqual({ 'pgflow.run_id': ok.runId, 'pgflow.flow': 'otel_ok', 'pgflow.step': s.name.split('.').pop(),
        'pgflow.task_index': 0, 'pgflow.attempt': 1, 'messaging.system': 'pgflow' });
    }
    const second = steps.find((s) => s.name.endsWith('.second')) as SpanRecord;
    expect(spans.find((s) => s.name === 'user.work')).toMatchObject({ traceId: start.traceId, parentSpanId: second.spanId });

    const flakyStart = producer(flaky.runId);
    const attempts = consumers(flaky.runId).sort((a, b) => Number(a.attributes['pgflow.attempt']) - Number(b.attributes['pgflow.attempt']));
    expect(attempts.map((s) => [s.name, s.attributes['pgflow.attempt'], s.status.code, s.exceptions])).toEqual([
      ['pgflow.step otel_flaky.call', 1, SpanStatusCode.ERROR, ['nope']],
      ['pgflow.step otel_flaky.call', 2, SpanStatusCode.UNSET, []],
    ]);
    for (const s of attempts) expect(s).toMatchObject({ traceId: flakyStart.traceId, parentSpanId: flakyStart.spanId });
  });

  it('metrics: completed and failed attempts, their durations, the queue gauges per flow', async () => {
    const { app, client, worker } = await boot();
    const before = async (name: string, flow: string) => byFlow(await otel.points(name), flow);
    const completedBefore = (await before('pgflow.tasks.completed', 'otel_flaky'))[0] as number ?? 0;
    await client.startRun(FlakyFlow, {});
    await client.startRun(FlakyFlow, {});
    expect(await worker.drain()).toBe(4);
    expect(await before('pgflow.tasks.completed', 'otel_flaky')).toEqual([completedBefore + 2]);
    const failed = await before('pgflow.tasks.failed', 'otel_flaky');
    expect(failed[0]).toBeGreaterThanOrEqual(2);
    const [duration] = await before('pgflow.task.duration', 'otel_flaky') as { count: number; sum: number }[];
    expect(duration.count).toBe(completedBefore + 2 + (failed[0] as number));
    expect(duration.sum).toBeGreaterThanOrEqual(0);
    expect(duration.sum).toBeLessThan(60);

    // a flow without handlers here: its tasks stay claimable, what the gauges show
    const builder = app.get(FlowBuilder);
    await builder.createFlow('otel_idle');
    await builder.addStep('otel_idle', 'wait', []);
    for (let i = 0; i < 3; i++) await client.startRun('otel_idle', {});
    await new Promise((r) => setTimeout(r, 1100));
    expect(byFlow(await otel.points('pgflow.queue.ready'), 'otel_idle')).toEqual([3]);
    const [age] = byFlow(await otel.points('pgflow.queue.oldest_ready_age'), 'otel_idle') as number[];
    expect(age).toBeGreaterThanOrEqual(1);
    expect(age).toBeLessThan(60);
  });

  // the tracer, span names, flows' metric attributes and the last parent are cached per app:
  // runs of two flows, drained together, each keep their own name, attributes and parent
  it('interleaved runs of several flows: every span and count is its own flow\'s, step\'s and run\'s', async () => {
    const { client, worker } = await boot();
    const count = async (flow: string) =>
      (byFlow(await otel.points('pgflow.tasks.completed'), flow)[0] as number | undefined) ?? 0;
    const [pairBefore, okBefore] = [await count('otel_pair'), await count('otel_ok')];
    const runs: { runId: string; flow: string }[] = [];
    for (let i = 0; i < 4; i++) {
      runs.push({ ...(await client.startRun(PairFlow, {})), flow: 'otel_pair' });
      runs.push({ ...(await client.startRun(OkFlow, { n: i })), flow: 'otel_ok' });
    }
    expect(await worker.drain()).toBe(16);

    const spans = otel.spans();
    for (const { runId, flow } of runs) {
      const start = spans.find((s) => s.kind === SpanKind.PRODUCER && s.attributes['pgflow.run_id'] === runId)!;
      expect(start.name).toBe(`pgflow.start ${flow}`);
      const steps = spans.filter((s) => s.kind === SpanKind.CONSUMER && s.attributes['pgflow.run_id'] === runId);
      const names = flow === 'otel_pair' ? ['left', 'right'] : ['first', 'second'];
      expect(steps.map((s) => s.name).sort()).toEqual(names.map((n) => `pgflow.step ${flow}.${n}`));
      for (const s of steps) {
        expect(s).toMatchObject({ traceId: start.traceId, parentSpanId: start.spanId });
        expect(s.attributes).toEqual({ 'pgflow.run_id': runId, 'pgflow.flow': flow, 'pgflow.step': s.name.split('.').pop(),
          'pgflow.task_index': 0, 'pgflow.attempt': 1, 'messaging.system': 'pgflow' });
      }
    }
    expect(await count('otel_pair')).toBe(pairBefore + 8);
    expect(await count('otel_ok')).toBe(okBefore + 8);
    for (const p of await otel.points('pgflow.task.duration')) expect(Object.keys(p.attributes)).toEqual(['pgflow.flow']);
  });
});
