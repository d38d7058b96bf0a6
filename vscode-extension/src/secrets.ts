/**
 * API keys: where they live (SecretStorage, under one key per env var name), how they
 * reach the server (its process environment), and the guarantee that they never reach
 * a log.
 *
 * Pure: the store is an interface that `vscode.SecretStorage` satisfies, so the rules
 * are unit-tested with an in-memory map. Every line the extension or the language client
 * writes to the "TTA Codegen" output channel passes through a `Redactor` holding the
 * current key values.
 */

export interface SecretStore {
  get(key: string): Thenable<string | undefined> | Promise<string | undefined>;
  store(key: string, value: string): Thenable<void> | Promise<void>;
  delete(key: string): Thenable<void> | Promise<void>;
}

/** A small key-value store for the list of names (SecretStorage cannot enumerate). */
export interface NameStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void> | Promise<void>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NAMES_KEY = 'ttaCodegen.secretEnvNames';
const SECRET_PREFIX = 'ttaCodegen.env.';

/** Why a name cannot be an env var name, or undefined when it can. */
export function validateEnvName(name: string): string | undefined {
  const trimmed = name.trim();
  if (!trimmed) {
    return 'Enter the name of the environment variable, e.g. OPENROUTER_API_KEY.';
  }
  if (!ENV_NAME.test(trimmed)) {
    return 'An environment variable name has only letters, digits and _ and does not start with a digit (e.g. OPENROUTER_API_KEY). Paste the key itself in the next step.';
  }
  return undefined;
}

/** Why a value cannot be a key, or undefined when it can. */
export function validateKey(value: string): string | undefined {
  if (/[\r\n]/.test(value)) {
    return 'The key must be one line.';
  }
  return undefined;
}

export class SecretEnv {
  constructor(
    private readonly secrets: SecretStore,
    private readonly names: NameStore,
  ) {}

  /** Names that have a stored key. */
  storedNames(): string[] {
    const names = this.names.get<string[]>(NAMES_KEY);
    return Array.isArray(names) ? names.filter((n) => typeof n === 'string') : [];
  }

  async set(name: string, value: string): Promise<void> {
    const problem = validateEnvName(name) ?? validateKey(value);
    if (problem) {
      throw new Error(problem);
    }
    const envName = name.trim();
    await this.secrets.store(SECRET_PREFIX + envName, value.trim());
    const names = new Set(this.storedNames());
    names.add(envName);
    await this.names.update(NAMES_KEY, [...names].sort());
  }

  async delete(name: string): Promise<void> {
    const envName = name.trim();
    await this.secrets.delete(SECRET_PREFIX + envName);
    await this.names.update(
      NAMES_KEY,
      this.storedNames().filter((n) => n !== envName),
    );
  }

  /** `{NAME: key}` for every stored key, to merge into the server's environment. */
  async environment(): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const name of this.storedNames()) {
      const value = await this.secrets.get(SECRET_PREFIX + name);
      if (value) {
        env[name] = value;
      }
    }
    return env;
  }
}

/** The server's environment: the extension host's, with the stored keys on top. */
export function serverEnvironment(
  base: Record<string, string | undefined>,
  keys: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v !== undefined) {
      env[k] = v;
    }
  }
  return { ...env, ...keys };
}

export const REDACTED = '«redacted»';

/** Replaces every known secret value in text. Values shorter than 4 chars are ignored (too likely to collide with ordinary text, and not real keys). */
export class Redactor {
  private values: string[] = [];

  setSecrets(values: Iterable<string>): void {
    // Longest first, so a key that contains another is masked whole.
    this.values = [...new Set([...values].filter((v) => v.length >= 4))].sort(
      (a, b) => b.length - a.length,
    );
  }

  addSecret(value: string): void {
    this.setSecrets([...this.values, value]);
  }

  redact(text: string): string {
    let out = text;
    for (const value of this.values) {
      if (out.includes(value)) {
        out = out.split(value).join(REDACTED);
      }
    }
    return out;
  }
}

/** What the output channel needs from a sink (a subset of `vscode.OutputChannel`). */
export interface TextSink {
  append(value: string): void;
  appendLine(value: string): void;
  replace(value: string): void;
}

/**
 * Wraps a channel so all text passes through the redactor. `append` may receive a key
 * split across calls (the server's stderr arrives in chunks), so text is held back up
 * to the last newline and flushed whole lines at a time.
 */
export class RedactingSink implements TextSink {
  private pending = '';

  constructor(
    private readonly sink: TextSink,
    private readonly redactor: Redactor,
  ) {}

  append(value: string): void {
    this.pending += value;
    const cut = this.pending.lastIndexOf('\n');
    if (cut >= 0) {
      const ready = this.pending.slice(0, cut + 1);
      this.pending = this.pending.slice(cut + 1);
      this.sink.append(this.redactor.redact(ready));
    }
  }

  appendLine(value: string): void {
    const text = this.pending + value;
    this.pending = '';
    this.sink.appendLine(this.redactor.redact(text));
  }

  replace(value: string): void {
    this.pending = '';
    this.sink.replace(this.redactor.redact(value));
  }

  /** Writes any held-back partial line. */
  flush(): void {
    if (this.pending) {
      const text = this.pending;
      this.pending = '';
      this.sink.append(this.redactor.redact(text));
    }
  }
}
