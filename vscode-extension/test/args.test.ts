import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executeParams, generateArgs, generateTestsArgs, parsePrompts, refineArgs } from '../src/args';

const uri = 'file:///ws/a.py';

test('generate maps editor state to the contract shape, omitting empty optionals', () => {
  const args = generateArgs({
    uri,
    position: { line: 3, character: 4 },
    description: 'a function is_prime(n)',
    template: '',
    variables: { route: '/x', purpose: '' },
    model: '  ',
  });
  assert.deepEqual(args, {
    textDocument: { uri },
    position: { line: 3, character: 4 },
    description: 'a function is_prime(n)',
    variables: { route: '/x' },
  });
});

test('generate carries template, variables and model when given', () => {
  const args = generateArgs({
    uri,
    position: { line: 0, character: 0 },
    description: '',
    template: 'api/fastapi-endpoint',
    variables: { method: 'GET' },
    model: 'code-a',
  });
  assert.equal(args.template, 'api/fastapi-endpoint');
  assert.deepEqual(args.variables, { method: 'GET' });
  assert.equal(args.model, 'code-a');
  assert.equal(args.description, '');
});

test('refine sends the range and a trimmed instruction; refuses an empty selection', () => {
  const range = { start: { line: 1, character: 0 }, end: { line: 4, character: 2 } };
  assert.deepEqual(refineArgs({ uri, range, instruction: '  add type hints \n', model: 'm' }), {
    textDocument: { uri },
    range,
    instruction: 'add type hints',
    model: 'm',
  });
  const empty = { start: { line: 2, character: 3 }, end: { line: 2, character: 3 } };
  assert.throws(() => refineArgs({ uri, range: empty, instruction: 'x' }), /Select the code/);
  assert.throws(() => refineArgs({ uri, range, instruction: '   ' }), /instruction is empty/);
});

test('generateTests sends a range only for a real selection', () => {
  const empty = { start: { line: 2, character: 3 }, end: { line: 2, character: 3 } };
  assert.deepEqual(generateTestsArgs({ uri, range: empty }), { textDocument: { uri } });
  const range = { start: { line: 0, character: 0 }, end: { line: 9, character: 0 } };
  assert.deepEqual(generateTestsArgs({ uri, range, model: 'b' }), { textDocument: { uri }, range, model: 'b' });
});

test('executeCommand params hold exactly one object argument and the progress token', () => {
  const arg = { textDocument: { uri } };
  assert.deepEqual(executeParams('tta.generateTests', arg), { command: 'tta.generateTests', arguments: [arg] });
  assert.deepEqual(executeParams('tta.listModels', {}, 'tok-1'), {
    command: 'tta.listModels',
    arguments: [{}],
    workDoneToken: 'tok-1',
  });
});

test('parsePrompts keeps valid templates and tolerates missing fields', () => {
  const prompts = parsePrompts([
    {
      id: 'api/fastapi-endpoint',
      title: 'FastAPI endpoint',
      category: 'api',
      variables: [
        { name: 'method', required: false, default: 'POST' },
        { name: 'route', required: true, example: '/a/{id}' },
        { nope: 1 },
      ],
    },
    { title: 'no id' },
    { id: 'bare' },
    'junk',
  ]);
  assert.equal(prompts.length, 2);
  assert.deepEqual(prompts[0]!.variables, [
    { name: 'method', required: false, default: 'POST' },
    { name: 'route', required: true, example: '/a/{id}' },
  ]);
  assert.deepEqual(prompts[1], { id: 'bare', title: 'bare', variables: [] });
  assert.deepEqual(parsePrompts({ error: 'x' }), []);
});
