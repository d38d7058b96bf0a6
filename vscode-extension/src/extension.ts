/**
 * Entry point: wires the server manager, commands, status bar and report documents.
 *
 * Following Microsoft's Python tools extension template, this side only launches the
 * Python language server (`tta-codegen serve`), forwards settings and keys, and
 * registers UI commands; code actions, lenses and every generation come from the server.
 */
import * as vscode from 'vscode';
import { Commands } from './commands';
import { ServerManager } from './manager';
import { onInterpreterChange } from './python';
import { Redactor, SecretEnv } from './secrets';
import { toClientSettings } from './settings';
import { ReportDocuments, SCHEME, StatusBar } from './views';

let manager: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const secrets = new SecretEnv(context.secrets, context.globalState);
  manager = new ServerManager(secrets, new Redactor());
  const status = new StatusBar();
  const reports = new ReportDocuments();
  const commands = new Commands(context, manager, secrets, status, reports);
  context.subscriptions.push(
    manager,
    status,
    reports,
    commands,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, reports),
    ...commands.register(),
    manager.onDidChangeRunning(() => void commands.refreshStatus()),
  );
  const server = manager;
  const interpreterWatch = await onInterpreterChange(() => {
    const client = toClientSettings((key) => vscode.workspace.getConfiguration('ttaCodegen').get(key));
    if (!client.serverPath && !client.python) {
      void server.restart();
    }
  });
  if (interpreterWatch) {
    context.subscriptions.push(interpreterWatch);
  }
  // Not awaited: activation (and so every command) must not wait for Python to start;
  // a command issued meanwhile waits for the same start inside `ServerManager.ready`.
  void manager.start().then(() => commands.refreshStatus());
}

export async function deactivate(): Promise<void> {
  await manager?.stop();
  manager = undefined;
}
