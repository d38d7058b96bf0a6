// Inline completion in a real VS Code (code-server) in headless Chromium: the user types a
// function signature, ghost text appears (screenshot), Esc dismisses it, then typing what
// it predicted (Enter, "return a") keeps the rest on screen (the server answers from its
// cache) and Tab accepts it. Started by test_vscode_completion.py, which checks the disk,
// the fake's request log and the ledger; this script acts and reports what it saw
// (workbench.mjs: start-up, report, env).
import { readDisk, report, run, step } from './workbench.mjs';

await run({ viewport: { width: 1000, height: 560 }, waitForFile: 'add.py' }, async ({ page, shot, openFile }) => {
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
  const ghostText = async () =>
    (await ghost.allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');

  // The extension's status-bar toggle (it also waits for the extension to activate).
  const status = page.locator('.statusbar-item', { hasText: 'TTA' });
  await status.first().waitFor();
  report.statusItems = await status.allInnerTexts();

  step('open add.py');
  await openFile('add.py');
  // The server must be running before the provider is asked (it answers [] otherwise).
  await page.waitForTimeout(3000);

  step('type a signature');
  await page.keyboard.type('def add(a, b):', { delay: 60 });
  await ghost.first().waitFor({ state: 'visible', timeout: 30000 });
  await page.waitForTimeout(300);
  report.signatureGhost = await ghostText();
  await shot('completion-vscode-ghost.png');

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
  await shot('completion-vscode-typing.png');

  step('Tab accepts');
  await page.keyboard.press('Tab');
  await page.waitForTimeout(300);
  await page.keyboard.press('Control+S');
  await page.waitForTimeout(1000);
  report.disk = readDisk('add.py');
  // Give the acceptance report (executeCommand) time to reach the server.
  await page.waitForTimeout(1000);
});
