// The operator console (/admin/, issue 21) in Debian chromium against `npm run dev`: every flow an operator runs —
// sign in, accounts (search, filter, sort, the shared test account marked), keys (issue with label, expiry and a
// budget; spend and last use; budget edit; revoke only after confirming), money in exact dollars (micro-USD on hover),
// webhooks (set, rotate, remove; the secret shown once, copyable), usage charts per day and per model with the CSV
// export, audit filters, loading / empty / error states, keyboard use, 1280 px and a phone's width. Screenshots go to
// test-results/ (CI artefacts).
import fs, { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, browser, SHOTS, startDev, TEST_KEY, type DevServer } from './dev';

let dev: DevServer;
let b: Browser | null = null;
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };

beforeAll(async () => {
  [dev, b] = await Promise.all([startDev(), browser()]);
});
afterAll(async () => {
  await b?.close();
  await dev?.stop();
});

/** A page with problem collection: console errors, page errors, and every HTTP error answer (a favicon 404 included). */
async function open(ctx: BrowserContext): Promise<{ page: Page; problems: string[]; failed: string[] }> {
  const page = await ctx.newPage();
  const problems: string[] = [];
  const failed: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${new URL(r.url()).pathname}`));
  return { page, problems, failed };
}

async function signIn(page: Page) {
  await page.goto(`${dev.base}/admin`);
  await page.fill('#token', ADMIN);
  await page.press('#token', 'Enter');
  await page.waitForSelector('#app:not([hidden])');
  await page.waitForSelector('#accounts-state[data-state="ready"]');
}

const image = (key: string, prompt: string) =>
  fetch(`${dev.base}/v1/images/generations`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
const shot = (page: Page, name: string) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  return page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
};
const uniq = (p: string) => `${p}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

describe('the operator console in chromium', () => {
  it('sign in → issue a key with label, expiry and budget → top up in dollars → usage charts, key spend, budget edit, CSV → revoke after confirming; the token is kept nowhere', async () => {
    if (!b) return;
    const ctx = await b.newContext({ viewport: { width: 1280, height: 1000 }, permissions: ['clipboard-read', 'clipboard-write'], acceptDownloads: true });
    const { page, problems, failed } = await open(ctx);
    try {
      await page.goto(`${dev.base}/admin`);
      expect(new URL(page.url()).pathname).toBe('/admin/');
      await page.fill('#token', 'wrong-token');
      await page.click('#signin-form button[type="submit"]');
      await page.waitForSelector('#signin-error:not(:empty)');
      problems.length = 0; // the 401 of the wrong token is logged by the browser as a failed request
      expect(failed).toEqual(['401 /admin/accounts']);
      failed.length = 0;
      await signIn(page);
      await page.waitForSelector('#overview-state[data-state="ready"], #overview-state[data-state="empty"]');

      // Issue: label, expiry (30 days), $5 of credits, a budget of $0.066 a day (two images).
      const account = uniq('console');
      await page.click('#issue summary');
      await page.fill('#issue-account', account);
      await page.fill('#issue-credits', '5');
      await page.fill('#issue-label', 'front desk');
      const expiry = await page.evaluate(() => {
        const d = new Date(Date.now() + 30 * 86_400_000);
        const p = (n: number) => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
      });
      await page.fill('#issue-expires', expiry);
      await page.fill('#issue-budget', '0.066');
      await page.selectOption('#issue-period', 'day');
      await page.click('#issue-form button[type="submit"]');
      await page.waitForSelector('#issued:not([hidden])');
      const key = (await page.textContent('#issued-key'))!;
      expect(key).toMatch(/^phi_/);
      await page.click('#issued button.copy');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
      const row = page.locator('#keys tbody tr', { hasText: 'front desk' });
      await row.waitFor();
      expect(await row.locator('td').nth(5).textContent()).not.toBe('—'); // the expiry is shown
      expect(await row.locator('td').nth(7).textContent()).toBe('$0.00 of $0.066 per day');
      await page.waitForSelector('#usage-state[data-state="empty"]');
      await page.waitForSelector('#webhook-state[data-state="empty"]');

      // Top up $0.50 (exact dollars; micro-USD on hover).
      await page.fill('#topup-amount', '0.5');
      await page.press('#topup-amount', 'Enter');
      const balance = page.locator('#detail-money .money').first();
      await page.waitForSelector('#detail-money .money[data-micro="5500000"]');
      expect(await balance.textContent()).toBe('$5.50');
      expect(await balance.getAttribute('title')).toBe('5500000 µ$');

      // Two images fit the budget, the third is refused by it.
      const ids: string[] = [];
      for (const n of [1, 2]) {
        const res = await image(key, `a calm clinic waiting room ${n}`);
        expect(res.status).toBe(200);
        ids.push(res.headers.get('x-request-id')!);
      }
      const over = await image(key, 'one image too many');
      expect(over.status).toBe(402);
      expect(((await over.json()) as { error: { code: string } }).error.code).toBe('budget_exceeded');

      await page.click(`#accounts tbody tr[data-account="${account}"]`);
      await page.waitForSelector(`#usage tbody tr:has-text("${ids[0]}")`);
      await page.waitForSelector('#keys-state[data-state="ready"]');
      expect(await row.locator('td').nth(6).textContent()).toBe('$0.066');
      expect(await row.locator('td').nth(7).textContent()).toBe('$0.066 of $0.066 per day');
      expect(await row.locator('td').nth(4).textContent()).not.toBe('—'); // last used
      expect(await page.locator('#acct-day rect[data-micro="66000"]').count()).toBe(1);
      expect(await page.locator('#acct-model rect[data-model="krea-2"]').getAttribute('data-micro')).toBe('66000');
      expect(await page.locator('#acct-model rect[data-model="krea-2"] title').textContent()).toContain('$0.066 (66000 µ$), 3 requests');
      expect(await page.textContent('#detail-money')).toContain('balance $5.434');

      // The budget dialog (keyboard: it opens focused, Escape cancels, Enter saves).
      await row.locator('button.budget').click();
      await page.waitForSelector('#budget-dialog[open]');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#budget-dialog', { state: 'hidden' });
      await row.locator('button.budget').click();
      await page.fill('#budget-amount', '1');
      await page.selectOption('#budget-period', 'month');
      await page.press('#budget-amount', 'Enter');
      await page.waitForSelector('#budget-dialog', { state: 'hidden' });
      // A new period starts its count at $0 (a budget counts what is spent while it is set).
      await page.waitForFunction(() => document.querySelector('#keys tbody tr td:nth-child(8)')?.textContent === '$0.00 of $1.00 per month');
      expect((await image(key, 'fits the new budget')).status).toBe(200);

      // The CSV export: micro-USD, a header row.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
      expect(download.suggestedFilename()).toMatch(new RegExp(`^usage-${account}-\\d+-\\d+\\.csv$`));
      const csv = readFileSync((await download.path())!, 'utf8').trim().split('\r\n');
      expect(csv[0]).toBe('at,type,request_id,key_id,model,units,unit,cost_micro,video_id,reason');
      expect(csv.filter((l) => l.includes(',krea-2,1,image,33000,'))).toHaveLength(3);

      // 1280 px: nothing wider than the window (wide tables scroll inside their own box).
      const wide = await page.evaluate(() =>
        Array.from(document.querySelectorAll('body *'))
          .filter((e) => !e.closest('.scroll') && e.getBoundingClientRect().right > window.innerWidth + 1)
          .map((e) => `${e.tagName}#${e.id}.${e.className}`),
      );
      expect(wide).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
      await shot(page, 'console.png');

      // Revoke asks first: cancelled, nothing happens; confirmed, the key stops working.
      await row.locator('button.revoke').click();
      await page.waitForSelector('#confirm[open]');
      expect(await page.textContent('#confirm-text')).toContain('front desk');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#confirm', { state: 'hidden' });
      expect((await fetch(`${dev.base}/v1/account`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      await row.locator('button.revoke').click();
      await page.click('#confirm-ok');
      await page.waitForSelector('#keys tbody tr.revoked');
      expect(await page.locator('#keys tbody tr.revoked button.revoke').isDisabled()).toBe(true);
      expect((await fetch(`${dev.base}/v1/account`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);

      // Kept nowhere.
      const kept = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookie: document.cookie, url: location.href }));
      expect(kept).toEqual({ local: 0, session: 0, cookie: '', url: `${dev.base}/admin/` });
      expect((await page.content()).includes(ADMIN)).toBe(false);
      expect(problems).toEqual([]);
      expect(failed).toEqual([]); // the favicon included
    } finally {
      await ctx.close();
    }
  });

  it('webhooks: set, rotate (the secret shown once, copyable), remove — each change confirmed; last delivery shown', async () => {
    if (!b) return;
    const account = uniq('hooks');
    const issued = await fetch(`${dev.base}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ tier: 'paid', account, credits_micro: 1_000_000 }) });
    expect(issued.status).toBe(201);
    const ctx = await b.newContext({ viewport: { width: 1280, height: 1000 }, permissions: ['clipboard-read', 'clipboard-write'] });
    const { page, problems, failed } = await open(ctx);
    try {
      await signIn(page);
      await page.click(`#accounts tbody tr[data-account="${account}"]`);
      await page.waitForSelector('#webhook-state[data-state="empty"]');
      expect(await page.isDisabled('#webhook-rotate')).toBe(true);
      await page.fill('#webhook-url', 'https://hooks.example.com/clinic');
      await page.click('#webhook-form button[type="submit"]');
      await page.waitForSelector('#webhook-secret-box:not([hidden])');
      const first = (await page.textContent('#webhook-secret'))!;
      expect(first).toMatch(/^whsec_/);
      await page.click('#webhook-secret-box button.copy');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(first);
      await page.waitForSelector('#webhook-state[data-state="ready"]');
      expect(await page.textContent('#webhook-current')).toContain('https://hooks.example.com/clinic');
      expect(await page.textContent('#webhook-current')).toContain('No delivery yet.');
      // The secret is shown once: the API never returns it again.
      const listed = await (await fetch(`${dev.base}/admin/accounts/${account}/webhook`, { headers: admin })).text();
      expect(listed).not.toContain(first);
      // Rotate: confirmed, a new secret.
      await page.click('#webhook-rotate');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForFunction((old) => document.getElementById('webhook-secret')!.textContent !== old, first);
      expect(await page.textContent('#webhook-secret')).toMatch(/^whsec_/);
      // Remove: cancelled first, then confirmed.
      await page.click('#webhook-remove');
      await page.click('#confirm button[value="cancel"]');
      await page.waitForSelector('#confirm', { state: 'hidden' });
      expect(await page.textContent('#webhook-current')).toContain('hooks.example.com');
      await page.click('#webhook-remove');
      await page.click('#confirm-ok');
      await page.waitForSelector('#webhook-state[data-state="empty"]');
      expect(await page.isHidden('#webhook-secret-box')).toBe(true);
      // Audit: filter by type and by actor.
      await page.selectOption('#audit-type', 'operator');
      await page.click('#audit-form button[type="submit"]');
      await page.waitForSelector('#audit-state[data-state="ready"]');
      const types = await page.locator('#audit tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.type));
      expect(types.length).toBeGreaterThan(0);
      expect(new Set(types)).toEqual(new Set(['operator', 'operator.read']));
      expect(await page.locator('#audit tbody tr', { hasText: 'PUT /admin/accounts/:account/webhook' }).count()).toBe(2);
      expect(await page.locator('#audit tbody tr', { hasText: 'amount=$1.00' }).count()).toBe(1); // the credits at issue
      await page.selectOption('#audit-type', 'webhook.sent');
      await page.click('#audit-form button[type="submit"]');
      await page.waitForSelector('#audit-state[data-state="empty"]');
      await page.selectOption('#audit-type', '');
      await page.fill('#audit-actor', 'system');
      await page.press('#audit-actor', 'Enter');
      await page.waitForSelector('#audit-state[data-state="empty"]');
      expect(problems).toEqual([]);
      expect(failed).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('accounts: search, filter and sort; the shared test account listed and marked; keyboard only', async () => {
    if (!b) return;
    const prefix = uniq('sort');
    for (const [n, credits] of [['a', 3_000_000], ['b', 1_000_000], ['c', 2_000_000]] as const) {
      const r = await fetch(`${dev.base}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ tier: 'paid', account: `${prefix}-${n}`, credits_micro: credits }) });
      expect(r.status).toBe(201);
    }
    expect((await image(TEST_KEY, 'a lighthouse at dawn')).status).toBe(200);
    const ctx = await b.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, problems, failed } = await open(ctx);
    try {
      await signIn(page);
      const names = () => page.locator('#accounts tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.account));
      // Keyboard: type into the search, Tab into the list, Enter opens.
      await page.focus('#acct-search');
      await page.keyboard.type(prefix);
      expect(await names()).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
      await page.selectOption('#acct-sort', 'balance');
      expect(await names()).toEqual([`${prefix}-a`, `${prefix}-c`, `${prefix}-b`]);
      expect(await page.textContent('#accounts-state')).toMatch(/^3 of \d+ accounts$/);
      await page.focus(`#accounts tbody tr[data-account="${prefix}-c"]`);
      await page.keyboard.press('Enter');
      await page.waitForFunction((n) => document.getElementById('detail-name')!.textContent === n, `${prefix}-c`);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('detail-h');
      await page.fill('#acct-search', `${prefix}-zzz`);
      await page.waitForSelector('#accounts-state[data-state="empty"]');
      // The shared test account: listed, marked, its usage there, no money forms.
      await page.fill('#acct-search', '');
      await page.selectOption('#acct-filter', 'shared');
      expect(await names()).toEqual(['test']);
      expect(await page.textContent('#accounts tbody tr[data-account="test"] .badge')).toBe('shared test key');
      await page.click('#accounts tbody tr[data-account="test"]');
      await page.waitForSelector('#detail-badge:not([hidden])');
      expect(await page.isHidden('#money-forms')).toBe(true);
      await page.waitForSelector('#usage-state[data-state="ready"]');
      await page.waitForSelector('#detail-state[data-state="ready"]');
      expect(await page.textContent('#detail-money')).toContain('free tier');
      expect(await page.textContent('#keys-state')).toContain('TEST_API_KEY');
      // Sorted by last use, the test account (just used) comes first among all.
      await page.selectOption('#acct-filter', 'all');
      await page.selectOption('#acct-sort', 'last');
      expect((await names())[0]).toBe('test');
      expect(problems).toEqual([]);
      expect(failed).toEqual([]);
    } finally {
      await ctx.close();
    }
  });

  it('loading, empty and error states; a phone-width layout without sideways scrolling', async () => {
    if (!b) return;
    const account = uniq('states');
    await fetch(`${dev.base}/admin/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ tier: 'paid', account, credits_micro: 1 }) });
    const ctx = await b.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const { page, problems } = await open(ctx);
    try {
      // The usage answers slowly (loading shows), the audit fails (its error shows), the rest is empty.
      let release: () => void = () => {};
      const held = new Promise<void>((r) => (release = r));
      await page.route('**/admin/accounts/*/usage?*', async (route) => {
        await held;
        await route.continue();
      });
      await page.route('**/admin/accounts/*/audit?*', (route) =>
        route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { message: 'The billing ledger is unreachable', type: 'server_error', param: null, code: 'store_unavailable' } }) }),
      );
      await signIn(page);
      await page.fill('#acct-search', account);
      await page.click(`#accounts tbody tr[data-account="${account}"]`);
      await page.waitForSelector('#usage-state[data-state="loading"]');
      expect(await page.textContent('#usage-state')).toBe('Loading…');
      await page.waitForSelector('#audit-state[data-state="error"]');
      expect(await page.getAttribute('#audit-state', 'role')).toBe('alert');
      expect(await page.textContent('#audit-state')).toContain('The billing ledger is unreachable');
      release();
      await page.waitForSelector('#usage-state[data-state="empty"]');
      await page.waitForSelector('#webhook-state[data-state="empty"]');
      // A phone's width: nothing wider than the screen (tables scroll inside their own box).
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await shot(page, 'console-phone.png');
      problems.length = 0; // the forced 503 is logged by the browser
    } finally {
      await ctx.close();
    }
  });
});
