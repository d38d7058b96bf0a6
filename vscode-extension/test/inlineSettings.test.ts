import assert from 'node:assert/strict';
import { test } from 'node:test';
import { enabledFor, itemText, toInlineSettings } from '../src/inlineSettings';

function settings(values: Record<string, unknown>) {
  return toInlineSettings((key) => values[key]);
}

test('on by default for every language but those turned off', () => {
  const s = settings({ 'inlineCompletion.languages': { '*': true, markdown: false } });
  assert.equal(enabledFor(s, 'python'), true);
  assert.equal(enabledFor(s, 'markdown'), false);
});

test('the global switch wins over the language map', () => {
  const s = settings({ 'inlineCompletion.enabled': false, 'inlineCompletion.languages': { python: true } });
  assert.equal(enabledFor(s, 'python'), false);
});

test('"*": false limits it to the languages listed', () => {
  const s = settings({ 'inlineCompletion.languages': { '*': false, go: true, rust: 'yes' } });
  assert.equal(enabledFor(s, 'go'), true);
  assert.equal(enabledFor(s, 'python'), false);
  assert.equal(enabledFor(s, 'rust'), false); // not a boolean: ignored
});

test('item text is a string or a StringValue', () => {
  assert.equal(itemText('x'), 'x');
  assert.equal(itemText({ kind: 'snippet', value: 'y' }), 'y');
  assert.equal(itemText(3), undefined);
});
