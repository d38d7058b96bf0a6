import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  REDACTED,
  RedactingSink,
  Redactor,
  SecretEnv,
  serverEnvironment,
  TextSink,
  validateEnvName,
} from '../src/secrets';

class MemorySecrets {
  readonly data = new Map<string, string>();
  async get(key: string): Promise<string | undefined> {
    return this.data.get(key);
  }
  async store(key: string, value: string): Promise<void> {
    this.data.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
}

class MemoryState {
  readonly data = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.data.set(key, value);
  }
}

class Recorder implements TextSink {
  text = '';
  append(value: string): void {
    this.text += value;
  }
  appendLine(value: string): void {
    this.text += value + '\n';
  }
  replace(value: string): void {
    this.text = value;
  }
}

const KEY = 'sk-or-v1-0123456789abcdef0123456789abcdef';

test('env var names are validated; a pasted key is refused as a name', () => {
  assert.equal(validateEnvName('OPENROUTER_API_KEY'), undefined);
  assert.match(validateEnvName('')!, /Enter the name/);
  assert.match(validateEnvName(KEY)!, /letters, digits and _/);
  assert.match(validateEnvName('1ABC')!, /does not start with a digit/);
});

test('keys live in secret storage only; settings-like state holds just the names', async () => {
  const secrets = new MemorySecrets();
  const state = new MemoryState();
  const env = new SecretEnv(secrets, state);
  await env.set('OPENROUTER_API_KEY', `  ${KEY}  `);
  await env.set('ANTHROPIC_API_KEY', 'sk-ant-xyz-123456');
  assert.deepEqual(env.storedNames(), ['ANTHROPIC_API_KEY', 'OPENROUTER_API_KEY']);
  assert.ok(!JSON.stringify([...state.data.entries()]).includes(KEY), 'a key leaked into state');
  assert.deepEqual(await env.environment(), {
    ANTHROPIC_API_KEY: 'sk-ant-xyz-123456',
    OPENROUTER_API_KEY: KEY,
  });
  await env.delete('ANTHROPIC_API_KEY');
  assert.deepEqual(await env.environment(), { OPENROUTER_API_KEY: KEY });
  assert.equal(secrets.data.size, 1);
  await assert.rejects(env.set('bad name', 'x'), /letters, digits/);
  await assert.rejects(env.set('OK_NAME', 'two\nlines'), /one line/);
});

test('the server environment is the host environment plus the keys', () => {
  const env = serverEnvironment({ PATH: '/bin', HOME: '/h', GONE: undefined, OPENROUTER_API_KEY: 'old' }, { OPENROUTER_API_KEY: KEY });
  assert.deepEqual(env, { PATH: '/bin', HOME: '/h', OPENROUTER_API_KEY: KEY });
});

test('a key never appears in the output channel, even split across chunks', () => {
  const redactor = new Redactor();
  redactor.setSecrets([KEY, 'abc']);
  const out = new Recorder();
  const channel = new RedactingSink(out, redactor);
  channel.appendLine(`starting with key ${KEY}`);
  // The server's stderr arrives in arbitrary chunks: split the key in the middle.
  const stderr = `Traceback: Authorization: Bearer ${KEY}\nnext line\npartial ${KEY.slice(0, 10)}`;
  channel.append(stderr.slice(0, 40));
  channel.append(stderr.slice(40));
  channel.append(`${KEY.slice(10)} done\n`);
  channel.flush();
  assert.ok(!out.text.includes(KEY), out.text);
  assert.ok(!out.text.includes(KEY.slice(0, 20)), out.text);
  assert.equal(out.text.split(REDACTED).length - 1, 3, out.text);
  assert.ok(out.text.includes('next line'));
  // Short values are not treated as secrets (they would mask ordinary words).
  assert.ok(!out.text.includes(REDACTED + 'c'));
  channel.replace(`all new ${KEY}`);
  assert.equal(out.text, `all new ${REDACTED}`);
});

test('a key added later is redacted from then on; the longest key wins', () => {
  const redactor = new Redactor();
  redactor.addSecret('secret-key-1234');
  redactor.addSecret('secret-key-1234-and-more');
  assert.equal(redactor.redact('a secret-key-1234-and-more b secret-key-1234'), `a ${REDACTED} b ${REDACTED}`);
});
