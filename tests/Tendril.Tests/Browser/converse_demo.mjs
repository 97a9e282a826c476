// converse.js (Tendril's /demo/ page) in headless Chromium: logs in over WebSocket or BOSH, sends TEXT to PEER
// through converse's chat box, waits for PEER's "pong: TEXT" reply in converse's chat DOM, then (still logged in)
// opens the admin page in a second tab and reads the session list. Screenshots of both go to SCREENSHOT_DIR.
// Usage: node converse_demo.mjs BASE_URL websocket|bosh JID PASSWORD PEER TEXT ADMIN_USER ADMIN_PASSWORD SCREENSHOT_DIR
// Prints one JSON line: { ok, jid, reply, sessions: [{ jid, transport }], consoleErrors, external, failed }. Exit code 0
// when ok. external: every request of the demo tab to another origin (CSP-blocked ones included: it asked);
// failed: same-origin requests answered 4xx/5xx (a missing asset).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [baseUrl, transport, jid, password, peer, text, adminUser, adminPassword, screenshotDir] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'tendril-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1200, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
let result = { ok: false, transport };
const consoleErrors = [], external = [], failed = [], pending = [];
let page;
try {
  page = browser.pages()[0] ?? await browser.newPage();
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
  const origin = new URL(baseUrl).origin;
  page.on('request', r => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.origin !== origin && u.origin.replace(/^ws/, 'http') !== origin) external.push(r.url());
  });
  page.on('response', r => { if (r.status() >= 400 && new URL(r.url()).origin === origin) failed.push(`${r.status()} ${r.url()}`); });
  // Requests in flight, to wait for a quiet network ourselves: Playwright's 'networkidle' timed out once on a loaded CI
  // machine without saying what was still loading. Quiet = nothing in flight for 500 ms; past the deadline the
  // pending URLs go into the result (a same-origin long poll is not a failure; every external request is already in
  // `external`, recorded when asked).
  const inflight = new Set();
  let lastChange = Date.now();
  page.on('request', r => { inflight.add(r); lastChange = Date.now(); });
  for (const ev of ['requestfinished', 'requestfailed']) page.on(ev, r => { inflight.delete(r); lastChange = Date.now(); });
  const quiet = async (label, deadlineMs = 30000) => {
    const end = Date.now() + deadlineMs;
    while (Date.now() < end) {
      if (inflight.size === 0 && Date.now() - lastChange >= 500) return;
      await new Promise(res => setTimeout(res, 100));
    }
    for (const r of inflight) pending.push(`${label}: ${r.method()} ${r.url()}`);
  };
  // First the login form as a new user sees it (converse's fullscreen login page, footer included), until the network is idle.
  await page.goto(new URL('demo/', baseUrl).href);
  await page.locator('converse-login-form, form.converse-form').first().waitFor({ timeout: 30000 });
  await quiet('login form');
  const url = new URL('demo/', baseUrl);
  url.search = new URLSearchParams({ transport, jid, password, test: '1' }).toString();
  await page.goto(url.href);
  await page.waitForFunction(() => window.tendrilDemo && window.tendrilDemo.connected, null, { timeout: 45000 });
  const boundJid = await page.evaluate(() => window.tendrilDemo.api.user.jid());

  // Open a chat with the peer (not in juliet's roster: allow_non_roster_messaging) and type the message.
  await page.evaluate(p => window.tendrilDemo.api.chats.open(p, {}, true), peer);
  const textarea = page.locator('textarea.chat-textarea').first();
  await textarea.waitFor({ timeout: 20000 });
  await textarea.fill(text);
  await textarea.press('Enter');
  const reply = page.locator('.chat-msg__text', { hasText: 'pong: ' + text }).first();
  await reply.waitFor({ timeout: 30000 });
  const replyText = (await reply.textContent()).trim();
  await page.screenshot({ path: join(screenshotDir, `converse-${transport}.png`) });

  // The admin page, in another tab while this session is still online.
  const admin = await browser.newPage();
  await admin.goto(new URL('/admin', baseUrl).href);
  await admin.waitForURL(/\/admin\/login$/);
  await admin.fill('input[name=user]', adminUser);
  await admin.fill('input[name=password]', adminPassword);
  await Promise.all([admin.waitForURL(/\/admin$/), admin.click('form.login button')]);
  await admin.waitForSelector('#sessions td.jid');
  const sessions = await admin.$$eval('#sessions tr', rows => rows
    .filter(r => r.querySelector('td.jid'))
    .map(r => ({ jid: r.querySelector('td.jid').textContent, transport: r.children[1].textContent })));
  await admin.screenshot({ path: join(screenshotDir, `admin-with-converse-${transport}.png`), fullPage: true });
  // What converse loads once logged in (OMEMO's wasm…); BOSH keeps a request open, so only WebSocket gets idle.
  if (transport === 'websocket') await quiet('logged in');
  result = { ok: sessions.some(s => s.jid === boundJid), transport, jid: boundJid, reply: replyText, sessions, consoleErrors, external, failed, pending };
} catch (e) {
  result = { ok: false, transport, error: String(e && e.stack || e), consoleErrors, external, failed, pending };
  if (page) await page.screenshot({ path: join(screenshotDir, `converse-${transport}-failed.png`) }).catch(() => {});
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
