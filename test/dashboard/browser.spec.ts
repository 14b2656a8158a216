import { mkdirSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Page } from 'playwright-core';
import { PgflowClient } from '../../lib';
import { eventually } from '../support/nest-harness';
import { DashboardApp, useDashboardApps } from './dashboard-harness';

const XSS = '<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>';

/** Where the README's screenshot goes: docs/dashboard.png with UPDATE_SCREENSHOT=1, else a temp dir. */
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? join(__dirname, '..', '..', 'docs', 'dashboard.png')
  : join(tmpdir(), 'pgflow-dashboard.png');

/** The text of the DAG node of `step`: its slug and status. */
const nodeText = (page: Page, step: string) => page.locator(`svg.dag g[data-step="${step}"]`).textContent();

describe.each(['express', 'fastify'] as const)('dashboard in a browser (%s)', (platform) => {
  const { start, page: newPage } = useDashboardApps();
  jest.setTimeout(120_000);

  async function waitingRun(d: DashboardApp, note: string) {
    const client = d.app.get(PgflowClient);
    const run = await client.startRun('shop', { note, items: [1, 2] });
    await eventually(async () => (await client.getRun(run.runId))?.steps.find((s) => s.stepSlug === 'approve')?.status === 'waiting',
      30_000, 'approve waiting');
    return run;
  }

  it('lists runs, opens one, shows its DAG with statuses as text, keeps outputs as text, updates live, sends a signal; nothing leaves the origin', async () => {
    const d = await start({ platform, globalPrefix: 'api/v1' });
    const run = await waitingRun(d, XSS);
    const { page, requests, errors } = await newPage();
    await page.goto(`${d.origin}/api/v1/pgflow`);
    await page.locator(`tr[data-run="${run.runId}"] a`).first().click();
    await page.waitForURL(`**/api/v1/pgflow/runs/${run.runId}`);
    await expectText(page, 'prepare', 'completed');
    await expectText(page, 'charge', 'completed');
    await expectText(page, 'approve', 'waiting');
    await expectText(page, 'ship', 'created');
    // the output holding markup is shown as that text and never run
    await page.getByText(XSS, { exact: false }).first().waitFor();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    // a deep link survives a reload
    await page.reload();
    await expectText(page, 'approve', 'waiting');
    if (platform === 'express') await page.screenshot({ path: ensureDir(SCREENSHOT), fullPage: true });
    // Send signal: the step goes on and the page follows without a reload
    await page.getByRole('button', { name: 'Send signal' }).click();
    await expectText(page, 'approve', 'completed');
    await expectText(page, 'ship', 'completed 2/2');
    await page.locator('h2 .badge', { hasText: 'completed' }).waitFor();
    const foreign = requests.filter((u) => !u.startsWith(`${d.origin}/`));
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('Cancel and Retry act on click, and a change made elsewhere shows without reload', async () => {
    const d = await start({ platform });
    const client = d.app.get(PgflowClient);
    d.switches.hold();
    d.switches.failing = true;
    const run = await client.startRun('shop', { note: 'n', items: [] });
    const { page } = await newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${d.origin}/pgflow/runs/${run.runId}`);
    await expectText(page, 'charge', 'started');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expectText(page, 'charge', 'cancelled');
    expect((await client.getRun(run.runId))?.status).toBe('cancelled');
    d.switches.release();
    await page.getByRole('button', { name: 'Retry' }).click();
    // retried, charge fails (failing is still on): the page shows it without a reload
    await expectText(page, 'charge', 'failed');
    await page.getByText('card declined <b>bold</b>').first().waitFor();
    d.switches.failing = false;
    await page.getByRole('button', { name: 'Retry' }).click();
    await expectText(page, 'approve', 'waiting');
    // charge's attempts, each with its worker, times and error: the cancelled, the failed, the completed
    const kept = (await client.getTasks(run.runId, 'charge'))[0].attempts;
    expect(kept.length).toBeGreaterThanOrEqual(2);
    const charge = page.locator('tr[data-task-row="charge:0"]');
    await charge.locator('summary').click();
    await charge.locator('li[data-attempt]').nth(kept.length - 1).waitFor();
    expect(await charge.locator('li[data-attempt]').count()).toBe(kept.length);
    await charge.locator('li[data-attempt]').getByText('card declined <b>bold</b>').waitFor();
    // a change made elsewhere (not through this page) arrives over the event stream, while
    // other runs keep changing: their events follow this run's within the page's 150 ms
    let busy = true;
    const others = (async () => {
      while (busy) {
        await client.startRun('ping', { noise: true });
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      await client.signal(run.runId, 'approved', { by: 'someone else' });
      await expectText(page, 'approve', 'completed');
    } finally {
      busy = false;
      await others;
    }
  });

  it("a subflow step links its child runs by task index, and a child links back to its parent", async () => {
    const d = await start({ platform });
    const client = d.app.get(PgflowClient);
    const started = await client.startRun('pings', { n: 3 });
    const run = await client.waitForRun(started.runId, { timeoutMs: 30_000 });
    const children = run.steps.find((s) => s.stepSlug === 'each')?.childRunIds ?? [];
    expect(children).toHaveLength(3);
    const { page } = await newPage();
    await page.goto(`${d.origin}/pgflow/runs/${run.runId}`);
    const links = page.locator('tr[data-step-row="each"] a[data-child-run]');
    await links.nth(2).waitFor();
    expect(await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(
      children.map((id) => `/pgflow/runs/${id}`));
    await links.nth(1).click();
    await page.locator('a[data-parent-run]').waitFor();
    expect(await page.locator('h2 .mono').textContent()).toBe(children[1]);
    await page.locator('a[data-parent-run]').click();
    await page.locator('tr[data-step-row="each"]').waitFor();
    expect(await page.locator('h2 .mono').textContent()).toBe(run.runId);
  });

  it('read-only: no buttons, and the API refuses mutations with 403', async () => {
    const d = await start({ platform, dashboard: { readOnly: true, path: 'ops/flows' } });
    const run = await waitingRun(d, 'ro');
    const { page } = await newPage();
    await page.goto(`${d.origin}/ops/flows/runs/${run.runId}`);
    await expectText(page, 'approve', 'waiting');
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Send signal' }).count()).toBe(0);
    const status = await page.evaluate(async (id) => (await fetch(`/ops/flows/api/runs/${id}/cancel`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, run.runId);
    expect(status).toBe(403);
    // the flows and workers pages load from their own URLs
    await page.goto(`${d.origin}/ops/flows/flows/shop`);
    await page.locator('svg.dag g[data-step="ship"]').waitFor();
    await page.goto(`${d.origin}/ops/flows/workers`);
    await page.getByRole('heading', { name: 'Workers' }).waitFor();
    await page.locator('td .badge', { hasText: 'online' }).first().waitFor();
  });
});

async function expectText(page: Page, step: string, text: string): Promise<void> {
  await page.locator(`svg.dag g[data-step="${step}"] text.status`, { hasText: new RegExp(`^${text}$`) }).waitFor();
  expect(await nodeText(page, step)).toContain(step);
}

function ensureDir(file: string): string {
  mkdirSync(join(file, '..'), { recursive: true });
  return file;
}
