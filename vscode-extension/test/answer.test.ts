import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeAnswer, describeError } from '../src/answer';

test('completed generations are announced quietly with model, tokens and cost', () => {
  const n = describeAnswer('Generation', {
    status: 'completed',
    model: 'fake-a',
    usage: { prompt_tokens: 10, completion_tokens: 42 },
    cost_usd: 0.00123,
    gates: [{ name: 'syntax', passed: true }],
  });
  assert.deepEqual(n, { severity: 'info', message: 'Generation done (fake-a, 42 tokens, $0.0012).', quiet: true });
});

test('failed answers show the server reason and the models tried', () => {
  const n = describeAnswer('Generation', {
    status: 'failed',
    error: 'all models failed',
    attempts: [{ model: 'a', error: 'HTTP 401: bad key' }, { model: 'b', error: 'timeout' }],
  });
  assert.equal(n.severity, 'error');
  assert.equal(n.message, 'Generation failed: all models failed (tried a: HTTP 401: bad key; b: timeout)');
  assert.equal(describeAnswer('Refinement', { status: 'failed' }).message, 'Refinement failed: the server gave no reason');
});

test('cancelled answers and RequestCancelled errors both say the document was restored', () => {
  assert.deepEqual(describeAnswer('Generation', { status: 'cancelled' }), {
    severity: 'info',
    message: 'Generation cancelled; the document was restored.',
  });
  assert.equal(describeError('Generation', 'tta.generate', { code: -32800, message: 'Request cancelled' }).severity, 'info');
});

test('failed gates warn; review mode points at the lenses', () => {
  const w = describeAnswer('Generation', { status: 'completed', gates: [{ name: 'ruff', passed: false, message: 'F401' }] });
  assert.equal(w.severity, 'warning');
  assert.match(w.message, /checks failed: ruff: F401/);
  const r = describeAnswer('Generation', { status: 'completed', review: { id: 'r1' } });
  assert.match(r.message, /Accept \/ Discard/);
  assert.equal(r.quiet, true);
});

test('a command the server lacks is named, with what to do', () => {
  const n = describeError('Refinement', 'tta.refine', { code: -32601, message: 'Method not found' });
  assert.equal(n.severity, 'error');
  assert.match(n.message, /does not provide `tta.refine`/);
  assert.match(n.message, /Restart Server/);
  // What pygls answers for a command it does not know (InvalidParams, not MethodNotFound).
  const pygls = { code: -32602, message: "Command name 'tta.stats' is not defined" };
  assert.match(describeError('Usage', 'tta.stats', pygls).message, /not available/);
  assert.match(describeError('Usage', 'tta.stats', new Error("Command 'tta.stats' not found")).message, /not available/);
  assert.match(describeError('X', 'tta.generate', new Error('Client is not running')).message, /server is not running/);
  assert.equal(describeError('X', 'tta.generate', new Error('boom')).message, 'X failed: boom');
});

test('gates_failed and truncated answers say which, never "done"', () => {
  const g = describeAnswer('Generation', {
    status: 'gates_failed',
    model: 'fake-a',
    usage: { completion_tokens: 9, estimated: true },
    gates: [{ name: 'syntax', passed: false, message: 'line 1: invalid syntax' }],
    review: { id: 'r1' },
  });
  assert.equal(g.severity, 'warning');
  assert.equal(g.quiet, undefined);
  assert.match(g.message, /^Generation delivered, but gates failed \(fake-a, ~9 tokens\): syntax: line 1: invalid syntax\./);
  assert.match(g.message, /pending: Accept or Discard/);
  const t = describeAnswer('Refinement', { status: 'truncated', model: 'm' });
  assert.equal(t.severity, 'warning');
  assert.match(t.message, /cut off at the token limit/);
  assert.doesNotMatch(t.message, /done/);
});
