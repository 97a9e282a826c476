// Group chat between two converse.js sessions (Tendril's /demo/ page) in headless Chromium: A logs in and opens ROOM
// (converse creates it: an instant room), B logs in and enters it, A sends TEXT through the room's text area, B waits
// for it in the room's message list and answers "re: TEXT", which A waits for. Screenshots go to SCREENSHOT_DIR.
// Usage: node converse_muc.mjs BASE_URL ROOM JID_A PASSWORD_A NICK_A JID_B PASSWORD_B NICK_B TEXT SCREENSHOT_DIR
// Prints one JSON line: { ok, a: {...}, b: {...}, consoleErrors }. Exit code 0 when ok.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [baseUrl, room, jidA, pwA, nickA, jidB, pwB, nickB, text, screenshotDir] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const consoleErrors = [], recent = [];
const browsers = [];

async function login(jid, password, label) {
  const profile = mkdtempSync(join(tmpdir(), 'tendril-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  browsers.push({ browser, profile });
  const page = browser.pages()[0] ?? await browser.newPage();
  page.on('console', m => {
    if (m.type() === 'error') consoleErrors.push(`${label}: ${m.text()}`);
    recent.push(`${label} ${m.type()}: ${m.text().slice(0, 600)}`);
    if (recent.length > 60) recent.shift();
  });
  page.on('pageerror', e => consoleErrors.push(`${label}: ${e}`));
  const url = new URL('demo/', baseUrl);
  url.search = new URLSearchParams({ transport: 'websocket', jid, password, test: '1' }).toString();
  await page.goto(url.href);
  await page.waitForFunction(() => window.tendrilDemo && window.tendrilDemo.connected, null, { timeout: 45000 });
  return page;
}

// Opens the room in converse and waits until converse shows it entered (its text area is there).
async function enter(page, nick) {
  await page.evaluate(([r, n]) => window.tendrilDemo.api.rooms.open(r, { nick: n }, true), [room, nick]);
  // converse's api.rooms.get is async; ROOMSTATUS.ENTERED is 5.
  await page.waitForFunction(async r => {
    const muc = await window.tendrilDemo.api.rooms.get(r);
    return !!(muc && muc.session && muc.session.get('connection_status') === 5);
  }, room, { timeout: 30000 });
  const textarea = page.locator('converse-muc textarea.chat-textarea').first();
  await textarea.waitFor({ timeout: 20000 });
  return textarea;
}

let result = { ok: false };
try {
  const a = await login(jidA, pwA, 'A');
  const textareaA = await enter(a, nickA);
  const b = await login(jidB, pwB, 'B');
  const textareaB = await enter(b, nickB);

  // A sees B enter (converse lists occupants), then the messages go both ways.
  await a.waitForFunction(async ([r, n]) => !!(await window.tendrilDemo.api.rooms.get(r))?.getOccupantByNickname?.(n), [room, nickB], { timeout: 20000 });
  await textareaA.fill(text);
  await textareaA.press('Enter');
  const atB = b.locator('converse-muc .chat-msg__text', { hasText: text }).first();
  await atB.waitFor({ timeout: 30000 });
  const reply = 're: ' + text;
  await textareaB.fill(reply);
  await textareaB.press('Enter');
  const atA = a.locator('converse-muc .chat-msg__text', { hasText: reply }).first();
  await atA.waitFor({ timeout: 30000 });
  await a.screenshot({ path: join(screenshotDir, 'converse-muc-a.png') });
  await b.screenshot({ path: join(screenshotDir, 'converse-muc-b.png') });
  const info = await a.evaluate(async r => {
    const muc = await window.tendrilDemo.api.rooms.get(r);
    return { occupants: muc.occupants.map(o => o.get('nick')).sort(), features: Object.keys(muc.features?.attributes ?? {}).filter(k => muc.features.get(k) === true).sort() };
  }, room);
  result = { ok: true, a: { got: (await atA.textContent()).trim(), ...info }, b: { got: (await atB.textContent()).trim() }, consoleErrors };
} catch (e) {
  result = { ok: false, error: String(e && e.stack || e), consoleErrors, recent };
} finally {
  for (const { browser, profile } of browsers) {
    await browser.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
