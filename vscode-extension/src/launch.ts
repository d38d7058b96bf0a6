/**
 * How the tta-codegen language server is started: the command line, from settings.
 *
 * Pure (no `vscode` import) so the precedence rules are unit-tested. Precedence, as in
 * Microsoft's Python tools extension template: an explicit executable
 * (`ttaCodegen.server.path`), then an explicit interpreter (`ttaCodegen.python`), then
 * the Python extension's active interpreter, then `python3` on PATH.
 */

export interface LaunchSettings {
  /** `ttaCodegen.server.path`: the `tta-codegen` executable. */
  serverPath?: string;
  /** `ttaCodegen.python`: an interpreter with tta-codegen installed. */
  python?: string;
}

export interface LaunchContext {
  /** The Python extension's active interpreter as a command (may carry arguments, e.g. conda run). */
  activeInterpreter?: readonly string[];
  workspaceFolder?: string;
  home?: string;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** Which setting chose it, for messages ("set ttaCodegen.server.path …"). */
  source: 'server.path' | 'python' | 'python extension' | 'default';
}

export const SERVE_ARGS: readonly string[] = ['serve'];
export const MODULE_ARGS: readonly string[] = ['-m', 'tta_codegen', 'serve'];

/** Expands `~` and `${workspaceFolder}` (and `${userHome}`) the way VS Code users expect. */
export function expandPath(value: string, ctx: LaunchContext): string {
  let out = value.trim();
  if (ctx.workspaceFolder !== undefined) {
    out = out.split('${workspaceFolder}').join(ctx.workspaceFolder);
  }
  if (ctx.home !== undefined) {
    out = out.split('${userHome}').join(ctx.home);
    if (out === '~' || out.startsWith('~/')) {
      out = ctx.home + out.slice(1);
    }
  }
  return out;
}

export function resolveServerCommand(settings: LaunchSettings, ctx: LaunchContext = {}): ServerCommand {
  const serverPath = expandPath(settings.serverPath ?? '', ctx);
  if (serverPath) {
    return { command: serverPath, args: [...SERVE_ARGS], source: 'server.path' };
  }
  const python = expandPath(settings.python ?? '', ctx);
  if (python) {
    return { command: python, args: [...MODULE_ARGS], source: 'python' };
  }
  const active = (ctx.activeInterpreter ?? []).filter((part) => part.length > 0);
  if (active.length > 0) {
    return {
      command: active[0]!,
      args: [...active.slice(1), ...MODULE_ARGS],
      source: 'python extension',
    };
  }
  return { command: 'python3', args: [...MODULE_ARGS], source: 'default' };
}

/** The command line as one string, for the output channel. */
export function describeCommand(cmd: ServerCommand): string {
  const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : JSON.stringify(s));
  return [cmd.command, ...cmd.args].map(quote).join(' ');
}
