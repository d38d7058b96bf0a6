import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartPolicy } from '../src/backoff';
import { describeCommand, resolveServerCommand } from '../src/launch';

test('server.path wins and runs `serve`', () => {
  assert.deepEqual(resolveServerCommand({ serverPath: '/v/bin/tta-codegen', python: '/usr/bin/python3' }, { activeInterpreter: ['/p'] }), {
    command: '/v/bin/tta-codegen',
    args: ['serve'],
    source: 'server.path',
  });
});

test('then ttaCodegen.python, then the Python extension, then python3', () => {
  assert.deepEqual(resolveServerCommand({ python: ' /opt/py/bin/python ' }, { activeInterpreter: ['/p'] }), {
    command: '/opt/py/bin/python',
    args: ['-m', 'tta_codegen', 'serve'],
    source: 'python',
  });
  assert.deepEqual(resolveServerCommand({}, { activeInterpreter: ['conda', 'run', '-n', 'x', 'python'] }), {
    command: 'conda',
    args: ['run', '-n', 'x', 'python', '-m', 'tta_codegen', 'serve'],
    source: 'python extension',
  });
  assert.deepEqual(resolveServerCommand({ serverPath: '', python: '' }), {
    command: 'python3',
    args: ['-m', 'tta_codegen', 'serve'],
    source: 'default',
  });
});

test('~ and ${workspaceFolder} are expanded', () => {
  const ctx = { home: '/home/u', workspaceFolder: '/ws' };
  assert.equal(resolveServerCommand({ serverPath: '~/.venv/bin/tta-codegen' }, ctx).command, '/home/u/.venv/bin/tta-codegen');
  assert.equal(resolveServerCommand({ python: '${workspaceFolder}/.venv/bin/python' }, ctx).command, '/ws/.venv/bin/python');
  assert.equal(describeCommand({ command: '/a b/py', args: ['-m', 'tta_codegen'], source: 'python' }), '"/a b/py" -m tta_codegen');
});

test('restarts back off exponentially, cap, give up, and recover after a healthy run', () => {
  const p = new RestartPolicy(1000, 8000, 5, 60_000);
  let t = 0;
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    p.started(t);
    t += 100; // crashes right after starting
    const d = p.crashed(t);
    assert.ok(d.restart);
    delays.push(d.delayMs);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
  p.started(t);
  assert.equal(p.crashed(t + 10).restart, false);
  // A deliberate restart forgets; a server that ran a healthy minute starts the count over.
  p.reset();
  p.started(0);
  assert.equal(p.crashed(10).delayMs, 1000);
  p.started(20);
  assert.equal(p.crashed(20 + 60_000).delayMs, 1000);
});
