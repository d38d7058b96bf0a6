// Inline completion in a real VS Code (code-server) in headless Chromium: the user types a
// function signature, ghost text appears (screenshot), Esc dismisses it, then typing what
// it predicted (Enter, "return a") keeps the rest on screen (the server answers from its
// cache) and Tab accepts it. Started by test_vscode_completion.py, which checks the disk,
// the fake's request log and the ledger; this script acts and reports what it saw
// (workbench.mjs: start-up, report, env). Every wait is for a condition, under
// HANG_GUARD_MS; the one fixed pause gives a model call that must not happen its chance.
import { HANG_GUARD_MS, readDisk, report, run, step, waitFor } from './workbench.mjs';

// Not a guard: how long a model call for the typed-over prefix gets to show up in the
// fake's log before the suggestion is accepted (the server's debounce is 75 ms). A busy
// machine only makes a call that does happen more likely to be seen late, never a pass.
const NO_CALL_WINDOW_MS = 800;

await run({ viewport: { width: 1000, height: 560 }, waitForFile: 'add.py' }, async ({ page, shot, openFile, editorText }) => {
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
  const ghostText = async () =>
    (await ghost.allInnerTexts()).join('\n').replace(/\u00a0/g, ' ');
  // Ghost text is drawn token by token: compare without whitespace.
  const ghostHas = (text) => async () => (await ghostText()).replace(/\s+/g, '').includes(text);

  const original = readDisk('add.py');
  // The extension's status-bar toggle (it also waits for the extension to activate).
  const status = page.locator('.statusbar-item', { hasText: 'TTA' });
  await status.first().waitFor();
  report.statusItems = await status.allInnerTexts();
  // The server must be running before the provider is asked (it answers [] otherwise):
  // the status bar names the default model once the server answered tta.listModels.
  await page.locator('.statusbar-item', { hasText: 'fake-a' }).first().waitFor();

  step('open add.py');
  await openFile('add.py');

  step('type a signature');
  await page.keyboard.type('def add(a, b):', { delay: 60 });
  await waitFor(ghostHas('returna+b'), HANG_GUARD_MS, 'the ghost text "return a + b"');
  report.signatureGhost = await ghostText();
  await shot('completion-vscode-ghost.png');

  step('Esc dismisses');
  await page.keyboard.press('Escape');
  await waitFor(async () => (await ghost.count()) === 0, HANG_GUARD_MS, 'Esc to dismiss the ghost text')
    .catch(() => undefined);
  report.ghostAfterEscape = await ghost.count();

  step('next line: return');
  await page.keyboard.press('Enter');
  await page.keyboard.type('return ', { delay: 60 });
  await waitFor(ghostHas('a+b'), HANG_GUARD_MS, 'the ghost text "a + b" after "return "');
  report.returnGhost = await ghostText();

  step('type over the suggestion');
  await page.keyboard.type('a', { delay: 60 });
  await page.waitForTimeout(NO_CALL_WINDOW_MS);
  report.ghostAfterTyping = await ghostText();
  await shot('completion-vscode-typing.png');

  step('Tab accepts');
  await page.keyboard.press('Tab');
  await waitFor(async () => (await editorText()).includes('return a + b'), HANG_GUARD_MS, 'Tab to insert the suggestion')
    .catch(() => undefined);
  await page.keyboard.press('Control+S');
  // The test checks the text; this only waits for the save to land.
  report.disk = await waitFor(() => (readDisk('add.py') !== original ? readDisk('add.py') : undefined),
    HANG_GUARD_MS, 'the save').catch(() => readDisk('add.py'));
});
