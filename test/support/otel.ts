import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** A metric reader the test collects from by hand. */
class TestMetricReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** A span as the tests compare it (and as the child process prints it). */
export interface SpanRecord {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  exceptions: string[];
}

/** Turns an exported span into a SpanRecord. */
export function spanRecord(s: ReadableSpan): SpanRecord {
  return {
    name: s.name, kind: s.kind, traceId: s.spanContext().traceId, spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? null, attributes: { ...s.attributes }, status: { ...s.status },
    exceptions: s.events.filter((e) => e.name === 'exception').map((e) => String(e.attributes?.['exception.message'])),
  };
}

/**
 * Registers the real OTel SDK globally for this process (jest: this test file): spans
 * to an in-memory exporter, metrics to a reader collected on demand, and the
 * AsyncLocalStorage context manager. Register before the Nest app is created.
 */
export function registerOtel(): {
  spans: () => SpanRecord[];
  reset: () => void;
  /** Every data point of metric `name`, with its attributes. */
  points: (name: string) => Promise<DataPoint<unknown>[]>;
  shutdown: () => Promise<void>;
} {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(tracerProvider);
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    spans: () => exporter.getFinishedSpans().map(spanRecord),
    reset: () => exporter.reset(),
    points: async (name) => {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
        .filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<unknown>[]);
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      trace.disable();
      metrics.disable();
      context.disable();
    },
  };
}
