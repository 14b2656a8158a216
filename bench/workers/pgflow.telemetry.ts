import Module from 'module';
import { join } from 'path';
import { workerSettings } from '../engines/engine';
import type { PgflowSettings, PgflowTelemetry } from '../engines/pgflow.engine';

// Imported first by pgflow.worker.ts, before the library: the telemetry variants of issue
// 18's overhead rows set the process up as a user's app would be.
//
//   'sdk'     the OTel SDK registered as in production (AsyncLocalStorage context, a batch
//             span processor, a periodic metric reader), exporting nowhere: what is
//             measured is the library's instrumentation, not an exporter's network I/O.
//   'no-api'  @opentelemetry/api cannot be resolved, as in an app that never installed
//             it: the library's telemetry is skipped entirely.
//   absent    the API installed but no SDK registered (every span a no-op): the defaults row.

const telemetry = workerSettings<PgflowSettings & { telemetry?: PgflowTelemetry }>().telemetry;

type Resolve = (request: string, ...rest: unknown[]) => string;
const loader = Module as unknown as { _resolveFilename: Resolve };

if (telemetry === 'no-api') {
  const resolve = loader._resolveFilename;
  loader._resolveFilename = function (request: string, ...rest: unknown[]): string {
    if (request === '@opentelemetry/api' || request.startsWith('@opentelemetry/api/')) {
      throw Object.assign(new Error(`Cannot find module '${request}' (hidden by the bench)`), { code: 'MODULE_NOT_FOUND' });
    }
    return resolve.call(this, request, ...rest);
  };
}

if (telemetry === 'sdk') {
  // resolved where the library resolves it: bench/node_modules holds a peer's own, newer copy
  type Api = typeof import('../../node_modules/@opentelemetry/api');
  const fromLibrary = <T>(id: string): T =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only in this variant
    require(require.resolve(id, { paths: [join(__dirname, '..', '..', 'lib')] })) as T;
  const { context, metrics, trace } = fromLibrary<Api>('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } =
    fromLibrary<typeof import('@opentelemetry/context-async-hooks')>('@opentelemetry/context-async-hooks');
  const { AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } =
    fromLibrary<typeof import('@opentelemetry/sdk-metrics')>('@opentelemetry/sdk-metrics');
  const { BasicTracerProvider, BatchSpanProcessor } =
    fromLibrary<typeof import('@opentelemetry/sdk-trace-base')>('@opentelemetry/sdk-trace-base');
  const done = (_items: unknown, callback: (result: { code: number }) => void) => callback({ code: 0 });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor({ export: done, shutdown: async () => undefined })],
  }));
  metrics.setGlobalMeterProvider(new MeterProvider({
    readers: [new PeriodicExportingMetricReader({
      exportIntervalMillis: 1000,
      exporter: {
        export: done,
        forceFlush: async () => undefined,
        shutdown: async () => undefined,
        selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
      },
    })],
  }));
}
