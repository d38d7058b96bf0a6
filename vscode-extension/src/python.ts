/**
 * The Python extension's active interpreter, when that extension is installed.
 *
 * Its API is read loosely (no dependency on `@vscode/python-extension`): newer versions
 * expose `environments`, older ones `settings.getExecutionDetails`. Any failure means
 * "no interpreter from there" and the launcher falls back to `python3`.
 */
import * as vscode from 'vscode';

interface PythonApi {
  settings?: {
    getExecutionDetails?(resource?: vscode.Uri): { execCommand?: string[] } | undefined;
  };
  environments?: {
    getActiveEnvironmentPath?(resource?: vscode.Uri): { path?: string } | undefined;
    resolveEnvironment?(env: unknown): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
}

const PYTHON_EXTENSION = 'ms-python.python';

async function api(): Promise<PythonApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonApi>(PYTHON_EXTENSION);
  if (!ext) {
    return undefined;
  }
  try {
    return ext.isActive ? ext.exports : await ext.activate();
  } catch {
    return undefined;
  }
}

export async function activeInterpreter(resource?: vscode.Uri): Promise<string[] | undefined> {
  const python = await api();
  if (!python) {
    return undefined;
  }
  try {
    const envPath = python.environments?.getActiveEnvironmentPath?.(resource);
    if (envPath?.path) {
      const env = await python.environments?.resolveEnvironment?.(envPath);
      const exe = env?.executable?.uri?.fsPath;
      return [exe ?? envPath.path];
    }
    const exec = python.settings?.getExecutionDetails?.(resource)?.execCommand;
    if (exec && exec.length > 0) {
      return exec;
    }
  } catch {
    // An API change or an environment that does not resolve: fall back to python3.
  }
  return undefined;
}

/** Calls `listener` when the user picks another interpreter in the Python extension. */
export async function onInterpreterChange(listener: () => void): Promise<vscode.Disposable | undefined> {
  const python = await api();
  const event = python?.environments?.onDidChangeActiveEnvironmentPath;
  return event ? event(() => listener()) : undefined;
}
