import { Injectable } from '@nestjs/common';
import { tryOptionalPeer } from './optional-peer';

// The few parts of @opentelemetry/api used here, typed structurally: the package is an
// optional peer, so neither the emitted JavaScript nor the .d.ts files may name it.
type Attributes = Record<string, string | number | boolean>;
interface OtelContext {
  readonly __otelContext?: never;
}
interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}
interface OtelSpan {
  spanContext(): OtelSpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: string): void;
  recordException(exception: Error | string): void;
  setStatus(status: { code: number; message?: string }): void;
  end(): void;
}
interface OtelTracer {
  startSpan(name: string, options: { kind: number; attributes: Attributes }, context?: OtelContext): OtelSpan;
}
interface OtelObservable {
  readonly __otelObservable?: never;
}
interface OtelMeter {
  createCounter(name: string, options: { description: string; unit?: string }): { add(n: number, a: Attributes): void };
  createHistogram(name: string, options: { description: string; unit: string }):
    { record(v: number, a: Attributes): void };
  createObservableGauge(name: string, options: { description: string; unit?: string }): OtelObservable;
  addBatchObservableCallback(callback: BatchCallback, observables: OtelObservable[]): void;
  removeBatchObservableCallback(callback: BatchCallback, observables: OtelObservable[]): void;
}
type BatchCallback = (observer: { observe(o: OtelObservable, value: number, attributes: Attributes): void }) => Promise<void>;
interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext;
  };
  context: { active(): OtelContext; with<T>(context: OtelContext, fn: () => T): T };
  metrics: { getMeter(name: string, version?: string): OtelMeter };
  ROOT_CONTEXT: OtelContext;
  SpanKind: { PRODUCER: number; CONSUMER: number };
  SpanStatusCode: { ERROR: number };
}

const NAME = 'nestjs-pgflow';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

let api: OtelApi | null | undefined;

/** The OTel API if installed, loaded on first use (so an app without it never requires it). */
function otel(): OtelApi | null {
  if (api === undefined) api = tryOptionalPeer<OtelApi>('@opentelemetry/api') ?? null;
  return api;
}

/** The span of one task attempt; `end` records the outcome. */
export interface AttemptSpan {
  /** Runs `fn` with this span active, so spans the handler opens are its children. */
  run<T>(fn: () => T): T;
  /** Ends the span; with `error`, records it and sets status ERROR. */
  end(error?: unknown): void;
}

const NO_SPAN: AttemptSpan = { run: (fn) => fn(), end: () => undefined };

/** What the worker records about one attempt. */
export interface AttemptTelemetry {
  runId: string;
  flowSlug: string;
  stepSlug: string;
  taskIndex: number;
  attempt: number;
  traceparent: string | null;
}

interface StepNames {
  readonly spanName: string;
  readonly flowSlug: string;
  readonly stepSlug: string;
}

type QueueStats = () => Promise<{ flow_slug: string; ready: number; oldest_age: number }[]>;

/**
 * pgflow's spans and metrics through the optional peer `@opentelemetry/api`. Without
 * it every method is a no-op; with it but no SDK registered, the API's own no-op
 * tracer and meter make spans and instruments cost next to nothing, and the queue
 * gauges' query never runs (no reader collects them).
 */
@Injectable()
export class PgflowTelemetry {
  // Per-attempt work kept off the hot path (measured with the SDK registered): the tracer
  // and each flow's frozen metric attributes are made once; the parent context of the last
  // traceparent seen is kept, as a run's steps often follow. Each step's span name and
  // slugs are kept too, found by flow then step (no key string built): a batch span
  // processor holds every ended span until it exports, long enough for the garbage
  // collector to move it to the old generation, and the slugs of a claimed row are fresh
  // strings each time, which the span would otherwise carry there with it.
  private tracer?: OtelTracer;
  private readonly flows = new Map<string, Readonly<Attributes>>();
  private readonly steps = new Map<string, Map<string, StepNames>>();
  private lastParent?: { traceparent: string; context: OtelContext };
  private instruments?: {
    completed: { add(n: number, a: Attributes): void };
    failed: { add(n: number, a: Attributes): void };
    duration: { record(v: number, a: Attributes): void };
  } | null;

