// Logs in to Tendril's admin page in headless Chromium and checks that the session list shows a connected client.
// Usage: node admin_page.mjs BASE_URL USER PASSWORD EXPECTED_JID SCREENSHOT_PATH
// Prints one JSON line: { ok, sessions: [...], title }. Exit code 0 only when the expected JID is listed.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [baseUrl, user, password, expectedJid, screenshot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'tendril-chromium-'));
// A fresh profile (--user-data-dir) per run: playwright passes it for a persistent context.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1200, height: 900 },
  ignoreHTTPSErrors: true, // the server's generated self-signed certificate: the admin page takes passwords over HTTPS only
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
let result = { ok: false };
try {
  const page = browser.pages()[0] ?? await browser.newPage();
  const consoleErrors = [];
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(new URL('/admin', baseUrl).href);
  await page.waitForURL(/\/admin\/login$/);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(/\/admin$/), page.click('form.login button')]);
  await page.waitForSelector('#sessions td.jid');
  const sessions = await page.$$eval('#sessions td.jid', cells => cells.map(c => c.textContent));
  // Live counts refresh through /admin/api/stats every 2 s (inline script under the CSP nonce).
  await page.waitForTimeout(2500);
  const liveSessions = await page.textContent('#live-sessions');
  await page.screenshot({ path: screenshot, fullPage: true });
  result = { ok: sessions.includes(expectedJid), sessions, title: await page.title(), consoleErrors, liveSessions };
} catch (e) {
  result = { ok: false, error: String(e && e.stack || e) };
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
