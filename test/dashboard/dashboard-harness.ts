import { CanActivate, ExecutionContext, INestApplication, Injectable } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { NonRetryableError, PgflowModule, Step, Workflow } from '../../lib';
import { PgflowDashboardModule, PgflowDashboardOptions } from '../../lib/dashboard';
import { createTestDatabase, TestDatabase } from '../support/database';

/** What the test flow's handlers do: `charge` waits for `gate`, and fails while `failing`. */
@Injectable()
export class Switches {
  failing = false;
  gate: Promise<void> = Promise.resolve();
  private open?: () => void;

  /** `charge` waits from now on until `release()`. */
  hold(): void {
    this.gate = new Promise<void>((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = Promise.resolve();
  }
}

/** prepare → charge → approve (waits for the `approved` signal) → pack → ship (a map over pack's items). */
@Workflow({ slug: 'shop', maxAttempts: 1 })
export class ShopFlow {
  constructor(private readonly switches: Switches) {}

  @Step()
  prepare(input: { run: { note: string; items: number[] } }) {
    return { note: input.run.note };
  }

  @Step({ dependsOn: ['prepare'] })
  async charge(input: { prepare: { note: string } }) {
    await this.switches.gate;
    if (this.switches.failing) throw new NonRetryableError('card declined <b>bold</b>');
    return { charged: true, note: input.prepare.note };
  }

  @Step({ dependsOn: ['charge'], signal: 'approved' })
  approve(input: { signal: unknown }) {
    return { by: input.signal };
  }

  @Step({ dependsOn: ['approve'] })
  pack(input: { run: { items: number[] } }) {
    return input.run.items;
  }

  @Step({ dependsOn: ['pack'], map: 'pack' })
  ship(input: unknown) {
    return input;
  }
}

/** A one-step flow for the API's filters. */
@Workflow({ slug: 'ping', maxAttempts: 1 })
export class PingFlow {
  @Step()
  pong(input: { run: unknown }) {
    return input.run;
  }
}

/** A subflow step: one `ping` child run per element of the input. */
@Workflow({ slug: 'pings', maxAttempts: 1 })
export class PingsFlow {
  @Step()
  items(input: { run: { n: number } }) {
    return Array.from({ length: input.run.n }, (_, i) => i);
  }

  @Step({ dependsOn: ['items'], map: 'items', subflow: PingFlow })
  each(item: number) {
    return { item };
  }
}

/** Lets a request through only with `x-dashboard-key: let-me-in`. */
@Injectable()
export class KeyGuard implements CanActivate {
  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    return req.headers['x-dashboard-key'] === 'let-me-in';
  }
}

/** Options of one test app. */
export interface DashboardAppOptions {
  platform: 'express' | 'fastify';
  dashboard?: PgflowDashboardOptions;
  globalPrefix?: string;
  /** Run the worker (default true). */
  worker?: boolean;
}

/** A Nest HTTP app with pgflow and the dashboard, listening on 127.0.0.1. */
export interface DashboardApp {
  app: INestApplication;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  switches: Switches;
}

/**
 * Per-file fixture: a fresh database, real Nest HTTP apps on Express or Fastify, one
 * Chromium (Debian's, /usr/bin/chromium); every app, browser and database is closed after the file.
 */
export function useDashboardApps() {
  let database: TestDatabase | undefined;
  let browser: Browser | undefined;
  const apps = new Set<INestApplication>();
  const contexts = new Set<BrowserContext>();
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterEach(async () => {
    // pages first: an open event stream would hold the server's close
    for (const context of [...contexts]) {
      contexts.delete(context);
      await context.close();
    }
    for (const app of [...apps]) {
      apps.delete(app);
      await app.close();
    }
  });
  afterAll(async () => {
    await browser?.close();
    await database?.drop();
  });

  async function start(opts: DashboardAppOptions): Promise<DashboardApp> {
    if (!database) throw new Error('no database yet');
    const moduleRef = await Test.createTestingModule({
      imports: [
        PgflowModule.forRoot({
          dataSource: { type: 'postgres', url: database.url, poolSize: 10 },
          worker: { enabled: opts.worker ?? true, pollIntervalMs: 200, heartbeatIntervalMs: 1000, shutdownTimeoutMs: 5000 },
        }),
        PgflowDashboardModule.forRoot(opts.dashboard),
      ],
      providers: [Switches, ShopFlow, PingFlow, PingsFlow],
    }).compile();
    const app = moduleRef.createNestApplication(opts.platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter(),
      { logger: ['error', 'warn'] });
    apps.add(app);
    if (opts.globalPrefix) app.setGlobalPrefix(opts.globalPrefix);
    await app.listen(0, '127.0.0.1');
    const url = new URL(await app.getUrl());
    return { app, origin: `http://127.0.0.1:${url.port}`, switches: app.get(Switches) };
  }

  /** A fresh page of the file's browser; `requests` records every URL it asks for, `errors` its uncaught errors. */
  async function page(): Promise<{ page: Page; requests: string[]; errors: Error[] }> {
    browser ??= await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.add(context);
    const p = await context.newPage();
    p.setDefaultTimeout(30_000);
    const requests: string[] = [];
    const errors: Error[] = [];
    p.on('request', (r) => requests.push(r.url()));
    p.on('pageerror', (e) => errors.push(e));
    return { page: p, requests, errors };
  }

  return { start, page };
}

/** A JSON request to the app; resolves with status and parsed body. */
export async function call(origin: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${origin}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

/** A JSON POST. */
export const postJson = (origin: string, path: string, body: unknown = {}, headers: Record<string, string> = {}) =>
  call(origin, path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

