import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  diffTitle,
  failureReason,
  originalId,
  originalUriParts,
  parseDiff,
  parsePending,
  parseRefusal,
  pendingAtCursor,
  PendingInfo,
  sameUri,
  singleDocumentEdit,
  UndoGroups,
} from '../src/review';

const range = (l1: number, c1: number, l2: number, c2: number) => ({
  start: { line: l1, character: c1 },
  end: { line: l2, character: c2 },
});

test('a refused discard becomes its message and a "Discard anyway" action with force', () => {
  const r = parseRefusal({
    status: 'refused',
    id: 'chg-1',
    message: 'You edited inside the generated code (lines 3-4) since it was written.',
    actions: [{ title: 'Discard anyway', command: 'tta.discard', arguments: [{ id: 'chg-1', force: true }] }],
  });
  assert.deepEqual(r, {
    id: 'chg-1',
    message: 'You edited inside the generated code (lines 3-4) since it was written.',
    actions: [{ title: 'Discard anyway', command: 'tta.discard', argument: { id: 'chg-1', force: true } }],
  });
});

test('a busy refusal has a message and no buttons; broken actions are dropped', () => {
  assert.deepEqual(parseRefusal({ status: 'refused', id: 'x', message: 'the pending change is regenerating' }), {
    id: 'x',
    message: 'the pending change is regenerating',
    actions: [],
  });
  const r = parseRefusal({ status: 'refused', actions: [{ title: 'no command' }, 'junk', { command: 'tta.discard' }] });
  assert.equal(r?.message, 'the server refused without saying why');
  assert.deepEqual(r?.actions, [{ title: 'tta.discard', command: 'tta.discard', argument: {} }]);
});

test('answers that are not refusals are not taken for one', () => {
  assert.equal(parseRefusal({ status: 'discarded', id: 'x' }), undefined);
  assert.equal(parseRefusal(null), undefined);
  assert.equal(parseRefusal([{ status: 'refused' }]), undefined);
  assert.equal(failureReason({ status: 'failed', id: 'x', error: 'the editor refused: stale' }), 'the editor refused: stale');
  assert.equal(failureReason({ status: 'failed' }), 'the server gave no reason');
  assert.equal(failureReason({ status: 'discarded' }), undefined);
});

test('the diff answer is read with original_document for the side-by-side view', () => {
  const d = parseDiff({
    id: 'chg-1',
    uri: 'file:///w/gen.py',
    range: range(2, 0, 4, 0),
    diff: '--- a/gen.py\n+++ b/gen.py\n',
    original: '',
    current: 'def add(a, b):\n    return a + b\n',
    original_document: 'import math\n\n',
  });
  assert.equal(d?.originalDocument, 'import math\n\n');
  assert.deepEqual(d?.range, range(2, 0, 4, 0));
  assert.equal(parseDiff({ id: 'x', uri: 'file:///a', range: range(0, 0, 0, 0) }), undefined);
});

test('virtual original documents keep the file path (language, name) and carry the change id', () => {
  const parts = originalUriParts('file:///home/me/proj/gen.py', 'chg-1');
  assert.deepEqual(parts, { scheme: 'tta-original', path: '/home/me/proj/gen.py', query: 'id=chg-1' });
  assert.equal(originalId(parts.query), 'chg-1');
  // Percent-encoded paths are decoded once (vscode.Uri.from encodes them again).
  assert.equal(originalUriParts('file:///w/my%20file.py', 'a').path, '/w/my file.py');
  assert.equal(originalUriParts('untitled:Untitled-1', 'a').path, '/Untitled-1');
  assert.equal(originalId('x=1&id=chg%2F2'), 'chg/2');
  assert.equal(originalId('x=1'), undefined);
  assert.equal(diffTitle('file:///w/src/gen.py'), 'gen.py (original ↔ generated)');
});

const pending: PendingInfo[] = parsePending([
  { id: 'a', uri: 'file:///w/gen.py', range: range(2, 0, 4, 0), command: 'tta.generate', model: 'fake-a' },
  { id: 'b', uri: 'file:///w/gen.py', range: range(10, 0, 12, 0), command: 'tta.refine', model: null },
  { id: 'c', uri: 'file:///w/other.py', range: range(0, 0, 1, 0), command: 'tta.generate', model: 'fake-a' },
  { id: 'broken', uri: 'file:///w/gen.py' },
  'junk',
]);

test('listPending answers are parsed, malformed entries skipped', () => {
  assert.deepEqual(
    pending.map((p) => p.id),
    ['a', 'b', 'c'],
  );
  assert.equal(pending[1]?.model, null);
});

