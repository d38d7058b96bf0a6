// One start-up for every VS Code driver script (e2e.mjs, completion_e2e.mjs): headless
// Chromium on the workbench the Python harness (harness.py) started, the selectors and
// the few gestures every script uses, and the JSON report on the last stdout line.
//
// Env: URL (code-server), WS (workspace folder), PW (dir with node_modules/playwright-core),
// CHROMIUM (browser binary), SHOTS (optional: dir for the step screenshots),
// FAILURE_SHOTS (optional: dir for the screenshot of a failure; SHOTS if set), HANG_GUARD_MS (every
// wait's limit; from tests/guards.py, 10x and more what a step takes on an idle machine,
// and Playwright's default timeout). Waits are hang guards, never speed checks.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export const { URL, WS, PW, CHROMIUM, SHOTS } = process.env;
const FAILURE_SHOTS = SHOTS || process.env.FAILURE_SHOTS;
export const HANG_GUARD_MS = Number(process.env.HANG_GUARD_MS || 60000);
const { chromium } = createRequire(path.join(PW, 'x.js'))('playwright-core');

export const report = { steps: [], errors: [] };

const started = Date.now();

export function step(name) {
  report.steps.push(name);
  process.stderr.write(`[e2e +${((Date.now() - started) / 1000).toFixed(1)} s] ${name}\n`);
}

export async function waitFor(predicate, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const readDisk = (name) => fs.readFileSync(path.join(WS, name), 'utf8');

/**
 * Opens the workbench on WS, runs `body(ui)` and writes the report; a failure inside is
 * reported (with a screenshot), never thrown, so the test sees what was reached.
 * `ui`: page, input, rows, toasts, shot, palette, answer, openFile, editor, editorText.
 */
export async function run({ viewport = { width: 1200, height: 720 }, waitForFile }, body) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  let page;
  try {
    page = await browser.newPage({ viewport });
    page.setDefaultTimeout(HANG_GUARD_MS);
    const input = page.locator('.quick-input-widget .quick-input-box input');
    const rows = page.locator('.quick-input-widget .monaco-list-row');
    const toasts = page.locator('.notifications-toasts .notification-list-item');
    const editor = page.locator('.editor-instance .monaco-editor .view-lines').first();

    async function shot(name) {
      if (SHOTS) {
        fs.mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SHOTS, name) });
      }
    }

    async function palette(label, { typeOnly = false } = {}) {
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible' });
      await input.fill('>' + label);
      await rows.filter({ hasText: label }).first().waitFor();
      if (!typeOnly) await rows.filter({ hasText: label }).first().click();
    }

    async function answer(text) {
      await input.waitFor({ state: 'visible' });
      await input.fill(text);
      await page.keyboard.press('Enter');
    }

    // Quick Open, WAIT for the result row, then Enter; the cursor ends at the file's end.
    async function openFile(name) {
      await page.keyboard.press('Control+P');
      await input.waitFor({ state: 'visible' });
      await input.fill(name);
      await rows.filter({ hasText: name }).first().waitFor();
      await page.keyboard.press('Enter');
      await page.locator(`.tabs-container .tab[aria-label*="${name}"]`).first().waitFor();
      await editor.click();
      await page.keyboard.press('Control+End');
    }

    // The visible lines only, U+00A0 for spaces: assert on the disk after a save instead
    // when the exact text matters.
    const editorText = async () => (await editor.innerText()).replace(/\u00a0/g, ' ');

    step('load workbench');
    await page.goto(`${URL}/?folder=${encodeURIComponent(WS)}`);
    await page.locator('.monaco-workbench').waitFor();
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: waitForFile }).first().waitFor();
    await body({ page, input, rows, toasts, shot, palette, answer, openFile, editor, editorText });
  } catch (error) {
    report.failure = String(error && error.stack ? error.stack : error);
    if (page && FAILURE_SHOTS) {
      fs.mkdirSync(FAILURE_SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(FAILURE_SHOTS, 'failure.png') }).catch(() => undefined);
    }
  } finally {
    if (page) {
      report.errors = await page
        .locator('.notifications-toasts .notification-list-item:has(.codicon-error) .notification-list-item-message')
        .allInnerTexts()
        .catch(() => []);
    }
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}
