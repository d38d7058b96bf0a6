// Drives a real VS Code (code-server) in headless Chromium through the TTA Codegen
// extension, the way a user would: palette commands, input boxes, the progress
// notification's Cancel button, Ctrl+S. Started by test_vscode_e2e.py, which checks the
// files on disk and the logs; this script only acts and reports what it saw as JSON on
// its last stdout line.
//
// Env: URL (code-server), WS (workspace folder), PW (dir with node_modules/playwright-core),
// CHROMIUM (browser binary), KEY (an API key to store with "Set API Key…"),
// SHOTS (optional: dir for screenshots).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const { URL, WS, PW, CHROMIUM, KEY, SHOTS } = process.env;
const { chromium } = createRequire(path.join(PW, 'x.js'))('playwright-core');

const report = { steps: [], errors: [] };
const step = (name) => {
  report.steps.push(name);
  process.stderr.write(`[e2e] ${name}\n`);
};

async function shot(page, name) {
  if (SHOTS) {
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, name) });
  }
}

async function waitFor(predicate, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const readDisk = (name) => fs.readFileSync(path.join(WS, name), 'utf8');

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
let page;
try {
  page = await browser.newPage({ viewport: { width: 1200, height: 720 } });
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const rows = page.locator('.quick-input-widget .monaco-list-row');
  const toasts = page.locator('.notifications-toasts .notification-list-item');

  async function palette(label, { typeOnly = false } = {}) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible' });
    await input.fill('>' + label);
    await rows.filter({ hasText: label }).first().waitFor({ timeout: 30000 });
    if (!typeOnly) await rows.filter({ hasText: label }).first().click();
  }

  async function answer(text) {
    await input.waitFor({ state: 'visible' });
    await input.fill(text);
    await page.keyboard.press('Enter');
  }

  async function openFile(name) {
    await page.keyboard.press('Control+P');
    await input.waitFor({ state: 'visible' });
    await input.fill(name);
    await rows.filter({ hasText: name }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator(`.tabs-container .tab[aria-label*="${name}"]`).first().waitFor();
    await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+End');
  }

  // Review mode ("lens", the server's default): the status message says so; keep the
  // change with its Accept lens (lenses arrive with the next codeLens refresh).
  async function acceptIfPending(done, shotName) {
    const status = (await page.locator('.statusbar-item', { hasText: done }).first().innerText()).trim();
    if (!status.includes('Accept')) {
      if (shotName) await shot(page, shotName);
      return status;
    }
    const lens = page.locator('.editor-instance .codelens-decoration', { hasText: 'Accept' }).first();
    await lens.waitFor({ timeout: 30000 });
    if (shotName) await shot(page, shotName);
    report.lenses = (await lens.innerText()).trim();
    await lens.locator('a', { hasText: 'Accept' }).first().click();
    await lens.waitFor({ state: 'detached', timeout: 30000 });
    return status;
  }

  const editorText = async () =>
    (await page.locator('.editor-instance .monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ');

  step('load workbench');
  await page.goto(`${URL}/?folder=${encodeURIComponent(WS)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'gen.py' }).first().waitFor({ timeout: 60000 });

  step('status bar shows the default model');
  const status = page.locator('.statusbar-item', { hasText: 'fake-a' }).first();
  await status.waitFor({ timeout: 90000 });
  report.statusBar = (await status.innerText()).trim();

  step('set API key');
  await palette('TTA Codegen: Set API Key…');
  await rows.filter({ hasText: 'FAKE_API_KEY' }).first().waitFor();
  await page.keyboard.press('Enter');
  await answer(KEY);
  await toasts.filter({ hasText: 'stored the key for FAKE_API_KEY' }).first().waitFor({ timeout: 60000 });
  // The server restarted with the key: wait until it is running again.
  await page.locator('.statusbar-item', { hasText: 'fake-a' }).first().waitFor({ timeout: 60000 });

  step('palette lists the commands');
  await openFile('gen.py');
  await palette('TTA Codegen:', { typeOnly: true });
  report.paletteRows = await rows.allInnerTexts();
  await shot(page, 'vscode-palette.png');
  await page.keyboard.press('Escape');

  step('context menu offers the selection commands');
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+A');
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click({ button: 'right' });
  const menu = page.locator('.monaco-menu .action-label');
  await menu.filter({ hasText: 'Refine Selection…' }).first().waitFor({ timeout: 15000 });
  report.contextMenu = await menu.allInnerTexts();
  await page.keyboard.press('Escape');

  step('generate code');
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await palette('TTA Codegen: Generate Code…');
  await input.waitFor({ state: 'visible' });
  await input.fill('a function add(a, b) that returns the sum');
  await shot(page, 'vscode-generate-input.png');
  await page.keyboard.press('Enter');
  await page.locator('.statusbar', { hasText: 'Generation done' }).first().waitFor({ timeout: 90000 });
  report.generateStatus = await acceptIfPending('Generation done', 'vscode-result.png');
  const before = readDisk('gen.py');
  await page.keyboard.press('Control+S');
  report.generateDisk = await waitFor(() => {
    const text = readDisk('gen.py');
    return text !== before ? text : undefined;
  }, 20000, 'gen.py to be saved');
  report.generateDom = await editorText();

  step('refine the selection from the context menu');
  // Select lines 3-4 (the function): click into `def`, Home, Shift+Down twice.
  const defToken = page.locator('.editor-instance .view-line', { hasText: 'def add' }).first().locator('span span').first();
  await defToken.click();
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+ArrowDown');
  await page.keyboard.press('Shift+ArrowDown');
  // Right-click on the text itself: elsewhere Monaco may drop the selection.
  await defToken.click({ button: 'right' });
  // Monaco's context menu sometimes ignores the first click while it settles: retry.
  const refineItem = menu.filter({ hasText: 'Refine Selection…' }).first();
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await input.isVisible()) break;
    if (await refineItem.isVisible()) await refineItem.click().catch(() => undefined);
    await input.waitFor({ state: 'visible', timeout: 2000 }).catch(() => undefined);
  }
  await answer('please add type hints');
  await page.locator('.statusbar', { hasText: 'Refinement done' }).first().waitFor({ timeout: 90000 });
  report.refineStatus = await acceptIfPending('Refinement done');
  const beforeRefine = readDisk('gen.py');
  await page.keyboard.press('Control+S');
  report.refineDisk = await waitFor(() => {
    const text = readDisk('gen.py');
    return text !== beforeRefine ? text : undefined;
  }, 20000, 'gen.py to be saved after the refinement');

  step('cancel restores the document');
  const original = readDisk('cancel.py');
  await openFile('cancel.py');
  await palette('TTA Codegen: Generate Code…');
  await answer('slow: a long block of assignments');
  await waitFor(async () => (await editorText()).includes('y = 1'), 60000, 'streamed text in cancel.py');
  // The notification carries the server's work-done reports ("model · N tokens").
  const progressToast = toasts.filter({ hasText: 'TTA Codegen: Generation' }).filter({ hasText: 'tokens' }).first();
  await progressToast.waitFor({ timeout: 30000 });
  report.progressText = (await progressToast.innerText()).replace(/\s+/g, ' ').trim();
  await shot(page, 'vscode-progress.png');
  await page.keyboard.press('Control+S');
  report.midDisk = await waitFor(() => {
    const text = readDisk('cancel.py');
    return text !== original && text.includes('y = 1') ? text : undefined;
  }, 20000, 'a mid-stream save');
  await progressToast.hover();
  await progressToast.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
  const cancelled = toasts.filter({ hasText: 'cancelled' }).first();
  await cancelled.waitFor({ timeout: 30000 });
  report.cancelNotice = (await cancelled.innerText()).replace(/\s+/g, ' ').trim();
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+S');
  report.cancelDisk = await waitFor(() => {
    const text = readDisk('cancel.py');
    return text === original ? text : undefined;
  }, 20000, 'cancel.py restored on disk').catch(() => readDisk('cancel.py'));
  report.cancelDom = await editorText();
} catch (error) {
  report.failure = String(error && error.stack ? error.stack : error);
  if (page) await shot(page, 'failure.png').catch(() => undefined);
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