test('the pending change at the cursor is the one whose lines hold it', () => {
  assert.deepEqual(pendingAtCursor(pending, 'file:///w/gen.py', { line: 3, character: 5 }), { change: pending[0] });
  assert.deepEqual(pendingAtCursor(pending, 'file:///w/gen.py', { line: 10, character: 0 }), { change: pending[1] });
  // A region ending at column 0 does not own that line.
  const between = pendingAtCursor(pending, 'file:///w/gen.py', { line: 4, character: 0 });
  assert.ok('error' in between && between.error.includes('lines 3, 11'), JSON.stringify(between));
});

test('with one pending change in the file it is chosen wherever the cursor is', () => {
  assert.deepEqual(pendingAtCursor(pending, 'file:///w/other.py', { line: 40, character: 0 }), { change: pending[2] });
  const none = pendingAtCursor(pending, 'file:///w/none.py', { line: 0, character: 0 });
  assert.ok('error' in none && none.error.includes('no pending change'));
});

test('URIs match across percent-encoding differences', () => {
  assert.ok(sameUri('file:///c%3A/w/a.py', 'file:///c:/w/a.py'));
  assert.ok(!sameUri('file:///w/a.py', 'file:///w/b.py'));
  const list = parsePending([{ id: 'z', uri: 'file:///c%3A/w/a.py', range: range(0, 0, 2, 0) }]);
  assert.deepEqual(pendingAtCursor(list, 'file:///c:/w/a.py', { line: 1, character: 0 }), { change: list[0] });
});

test('a generation is one undo step: a stop before its first edit, none between', () => {
  const g = new UndoGroups();
  assert.equal(g.options('file:///a'), undefined, 'outside a generation VS Code decides');
  g.begin();
  assert.deepEqual(g.options('file:///a'), { undoStopBefore: true, undoStopAfter: false });
  g.applied('file:///a');
  assert.deepEqual(g.options('file:///a'), { undoStopBefore: false, undoStopAfter: false });
  assert.deepEqual(g.options('file:///b'), { undoStopBefore: true, undoStopAfter: false }, 'per document');
  g.applied('file:///a');
  assert.equal(g.end(), 2, 'the closed group counts its edits');
  assert.equal(g.active, false);
  g.begin();
  assert.deepEqual(g.options('file:///a'), { undoStopBefore: true, undoStopAfter: false }, 'a new generation, a new step');
});

test('the user typing mid-generation makes our next edit start a new step', () => {
  const g = new UndoGroups();
  g.begin();
  g.applied('file:///a');
  g.interrupted('file:///a');
  assert.equal(g.options('file:///a')?.undoStopBefore, true);
});

test('overlapping generations keep their groups until the last one ends', () => {
  const g = new UndoGroups();
  g.begin();
  g.begin();
  g.applied('file:///a');
  assert.equal(g.end(), 0, 'still open: another generation runs');
  assert.equal(g.options('file:///a')?.undoStopBefore, false);
  assert.equal(g.end(), 1);
  assert.equal(g.end(), 0, 'an extra end never goes negative');
  assert.equal(g.active, false);
  g.begin();
  assert.equal(g.options('file:///a')?.undoStopBefore, true);
});

test("the server's streaming edit (versioned, one document) is applied by us", () => {
  const edit = {
    documentChanges: [
      {
        textDocument: { uri: 'file:///w/gen.py', version: 7 },
        edits: [{ range: range(2, 0, 2, 0), newText: 'def add(a, b):\n' }],
      },
    ],
  };
  assert.deepEqual(singleDocumentEdit(edit), {
    uri: 'file:///w/gen.py',
    version: 7,
    edits: [{ range: range(2, 0, 2, 0), newText: 'def add(a, b):\n' }],
  });
  assert.deepEqual(singleDocumentEdit({ changes: { 'file:///w/a.py': [{ range: range(0, 0, 0, 1), newText: '' }] } }), {
    uri: 'file:///w/a.py',
    version: null,
    edits: [{ range: range(0, 0, 0, 1), newText: '' }],
  });
});

test('resource operations, several documents and annotated edits go to the default handler', () => {
  assert.equal(singleDocumentEdit({ documentChanges: [{ kind: 'delete', uri: 'file:///w/t.py' }] }), undefined);
  assert.equal(
    singleDocumentEdit({ changes: { 'file:///a': [], 'file:///b': [] } }),
    undefined,
  );
  assert.equal(
    singleDocumentEdit({
      documentChanges: [
        { textDocument: { uri: 'file:///a', version: 1 }, edits: [{ range: range(0, 0, 0, 0), newText: 'x', annotationId: 'n' }] },
      ],
    }),
    undefined,
  );
  assert.equal(singleDocumentEdit(null), undefined);
});
