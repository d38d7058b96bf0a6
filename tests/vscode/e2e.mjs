// Drives a real VS Code (code-server) in headless Chromium through the TTA Codegen
// extension, the way a user would: palette commands, input boxes, the progress
// notification's Cancel button, code lenses, typing, Ctrl+S. Started by
// test_vscode_e2e.py, which checks the files on disk, the logs and the ledger; this
// script only acts and reports what it saw (workbench.mjs: start-up, report, env).
//
// Env (besides workbench.mjs's): KEY (an API key to store with "Set API Key…"),
// REVIEW_BEFORE (review.py after the user typed a line), MEAN_AT (the line where the
// second half of the generated mean() starts), MEAN_WITH (what the user types over it).
import fs from 'node:fs';
import path from 'node:path';
import { HANG_GUARD_MS, SHOTS, readDisk, report, run, step, waitFor } from './workbench.mjs';

const { KEY, MEAN_FROM, MEAN_WITH } = process.env;
const MEAN_LINES = Number(process.env.MEAN_LINES || 1);
// review.py as it is on disk after the user typed a line, before any generation.
const REVIEW_BEFORE = process.env.REVIEW_BEFORE ?? 'x = 1\ny = 2\n';
// Not guards. How long one click on the context menu's item gets to open the input box
// before the loop around it (under HANG_GUARD_MS) clicks again.
const MENU_RETRY_MS = 2000;
// Only for the step screenshots (SHOTS): a tooltip fading out, a toast sliding in.
const HOVER_FADE_MS = 300;
const TOAST_SLIDE_MS = 800;

