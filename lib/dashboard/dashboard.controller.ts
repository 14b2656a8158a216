import {
  Body, CanActivate, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Req, Res,
  StreamableFile, Type, UseFilters, UseGuards,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ServerResponse } from 'http';
import { RunInfo, SignalResult, WorkerInfo } from '../interfaces/run-info.interface';
import { BulkResult, DashboardApi, DashboardFlow, DashboardRun, RunsQuery } from './dashboard.api';
import { DashboardAssets } from './dashboard.assets';
import { DASHBOARD_OPTIONS } from './dashboard.constants';
import { DashboardErrorFilter, DashboardRefusal } from './dashboard.errors';
import { DashboardEvents } from './dashboard.events';
import { ResolvedDashboardOptions } from './dashboard-options.interface';

/** SSE comment lines keep proxies from closing an idle stream. */
const KEEPALIVE_MS = 25_000;

/** What a stream may have waiting to be sent before it is closed. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

const SSE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'private, no-cache, no-store, must-revalidate, max-age=0, no-transform',
  Connection: 'keep-alive',
  // nginx and the like buffer responses unless told not to
  'X-Accel-Buffering': 'no',
};

/** The response handed to a handler: Express's (a Node response) or Fastify's reply. */
interface ResponseLike {
  raw?: ServerResponse;
  hijack?: () => void;
}

/** What a request is to the dashboard: its URL (Express's `originalUrl`, Fastify's `url`). */
interface RequestLike {
  url?: string;
  originalUrl?: string;
}

/** The page's headers: nothing but this origin's own scripts, styles and API. */
const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** The path a request was made to, without its query, and with `suffix` cut off its end. */
function basePath(req: RequestLike, suffix: string): string {
  let path = (req.originalUrl ?? req.url ?? '/').split('?')[0].replace(/\/+$/, '');
  if (suffix && path.endsWith(suffix)) path = path.slice(0, -suffix.length);
  return path;
}

/** The mount path as Nest routes it: leading slash, no trailing one. */
export function normalizePath(path: string): string {
  return `/${path.replace(/^\/+|\/+$/g, '')}`;
}

/**
 * The dashboard's controller, made per `forRoot` so that its path and guards are the
 * options' (Nest adds the app's global prefix). Pages answer the UI's index.html for
 * every deep link; `api/` is JSON; mutations are JSON POSTs only.
 */
