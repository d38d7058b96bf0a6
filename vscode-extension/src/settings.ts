/**
 * VS Code settings (section `ttaCodegen`) → the server's configuration (same keys as the
 * TOML files, JSON).
 *
 * Pure. Two things matter: the client-only keys (`server.path`, `python`, `trace`) never
 * reach the server, whose configuration rejects unknown keys; and untouched settings
 * (their `{}` / `[]` defaults) are left out, because a layer that sends `models: []`
 * would replace the models of the user's tta-codegen.toml (lists replace, tables merge).
 */

/** The sections forwarded, in the contract's TOML names. */
export const SERVER_SECTIONS = [
  'providers',
  'models',
  'routing',
  'budget',
  'gates',
  'context',
  'review',
  'prompts',
  'generation',
  'completion',
] as const;

/** Keys under `ttaCodegen` that configure the extension itself. */
export const CLIENT_KEYS = ['server', 'python', 'trace', 'inlineCompletion'] as const;

/** Settings whose change needs a new server process (a different executable). */
export const RESTART_KEYS = ['ttaCodegen.server.path', 'ttaCodegen.python'] as const;

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) {
    return true;
  }
  if (Array.isArray(value)) {
    return value.length === 0;
  }
  if (typeof value === 'object') {
    return Object.keys(value as object).length === 0;
  }
  return false;
}

/** Deep copy of plain JSON data, dropping `undefined`/`null` members inside tables. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(plain);
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined && v !== null && typeof v !== 'function') {
        out[k] = plain(v);
      }
    }
    return out;
  }
  return value;
}

/**
 * `get(section)` reads one setting (`vscode.workspace.getConfiguration('ttaCodegen').get`).
 * Returns only what the user set, ready for `workspace/configuration` and
 * `didChangeConfiguration`.
 */
export function toServerSettings(get: (section: string) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const section of SERVER_SECTIONS) {
    const value = get(section);
    if (!isEmpty(value)) {
      out[section] = plain(value);
    }
  }
  return out;
}

/** The client-only settings, read with the same getter. */
export interface ClientSettings {
  serverPath: string;
  python: string;
  trace: 'off' | 'messages' | 'verbose';
}

export function toClientSettings(get: (section: string) => unknown): ClientSettings {
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const trace = get('trace.server');
  return {
    serverPath: str(get('server.path')),
    python: str(get('python')),
    trace: trace === 'messages' || trace === 'verbose' ? trace : 'off',
  };
}

/** The notification that tells the server the user granted (or withdrew) workspace trust. */
export const TRUST_NOTIFICATION = 'tta/didChangeWorkspaceTrust';

/**
 * `initializationOptions`: the server's settings under `ttaCodegen`, and beside them VS Code's
 * Workspace Trust, which decides whether the workspace's own tta-codegen.toml may name where
 * keys go and which programs run (docs/security.md).
 */
export function initializationOptions(
  settings: Record<string, unknown>,
  trusted: boolean,
): Record<string, unknown> {
  return { ttaCodegen: settings, workspaceTrusted: trusted };
}

/** Env var names the configured providers read their keys from (for "Set API Key…"). */
export function providerKeyNames(providers: unknown): string[] {
  const names = new Set<string>();
  if (typeof providers === 'object' && providers !== null) {
    for (const p of Object.values(providers as Record<string, unknown>)) {
      if (typeof p === 'object' && p !== null) {
        const env = (p as Record<string, unknown>).api_key_env;
        if (typeof env === 'string' && env) {
          names.add(env);
        }
      }
    }
  }
  return [...names].sort();
}
