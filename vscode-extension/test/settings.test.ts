import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  initializationOptions,
  providerKeyNames,
  SERVER_SECTIONS,
  toClientSettings,
  toServerSettings,
} from '../src/settings';

/** What `workspace.getConfiguration('ttaCodegen').get` answers: defaults for every contributed key. */
function getter(values: Record<string, unknown>): (key: string) => unknown {
  const defaults: Record<string, unknown> = {
    providers: {},
    models: [],
    routing: {},
    budget: {},
    gates: {},
    context: {},
    review: {},
    prompts: {},
    generation: {},
    'server.path': '',
    python: '',
    'trace.server': 'off',
    server: { path: '' },
    trace: { server: 'off' },
  };
  return (key) => (key in values ? values[key] : defaults[key]);
}

test('untouched settings send nothing, so tta-codegen.toml stays in charge', () => {
  assert.deepEqual(toServerSettings(getter({})), {});
});

test('set sections are forwarded with their TOML keys; client keys never are', () => {
  const providers = { fake: { kind: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key_env: 'FAKE_KEY' } };
  const models = [{ id: 'fake-a', provider: 'fake', input_cost_per_mtok: 0.5 }];
  const out = toServerSettings(
    getter({
      providers,
      models,
      routing: { default: 'fake-a', fallbacks: [] },
      budget: { daily_usd: 2 },
      review: { mode: 'lens' },
      'server.path': '/venv/bin/tta-codegen',
      python: '/usr/bin/python3',
    }),
  );
  assert.deepEqual(out, {
    providers,
    models,
    routing: { default: 'fake-a', fallbacks: [] },
    budget: { daily_usd: 2 },
    review: { mode: 'lens' },
  });
  for (const key of ['server', 'python', 'trace', 'server.path']) {
    assert.ok(!(key in out), key);
  }
});

test('the forwarded value is a plain copy without null members', () => {
  const routing = { default: 'a', tasks: { tests: { model: 'b', extra: null } } };
  const out = toServerSettings(getter({ routing }));
  assert.deepEqual(out.routing, { default: 'a', tasks: { tests: { model: 'b' } } });
  (out.routing as { default: string }).default = 'changed';
  assert.equal(routing.default, 'a');
});

test('every section of the contract is forwarded', () => {
  for (const section of ['providers', 'models', 'routing', 'budget', 'gates', 'context', 'review', 'prompts']) {
    assert.ok((SERVER_SECTIONS as readonly string[]).includes(section), section);
  }
});

test('client settings read server.path, python and trace', () => {
  assert.deepEqual(toClientSettings(getter({ 'server.path': '/x/tta-codegen', 'trace.server': 'verbose' })), {
    serverPath: '/x/tta-codegen',
    python: '',
    trace: 'verbose',
  });
  assert.equal(toClientSettings(getter({ 'trace.server': 'loud' })).trace, 'off');
});

test('providerKeyNames lists the env var names providers read', () => {
  assert.deepEqual(
    providerKeyNames({
      b: { kind: 'openai', api_key_env: 'OPENROUTER_API_KEY' },
      a: { kind: 'anthropic', api_key_env: 'ANTHROPIC_API_KEY' },
      local: { kind: 'ollama' },
      dup: { api_key_env: 'OPENROUTER_API_KEY' },
    }),
    ['ANTHROPIC_API_KEY', 'OPENROUTER_API_KEY'],
  );
  assert.deepEqual(providerKeyNames(undefined), []);
});

test('workspace trust travels beside the settings, not inside them', () => {
  const settings = { routing: { default: 'a' } };
  assert.deepEqual(initializationOptions(settings, false), {
    ttaCodegen: { routing: { default: 'a' } },
    workspaceTrusted: false,
  });
  assert.equal(initializationOptions(settings, true).workspaceTrusted, true);
});

test('restricted mode keeps the workspace from choosing executables, providers and gates', () => {
  // Compiled to out/tsc/test/: the manifest is three folders up.
  const manifest = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'),
  ) as { capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } } };
  const untrusted = manifest.capabilities.untrustedWorkspaces;
  assert.equal(untrusted.supported, 'limited');
  for (const key of ['ttaCodegen.server.path', 'ttaCodegen.python', 'ttaCodegen.providers', 'ttaCodegen.gates']) {
    assert.ok(untrusted.restrictedConfigurations.includes(key), key);
  }
});