await run({ waitForFile: 'gen.py' }, async ({ page, input, rows, toasts, shot, palette, answer, openFile, editorText }) => {
  // Review mode ("lens", the server's default): the status message says so; keep the
  // change with its Accept lens (lenses arrive with the next codeLens refresh).
  async function acceptIfPending(done, shotName) {
    const status = (await page.locator('.statusbar-item', { hasText: done }).first().innerText()).trim();
    if (!status.includes('Accept')) {
      if (shotName) await shot(shotName);
      return status;
    }
    const lens = page.locator('.editor-instance .codelens-decoration', { hasText: 'Accept' }).first();
    await lens.waitFor();
    if (shotName) await shot(shotName);
    report.lenses = (await lens.innerText()).trim();
    await lens.locator('a', { hasText: 'Accept' }).first().click();
    await lens.waitFor({ state: 'detached' });
    return status;
  }

  step('status bar shows the default model');
  const status = page.locator('.statusbar-item', { hasText: 'fake-a' }).first();
  await status.waitFor();
  report.statusBar = (await status.innerText()).trim();

  step('set API key');
  await palette('TTA Codegen: Set API Key…');
  await rows.filter({ hasText: 'FAKE_API_KEY' }).first().waitFor();
  await page.keyboard.press('Enter');
  await answer(KEY);
  await toasts.filter({ hasText: 'stored the key for FAKE_API_KEY' }).first().waitFor();
  // The server restarted with the key: wait until it is running again.
  await page.locator('.statusbar-item', { hasText: 'fake-a' }).first().waitFor();

  step('palette lists the commands');
  await openFile('gen.py');
  await palette('TTA Codegen:', { typeOnly: true });
  report.paletteRows = await rows.allInnerTexts();
  await shot('vscode-palette.png');
  await page.keyboard.press('Escape');

  step('context menu offers the selection commands');
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+A');
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click({ button: 'right' });
  const menu = page.locator('.monaco-menu .action-label');
  await menu.filter({ hasText: 'Refine Selection…' }).first().waitFor();
  report.contextMenu = await menu.allInnerTexts();
  await page.keyboard.press('Escape');

  step('generate code');
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await palette('TTA Codegen: Generate Code…');
  await input.waitFor({ state: 'visible' });
  await input.fill('a function add(a, b) that returns the sum');
  await shot('vscode-generate-input.png');
  await page.keyboard.press('Enter');
  await page.locator('.statusbar', { hasText: 'Generation done' }).first().waitFor();
  report.generateStatus = await acceptIfPending('Generation done', 'vscode-result.png');
  const before = readDisk('gen.py');
  await page.keyboard.press('Control+S');
  report.generateDisk = await waitFor(() => {
    const text = readDisk('gen.py');
    return text !== before ? text : undefined;
  }, HANG_GUARD_MS, 'gen.py to be saved');
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
  for (const end = Date.now() + HANG_GUARD_MS; Date.now() < end; ) {
    if (await input.isVisible()) break;
    if (await refineItem.isVisible()) await refineItem.click().catch(() => undefined);
    await input.waitFor({ state: 'visible', timeout: MENU_RETRY_MS }).catch(() => undefined);
  }
  await answer('please add type hints');
  await page.locator('.statusbar', { hasText: 'Refinement done' }).first().waitFor();
  report.refineStatus = await acceptIfPending('Refinement done');
  const beforeRefine = readDisk('gen.py');
  await page.keyboard.press('Control+S');
  report.refineDisk = await waitFor(() => {
    const text = readDisk('gen.py');
    return text !== beforeRefine ? text : undefined;
  }, HANG_GUARD_MS, 'gen.py to be saved after the refinement');

  step('cancel restores the document');
  const original = readDisk('cancel.py');
  await openFile('cancel.py');
  await palette('TTA Codegen: Generate Code…');
  await answer('slow: a long block of assignments');
  await waitFor(async () => (await editorText()).includes('y = 1'), HANG_GUARD_MS, 'streamed text in cancel.py');
  // The notification carries the server's work-done reports ("model · N tokens").
  const progressToast = toasts.filter({ hasText: 'TTA Codegen: Generation' }).filter({ hasText: 'tokens' }).first();
  await progressToast.waitFor();
  report.progressText = (await progressToast.innerText()).replace(/\s+/g, ' ').trim();
  await shot('vscode-progress.png');
  await page.keyboard.press('Control+S');
  report.midDisk = await waitFor(() => {
    const text = readDisk('cancel.py');
    return text !== original && text.includes('y = 1') ? text : undefined;
  }, HANG_GUARD_MS, 'a mid-stream save');
  await progressToast.hover();
  await progressToast.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
  const cancelled = toasts.filter({ hasText: 'cancelled' }).first();
  await cancelled.waitFor();
  report.cancelNotice = (await cancelled.innerText()).replace(/\s+/g, ' ').trim();
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+S');
  report.cancelDisk = await waitFor(() => {
    const text = readDisk('cancel.py');
    return text === original ? text : undefined;
  }, HANG_GUARD_MS, 'cancel.py restored on disk').catch(() => readDisk('cancel.py'));
  report.cancelDom = await editorText();

  // ---- Review: lenses, the diff view, Discard, one undo step, a refused Discard -------
  const reviewEditor = page.locator('.editor-instance .monaco-editor .view-lines').first();
  const lensRow = (text) => page.locator('.editor-instance .codelens-decoration', { hasText: text }).first();
  const clickLens = async (title) => {
    const row = lensRow(title);
    await row.waitFor();
    await row.locator('a', { hasText: title }).first().click();
  };
  // The palette row was clicked right above the tabs: move the pointer off them so no
  // tab tooltip (with the test's temporary path) is in the picture.
  async function noHover() {
    await page.mouse.move(800, 500, { steps: 5 });
    await page.keyboard.press('Escape');
    await page.waitForTimeout(HOVER_FADE_MS);
  }
  async function editorShot(name) {
    if (!SHOTS) return;
    await noHover();
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.locator('.part.editor').first().screenshot({ path: path.join(SHOTS, name) });
  }
  async function saveAndRead(name, expected) {
    await reviewEditor.click();
    await page.keyboard.press('Control+S');
    return waitFor(() => (readDisk(name) === expected ? expected : undefined), HANG_GUARD_MS, `${name} saved as expected`)
      .catch(() => readDisk(name));
  }

  step('review: generate into review.py after typing a line');
  await palette('Notifications: Clear All Notifications');
  await openFile('review.py');
  await page.keyboard.type('y = 2');
  await page.keyboard.press('Enter');
  // The typed line reaches the editor's text a moment after the keys (a busy machine):
  // wait for it, under the hang guard.
  const typed = await waitFor(async () => (await editorText()).includes('y = 2'), HANG_GUARD_MS, 'the typed line')
    .catch(() => false);
  report.reviewTyped = typed;
  await palette('TTA Codegen: Generate Code…');
  await answer('three small helpers');
  await lensRow('Discard').waitFor();
  report.reviewLenses = (await lensRow('Discard').innerText()).replace(/\s+/g, ' ').trim();
  await editorShot('review-vscode-lenses.png');

  step('review: the Diff lens opens a diff editor');
  await clickLens('Diff');
  const diffTab = page.locator('.tabs-container .tab', { hasText: 'original ↔ generated' }).first();
  await diffTab.waitFor();
  await page.locator('.monaco-diff-editor').first().waitFor();
  report.diffTab = ((await diffTab.getAttribute('aria-label')) || (await diffTab.innerText())).trim();
  if (SHOTS) {
    // Let the diff computation paint its inserted-line decorations before the screenshot.
    await page.locator('.monaco-diff-editor .line-insert, .monaco-diff-editor .char-insert').first()
      .waitFor().catch(() => undefined);
    await editorShot('review-vscode-diff.png');
  }
  // Close the diff editor (its tab's close button): its hidden editors would otherwise
  // sit first in the DOM where the next steps look for the text editor.
  await diffTab.hover();
  await diffTab.locator('.tab-actions .action-label').first().click();
  await diffTab.waitFor({ state: 'detached' });

  step('review: Discard restores the original');
  await openFile('review.py');
  await clickLens('Discard');
  await lensRow('Discard').waitFor({ state: 'detached' });
  report.discardDisk = await saveAndRead('review.py', REVIEW_BEFORE);

  step('review: one Ctrl+Z undoes a whole generation');
  await page.keyboard.press('Control+End');
  await palette('TTA Codegen: Generate Code…');
  await answer('three small helpers');
  await lensRow('Discard').waitFor();
  report.regeneratedDom = await editorText();
  // Save the generated text first, so that the check below sees a new save, not the old file.
  await reviewEditor.click();
  await page.keyboard.press('Control+S');
  report.generatedDisk = await waitFor(() => {
    const text = readDisk('review.py');
    return text.includes('def three') ? text : undefined;
  }, HANG_GUARD_MS, 'the generated text saved');
  await page.keyboard.press('Control+Z');
  report.undoDisk = await saveAndRead('review.py', REVIEW_BEFORE);

  step('review: Discard Change (palette) after an edit inside is refused, "Discard anyway" goes ahead');
  await palette('TTA Codegen: Discard Change');
  const refused = toasts.filter({ hasText: 'Discard anyway' }).first();
  await refused.waitFor();
  report.refusedText = (await refused.innerText()).replace(/\s+/g, ' ').trim();
  if (SHOTS) {
    // The editor and the toast below it, once the toast has finished sliding in.
    await refused.locator('.monaco-button', { hasText: 'Discard anyway' }).first().waitFor();
    await page.mouse.move(800, 300, { steps: 5 });
    await page.waitForTimeout(TOAST_SLIDE_MS);
    const box = await page.locator('.part.editor').first().boundingBox();
    const size = page.viewportSize();
    await page.screenshot({
      path: path.join(SHOTS, 'review-vscode-refused.png'),
      clip: { x: box.x, y: box.y, width: box.width, height: size.height - box.y },
    });
  }
  await refused.locator('.monaco-button', { hasText: 'Discard anyway' }).first().click();
  await lensRow('Discard').waitFor({ state: 'detached' });
  report.forcedDisk = await saveAndRead('review.py', REVIEW_BEFORE);

  // ---- Outcomes: Regenerate, Accept, then the user rewrites half of the function ------
  step('outcomes: generate mean(), Regenerate it, Accept');
  await palette('Notifications: Clear All Notifications');
  await openFile('mean.py');
  await palette('TTA Codegen: Generate Code…');
  await answer('a mean function');
  await clickLens('Regenerate');
  await page.locator('.statusbar, .notifications-toasts', { hasText: 'Regeneration done' }).first().waitFor();
  // The change keeps its id through Regenerate: its Accept lens is the new attempt's.
  await clickLens('Accept');
  await lensRow('Accept').waitFor({ state: 'detached' });
  report.meanAcceptedDom = await editorText();

  step('outcomes: type over the second half of mean(), save');
  // Click the first line to rewrite; Home puts the cursor on its first non-blank; select
  // to the end of the last line to rewrite, and type over it.
  await page.locator('.editor-instance .view-line', { hasText: MEAN_FROM }).first().click();
  await page.keyboard.press('Home');
  for (let i = 1; i < MEAN_LINES; i++) await page.keyboard.press('Shift+ArrowDown');
  await page.keyboard.press('Shift+End');
  await page.keyboard.type(MEAN_WITH, { delay: 20 });
  await page.keyboard.press('Control+S');
  report.meanDisk = await waitFor(() => {
    const text = readDisk('mean.py');
    return text.includes(MEAN_WITH) ? text : undefined;
  }, HANG_GUARD_MS, 'mean.py saved after the rewrite');
});
