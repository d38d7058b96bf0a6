// Inline completion in a real VS Code (code-server) in headless Chromium: the user types a
// function signature, ghost text appears (screenshot), Esc dismisses it, then typing what
// it predicted (Enter, "return a") keeps the rest on screen (the server answers from its
// cache) and Tab accepts it. Started by test_vscode_completion.py, which checks the disk and the fake's
// request log; this script acts and reports what it saw as JSON on its last stdout line.
//
// Env: URL, WS, PW, CHROMIUM as for e2e.mjs; SHOTS (optional screenshots dir).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const { URL, WS, PW, CHROMIUM, SHOTS } = process.env;
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

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
let page;
try {
  page = await browser.newPage({ viewport: { width: 1000, height: 560 } });
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const rows = page.locator('.quick-input-widget .monaco-list-row');
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
  const ghostText = async () =>
    (await ghost.allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');

  step('load');
  await page.goto(`${URL}/?folder=${encodeURIComponent(WS)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'add.py' }).first().waitFor({ timeout: 60000 });
  // The extension's status-bar toggle (it also waits for the extension to activate).
  const status = page.locator('.statusbar-item', { hasText: 'TTA' });
  await status.first().waitFor({ timeout: 60000 });
  report.statusItems = await status.allInnerTexts();

  step('open add.py');
  await page.keyboard.press('Control+P');
  await input.waitFor({ state: 'visible' });
  await input.fill('add.py');
  await rows.filter({ hasText: 'add.py' }).first().waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab[aria-label*="add.py"]').first().waitFor();
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  // The server must be running before the provider is asked (it answers [] otherwise).
  await page.waitForTimeout(3000);

  step('type a signature');
  await page.keyboard.type('def add(a, b):', { delay: 60 });
  await ghost.first().waitFor({ state: 'visible', timeout: 30000 });
  await page.waitForTimeout(300);
  report.signatureGhost = await ghostText();
  await shot(page, 'completion-vscode-ghost.png');

  step('Esc dismisses');
  await page.keyboard.press('Escape');
  await page.waitForTimeout(500);
  report.ghostAfterEscape = await ghost.count();

  step('next line: return');
  await page.keyboard.press('Enter');
  await page.keyboard.type('return ', { delay: 60 });
  // Ghost text is drawn token by token: compare without whitespace.
  const end = Date.now() + 30000;
  while (!(await ghostText()).replace(/\s+/g, '').includes('a+b')) {
    if (Date.now() > end) throw new Error('no ghost text "a + b" after "return "');
    await page.waitForTimeout(100);
  }
  report.returnGhost = await ghostText();

  step('type over the suggestion');
  await page.keyboard.type('a', { delay: 60 });
  await page.waitForTimeout(800);
  report.ghostAfterTyping = await ghostText();
  await shot(page, 'completion-vscode-typing.png');

  step('Tab accepts');
  await page.keyboard.press('Tab');
  await page.waitForTimeout(300);
  await page.keyboard.press('Control+S');
  await page.waitForTimeout(1000);
  report.disk = fs.readFileSync(path.join(WS, 'add.py'), 'utf8');
  // Give the acceptance report (executeCommand) time to reach the server.
  await page.waitForTimeout(1000);
} catch (err) {
  report.failure = String(err && err.stack ? err.stack : err);
  if (page) await shot(page, 'completion-failure.png').catch(() => {});
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + '\n');