  /**
   * Opens the PRODUCER span of a run start and returns it with its W3C traceparent
   * (undefined when OTel is absent or nothing records).
   */
  startRun(flowSlug: string): { traceparent?: string; end(runId?: string, error?: unknown): void } {
    const o = otel();
    if (!o) return { end: () => undefined };
    const span = this.getTracer(o).startSpan(`pgflow.start ${flowSlug}`, {
      kind: o.SpanKind.PRODUCER,
      attributes: { 'pgflow.flow': flowSlug, 'messaging.system': 'pgflow' },
    }, o.context.active());
    const sc = span.spanContext();
    // no SDK: the API's span has the invalid all-zero context, which is not stored
    const traceparent = /^0+$/.test(sc.traceId) ? undefined
      : `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
    return {
      traceparent,
      end: (runId, error) => {
        if (runId) span.setAttribute('pgflow.run_id', runId);
        if (error !== undefined) recordError(o, span, error);
        span.end();
      },
    };
  }

  /** Opens the CONSUMER span of one attempt, a child of the run's stored trace context. */
  attempt(a: AttemptTelemetry): AttemptSpan {
    const o = otel();
    if (!o) return NO_SPAN;
    const parent = this.parentOf(o, a.traceparent);
    const step = this.stepNames(a.flowSlug, a.stepSlug);
    const span = this.getTracer(o).startSpan(step.spanName, {
      kind: o.SpanKind.CONSUMER,
      attributes: {
        'pgflow.run_id': a.runId, 'pgflow.flow': step.flowSlug, 'pgflow.step': step.stepSlug,
        'pgflow.task_index': a.taskIndex, 'pgflow.attempt': a.attempt, 'messaging.system': 'pgflow',
      },
    }, parent);
    return new Attempt(o, span, o.trace.setSpan(parent, span));
  }

  /** Counts an attempt's outcome and its duration (`tasks.failed` counts every failed attempt). */
  recordAttempt(flowSlug: string, ok: boolean, durationMs: number): void {
    const i = this.metrics();
    if (!i) return;
    const attributes = this.flowAttributes(flowSlug);
    (ok ? i.completed : i.failed).add(1, attributes);
    i.duration.record(durationMs / 1000, attributes);
  }

  /**
   * Registers the queue gauges, read through `stats` whenever a metric reader collects
   * (never without an SDK); returns what unregisters them (the app is closing).
   */
  observeQueue(stats: QueueStats): () => void {
    const o = otel();
    if (!o) return () => undefined;
    const meter = o.metrics.getMeter(NAME);
    const ready = meter.createObservableGauge('pgflow.queue.ready',
      { description: 'Tasks claimable now, per flow' });
    const oldest = meter.createObservableGauge('pgflow.queue.oldest_ready_age',
      { description: 'Seconds the oldest claimable task has waited, per flow', unit: 's' });
    const callback: BatchCallback = async (observer) => {
      for (const row of await stats()) {
        observer.observe(ready, row.ready, { 'pgflow.flow': row.flow_slug });
        observer.observe(oldest, Math.max(0, row.oldest_age), { 'pgflow.flow': row.flow_slug });
      }
    };
    meter.addBatchObservableCallback(callback, [ready, oldest]);
    return () => meter.removeBatchObservableCallback(callback, [ready, oldest]);
  }

  /** The tracer, looked up once: before an SDK is registered the API's proxy delegates later. */
  private getTracer(o: OtelApi): OtelTracer {
    return (this.tracer ??= o.trace.getTracer(NAME));
  }

  /** A step's span name and slugs, made once. */
  private stepNames(flowSlug: string, stepSlug: string): StepNames {
    let flow = this.steps.get(flowSlug);
    if (!flow) this.steps.set(flowSlug, (flow = new Map()));
    let names = flow.get(stepSlug);
    if (!names) flow.set(stepSlug, (names = { spanName: `pgflow.step ${flowSlug}.${stepSlug}`, flowSlug, stepSlug }));
    return names;
  }

  /** One frozen attribute set per flow: an SDK may keep what it is given. */
  private flowAttributes(flowSlug: string): Readonly<Attributes> {
    let attributes = this.flows.get(flowSlug);
    if (!attributes) this.flows.set(flowSlug, (attributes = Object.freeze({ 'pgflow.flow': flowSlug })));
    return attributes;
  }

  /** The run's stored context as a remote parent (the root context when there is none). */
  private parentOf(o: OtelApi, traceparent: string | null): OtelContext {
    if (!traceparent) return o.ROOT_CONTEXT;
    if (this.lastParent?.traceparent === traceparent) return this.lastParent.context;
    const m = TRACEPARENT.exec(traceparent);
    if (!m) return o.ROOT_CONTEXT;
    const context = o.trace.setSpanContext(o.ROOT_CONTEXT,
      { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16), isRemote: true });
    this.lastParent = { traceparent, context };
    return context;
  }

  private metrics(): PgflowTelemetry['instruments'] {
    if (this.instruments !== undefined) return this.instruments;
    const o = otel();
    if (!o) return (this.instruments = null);
    // instruments are made once: the global MeterProvider must be registered before the
    // first attempt (as OTel's own setup instructions say, before the app starts)
    const meter = o.metrics.getMeter(NAME);
    this.instruments = {
      completed: meter.createCounter('pgflow.tasks.completed', { description: 'Task attempts that completed' }),
      failed: meter.createCounter('pgflow.tasks.failed', { description: 'Task attempts that failed' }),
      duration: meter.createHistogram('pgflow.task.duration', { description: 'Duration of task attempts', unit: 's' }),
    };
    return this.instruments;
  }
}

/** An attempt's span and the context it is active in (a class: one object per attempt, no closures). */
class Attempt implements AttemptSpan {
  constructor(private readonly o: OtelApi, private readonly span: OtelSpan, private readonly active: OtelContext) {}

  run<T>(fn: () => T): T {
    return this.o.context.with(this.active, fn);
  }

  end(error?: unknown): void {
    if (error !== undefined) recordError(this.o, this.span, error);
    this.span.end();
  }
}

function recordError(o: OtelApi, span: OtelSpan, error: unknown): void {
  const err = error instanceof Error ? error : new Error(typeof error === 'string' ? error : String(error));
  span.recordException(err);
  span.setStatus({ code: o.SpanStatusCode.ERROR, message: err.message });
}
