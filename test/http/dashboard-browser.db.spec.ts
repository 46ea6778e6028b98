import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueName } from '../../jobs/contracts.js';
import type { Gateway } from '../../src/gateway.js';
import { DASHBOARD_PATH, SESSION_COOKIE } from '../../src/http/dashboard.js';
import { chromiumMissing, launchChromium } from '../support/chromium.js';
import { describeEachDb, type TestDatabase } from '../support/db.js';
import { seedPbx, startTestGateway } from '../support/gateway.js';

/**
 * The job dashboard in a real browser: Debian's headless Chromium driven
 * by playwright-core. Without /usr/bin/chromium (`apt-get install chromium`) the suite is
 * skipped, loudly.
 */
const missing = chromiumMissing;

type Tenant = Awaited<ReturnType<typeof seedPbx>>;
const BOGUS_JOB = 'test-no-such-job';

/** What one browser session did: every URL it asked for, every uncaught page error. */
interface Tracked {
  context: BrowserContext;
  page: Page;
  urls: string[];
  finishedElsewhere: string[];
  pageErrors: string[];
}

if (missing) {
  const bar = '!'.repeat(78);
  console.warn(`\n${bar}\n!! The job dashboard browser test is SKIPPED: ${missing}.\n${bar}\n`);
  describe.skip(`job dashboard in headless Chromium SKIPPED: ${missing}`, () => {
    it('loads the dashboard in a browser', () => {});
  });
} else {
  describeEachDb('job dashboard in headless Chromium', (leg) => {
    let db: TestDatabase;
    let gw: Gateway;
    let a: Tenant;
    let browser: Browser;
    const opened: Tracked[] = [];

    /** A fresh browser context (its own cookies), tracking requests and errors. */
    const open = async (): Promise<Tracked> => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const t: Tracked = { context, page, urls: [], finishedElsewhere: [], pageErrors: [] };
      context.on('request', (r) => t.urls.push(r.url()));
      context.on('requestfinished', (r) => {
        if (!r.url().startsWith(gw.url)) t.finishedElsewhere.push(r.url());
      });
      page.on('pageerror', (e) => t.pageErrors.push(e.message));
      page.on('framenavigated', (f) => t.urls.push(f.url()));
      opened.push(t);
      return t;
    };
    /** Submits the login form as a person does; resolves with the POST's answer. */
    const signIn = async (page: Page, key: string) => {
      await page.locator('#key').fill(key);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'),
        page.locator('#login button[type=submit]').click(),
      ]);
      await page.waitForLoadState('domcontentloaded');
      return response;
    };
    const expectNoKeyInUrls = (t: Tracked) => {
      const keys = Object.values(a.keys);
      for (const url of [...t.urls, t.page.url()]) {
        for (const key of keys) {
          expect(url).not.toContain(key);
          expect(url).not.toContain(encodeURIComponent(key));
        }
      }
    };

    beforeAll(async () => {
      db = await leg.create();
      gw = await startTestGateway(db);
      a = await seedPbx(gw, { name: 'Alpha' });
      await gw.queues.queue(QueueName.System).add(BOGUS_JOB, { pbxId: a.pbx.id }, { attempts: 1 });
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
      await gw?.stop();
      await db?.drop();
    });

    it('shows the login form without a key, and a wrong key re-shows it with an error (401)', async () => {
      const t = await open();
      const res = await t.page.goto(`${gw.url}${DASHBOARD_PATH}`);
      expect(res?.status()).toBe(401);
      await expect(t.page.title()).resolves.toBe('Job dashboard: sign in');
      expect(await t.page.locator('form#login input#key').getAttribute('type')).toBe('password');
      expect(await t.page.locator('#root').count()).toBe(0);

      const wrong = await signIn(t.page, 'epg_this-key-does-not-exist');
      expect(wrong.status()).toBe(401);
      expect(await t.page.locator('#login-error').textContent()).toMatch(/unknown or revoked/);
      expect(await t.page.locator('#key').inputValue()).toBe('');
      expect((await t.context.cookies()).find((c) => c.name === SESSION_COOKIE)).toBeUndefined();
      expectNoKeyInUrls(t);
      expect(t.pageErrors).toEqual([]);
      await t.context.close();
    });

    it('logs in with an ADMIN key and the bull-board page lists the queues', async () => {
      const t = await open();
      await t.page.goto(`${gw.url}${DASHBOARD_PATH}`);
      const res = await signIn(t.page, a.keys.admin);
      expect(res.status()).toBe(303);
      await t.page.waitForURL(`${gw.url}${DASHBOARD_PATH}`);
      for (const name of Object.values(QueueName)) {
        await t.page.getByRole('link', { name, exact: true }).first().waitFor({ timeout: 15_000 });
      }
      await expect(t.page.title()).resolves.toBe('Gateway jobs');

      // The session cookie as the browser holds it: HttpOnly (no script sees it), SameSite=Strict, Path=/admin.
      const cookie = (await t.context.cookies()).find((c) => c.name === SESSION_COOKIE);
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });
      expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await t.page.evaluate('document.cookie')).not.toContain(SESSION_COOKIE);

      // The PBX's own failed job, with its reason; an ADMIN's board offers actions.
      await t.page.goto(`${gw.url}${DASHBOARD_PATH}/queue/${QueueName.System}?status=failed`);
      await t.page.getByText(BOGUS_JOB).first().waitFor({ timeout: 15_000 });
      await t.page
        .getByText(/does not belong on queue system/)
        .first()
        .waitFor();
      expect(await t.page.getByRole('button', { name: 'Retry all' }).count()).toBe(1);

      expectNoKeyInUrls(t);
      // Everything came from the gateway (bull-board's web-font link is blocked by the CSP).
      expect(t.finishedElsewhere).toEqual([]);
      expect(t.pageErrors).toEqual([]);

      // Log out from the board's menu: back to the login form; the board is closed again.
      await t.page.locator('header button[aria-haspopup="menu"]').click();
      await t.page.getByRole('menuitem', { name: 'Log out' }).click();
      await t.page.locator('form#login').waitFor();
      expect((await t.context.cookies()).find((c) => c.name === SESSION_COOKIE)).toBeUndefined();
      expect((await t.page.goto(`${gw.url}${DASHBOARD_PATH}`))?.status()).toBe(401);
      await t.context.close();
    });

    it('gives a VIEWER a read-only board: the same queues and jobs, no action buttons', async () => {
      const t = await open();
      await t.page.goto(`${gw.url}${DASHBOARD_PATH}/queue/${QueueName.System}?status=failed`);
      expect((await signIn(t.page, a.keys.viewer)).status()).toBe(303);
      await t.page.goto(`${gw.url}${DASHBOARD_PATH}/queue/${QueueName.System}?status=failed`);
      await t.page.getByText(BOGUS_JOB).first().waitFor({ timeout: 15_000 });
      await t.page
        .getByText(/does not belong on queue system/)
        .first()
        .waitFor();
      expect(await t.page.getByRole('button', { name: 'Retry all' }).count()).toBe(0);
      expect(await t.page.getByRole('button', { name: 'Clean all' }).count()).toBe(0);
      // Even a hand-made request from the page is refused.
      const status = await t.page.evaluate(async () => {
        const res = await fetch('api/queues?activeQueue=system&status=failed&page=1&jobsPerPage=10');
        const list = (await res.json()) as { queues: Array<{ name: string; jobs: Array<{ id: string }> }> };
        const id = list.queues.find((q) => q.name === 'system')?.jobs[0].id;
        return (await fetch(`api/queues/system/${id}/retry`, { method: 'PUT' })).status;
      });
      expect(status).toBe(403);
      expectNoKeyInUrls(t);
      expect(t.pageErrors).toEqual([]);
      await t.context.close();
    });
  });
}