export function createDashboardController(path: string, guards: Type<CanActivate>[]): Type<unknown> {
  @Controller(normalizePath(path))
  @UseFilters(DashboardErrorFilter)
  @UseGuards(...guards)
  class PgflowDashboardController {
    constructor(
      @Inject(DashboardApi) private readonly api: DashboardApi,
      @Inject(DashboardAssets) private readonly assets: DashboardAssets,
      @Inject(DashboardEvents) private readonly events: DashboardEvents,
      @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
      @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    ) {}

    @Get()
    runsPage(@Req() req: RequestLike, @Res({ passthrough: true }) res: unknown): StreamableFile {
      return this.page(basePath(req, ''), res);
    }

    @Get('runs/:runId')
    runPage(@Req() req: RequestLike, @Param('runId') runId: string, @Res({ passthrough: true }) res: unknown): StreamableFile {
      return this.page(basePath(req, `/runs/${encodeURIComponent(runId)}`), res);
    }

    @Get('flows')
    flowsPage(@Req() req: RequestLike, @Res({ passthrough: true }) res: unknown): StreamableFile {
      return this.page(basePath(req, '/flows'), res);
    }

    @Get('flows/:slug')
    flowPage(@Req() req: RequestLike, @Param('slug') slug: string, @Res({ passthrough: true }) res: unknown): StreamableFile {
      return this.page(basePath(req, `/flows/${encodeURIComponent(slug)}`), res);
    }

    @Get('workers')
    workersPage(@Req() req: RequestLike, @Res({ passthrough: true }) res: unknown): StreamableFile {
      return this.page(basePath(req, '/workers'), res);
    }

    @Get('assets/:file')
    asset(@Param('file') file: string, @Res({ passthrough: true }) res: unknown): StreamableFile {
      const asset = this.assets.asset(file);
      this.adapterHost.httpAdapter.setHeader(res, 'Cache-Control', 'public, max-age=31536000, immutable');
      this.adapterHost.httpAdapter.setHeader(res, 'X-Content-Type-Options', 'nosniff');
      return new StreamableFile(asset.body, { type: asset.type, length: asset.body.length });
    }

    @Get('api/runs')
    listRuns(@Query() q: RunsQuery): Promise<RunInfo[]> {
      return this.api.listRuns(q);
    }

    @Get('api/runs/:runId')
    getRun(@Param('runId') runId: string): Promise<DashboardRun> {
      return this.api.getRun(runId);
    }

    @Get('api/flows')
    listFlows(): Promise<DashboardFlow[]> {
      return this.api.listFlows();
    }

    @Get('api/workers')
    listWorkers(): Promise<WorkerInfo[]> {
      return this.api.listWorkers();
    }

    /**
     * Written by hand rather than with @Sse, which writes each event on its own: the
     * changes of one read arrive as one chunk, already serialized for every stream.
     * `?brief=1`: each event without its `run`/`step` (the UI's pages read what they show).
     */
    @Get('api/events')
    stream(@Res() res: ResponseLike, @Query('brief') brief?: string): void {
      // Fastify hands its reply (the Node response is `raw`, taken over by hijack), Express the response
      if (typeof res.hijack === 'function') res.hijack();
      const raw: ServerResponse = res.raw ?? (res as ServerResponse);
      raw.writeHead(200, SSE_HEADERS);
      raw.write(': connected\n\n');
      const sub = this.events.stream(brief === '1' ? 'brief' : 'full').subscribe((chunk) => {
        // a browser that stopped reading is dropped, not buffered for: EventSource reconnects
        if (raw.writableLength > MAX_BUFFERED_BYTES) raw.destroy();
        else raw.write(chunk);
      });
      // comment lines keep proxies from closing an idle stream
      const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
      keepalive.unref();
      raw.on('close', () => {
        sub.unsubscribe();
        clearInterval(keepalive);
      });
    }

    @Post('api/runs/:runId/cancel')
    @HttpCode(200)
    cancel(@Param('runId') runId: string, @Headers('content-type') type: string | undefined): Promise<RunInfo> {
      this.mutation(type);
      return this.api.cancel(runId);
    }

    @Post('api/runs/:runId/retry')
    @HttpCode(200)
    retry(@Param('runId') runId: string, @Headers('content-type') type: string | undefined): Promise<RunInfo> {
      this.mutation(type);
      return this.api.retry(runId);
    }

    @Post('api/runs/:runId/signals')
    @HttpCode(200)
    signal(@Param('runId') runId: string, @Headers('content-type') type: string | undefined,
      @Body() body: unknown): Promise<SignalResult> {
      this.mutation(type);
      return this.api.signal(runId, body);
    }

    @Post('api/bulk/cancel')
    @HttpCode(200)
    bulkCancel(@Headers('content-type') type: string | undefined, @Body() body: unknown): Promise<BulkResult> {
      this.mutation(type);
      return this.api.bulk('cancel', body);
    }

    @Post('api/bulk/retry')
    @HttpCode(200)
    bulkRetry(@Headers('content-type') type: string | undefined, @Body() body: unknown): Promise<BulkResult> {
      this.mutation(type);
      return this.api.bulk('retry', body);
    }

    /** Refuses a mutation when read-only (403) or not sent as JSON (415: a cross-site form cannot send JSON). */
    private mutation(type: string | undefined): void {
      if (this.options.readOnly) throw new DashboardRefusal(403, 'Forbidden', 'the dashboard is read-only');
      if (!/^application\/json\s*(;|$)/i.test(type ?? '')) {
        throw new DashboardRefusal(415, 'UnsupportedMediaType', 'mutations take only application/json');
      }
    }

    private page(base: string, res: unknown): StreamableFile {
      for (const [name, value] of Object.entries(PAGE_HEADERS)) this.adapterHost.httpAdapter.setHeader(res, name, value);
      const html = Buffer.from(this.assets.page(base, this.options.readOnly));
      return new StreamableFile(html, { type: 'text/html; charset=utf-8', length: html.length });
    }
  }
  return PgflowDashboardController;
}
